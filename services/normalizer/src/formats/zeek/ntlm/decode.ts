import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optBool, optString } from '../fields.ts';
import { authResult, emptyAuth, principal } from '../records.ts';

/** Zeek `ntlm.log` → `authentication` (protocol `ntlm`). */
export const ntlmSpec: ZeekLogSpec = {
  log: 'ntlm',
  eventClass: 'authentication',
  protocol: 'tcp',
  mapped: ['username', 'domainname', 'hostname', 'success', 'status'],
  sniffJson: (rec) =>
    hasAny(rec, 'server_nb_computer_name', 'server_dns_computer_name', 'server_tree_name') || hasAll(rec, 'username', 'hostname', 'domainname')
      ? 0.9
      : 0,
  map(rec, event) {
    const user = optString(rec, 'username') || null;
    const domain = optString(rec, 'domainname') || null;
    // Zeek before 2.6 logged `status` (an NT status name) instead of `success`.
    const status = optString(rec, 'status');
    const success = optBool(rec, 'success') ?? (status === null ? null : status === 'SUCCESS');
    event.user = principal(user, domain, 'windows');
    event.auth = {
      ...emptyAuth(),
      user,
      domain,
      result: authResult(success),
      protocol: 'ntlm',
      workstation: optString(rec, 'hostname') || null,
      failure_reason: success === false ? status : null,
    };
  },
};
