import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optBool, optString } from '../fields.ts';
import { authResult, emptyAuth, principal } from '../records.ts';

/** Zeek `kerberos.log` → `authentication` (protocol `kerberos`). */
export const kerberosSpec: ZeekLogSpec = {
  log: 'kerberos',
  eventClass: 'authentication',
  // Kerberos runs over UDP and TCP and the log does not say which.
  protocol: '',
  mapped: ['client', 'service', 'success', 'error_msg', 'request_type'],
  times: ['from', 'till'],
  sniffJson: (rec) => (hasAll(rec, 'request_type') && hasAny(rec, 'client', 'service', 'cipher', 'till') ? 0.95 : 0),
  map(rec, event) {
    // `client` is `name/realm` (either part may be empty).
    const client = optString(rec, 'client');
    let user: string | null = client;
    let domain: string | null = null;
    if (client !== null) {
      const slash = client.lastIndexOf('/');
      if (slash !== -1) {
        user = client.slice(0, slash) || null;
        domain = client.slice(slash + 1) || null;
      }
    }
    const success = optBool(rec, 'success');
    event.user = principal(user, domain, 'realm');
    event.auth = {
      ...emptyAuth(),
      user,
      domain,
      result: authResult(success),
      protocol: 'kerberos',
      logon_type: optString(rec, 'request_type'),
      service: optString(rec, 'service'),
      failure_reason: optString(rec, 'error_msg'),
    };
  },
};
