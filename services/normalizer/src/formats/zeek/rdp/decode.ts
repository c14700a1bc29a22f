import { hasAny, type ZeekLogSpec } from '../format.ts';
import { optString } from '../fields.ts';

/**
 * Zeek `rdp.log` → `rdp_activity`. The schema has no RDP record: the cookie (the `mstshash` user
 * name the client offered) becomes `user`; everything else stays in `attributes`.
 */
export const rdpSpec: ZeekLogSpec = {
  log: 'rdp',
  eventClass: 'rdp_activity',
  protocol: 'tcp',
  mapped: ['cookie'],
  sniffJson: (rec) => (hasAny(rec, 'security_protocol', 'keyboard_layout', 'client_build', 'cert_count') ? 0.9 : 0),
  map(rec, event) {
    const cookie = optString(rec, 'cookie');
    event.user = cookie === '' ? null : cookie;
  },
};
