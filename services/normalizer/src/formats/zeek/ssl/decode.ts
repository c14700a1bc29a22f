import { hasAny, type ZeekLogSpec } from '../format.ts';
import { optBool, optString } from '../fields.ts';
import { emptyTls } from '../records.ts';

/** Zeek `ssl.log` → `tls_activity`. */
export const sslSpec: ZeekLogSpec = {
  log: 'ssl',
  aliases: ['open_ssl'],
  eventClass: 'tls_activity',
  protocol: 'tcp',
  mapped: ['version', 'cipher', 'server_name', 'ja3', 'ja3s', 'established', 'subject', 'issuer'],
  sniffJson: (rec) =>
    hasAny(rec, 'established', 'resumed', 'ssl_history', 'cert_chain_fuids', 'cert_chain_fps') &&
    hasAny(rec, 'version', 'cipher', 'server_name', 'established') &&
    !hasAny(rec, 'cipher_alg', 'request_type')
      ? 0.9
      : 0,
  map(rec, event) {
    event.tls = {
      ...emptyTls(),
      version: optString(rec, 'version'),
      cipher: optString(rec, 'cipher'),
      sni: optString(rec, 'server_name'),
      ja3: optString(rec, 'ja3'),
      ja3s: optString(rec, 'ja3s'),
      established: optBool(rec, 'established'),
      // Zeek before 4.2 logged the server certificate's subject and issuer in ssl.log.
      subject: optString(rec, 'subject'),
      issuer: optString(rec, 'issuer'),
    };
  },
};
