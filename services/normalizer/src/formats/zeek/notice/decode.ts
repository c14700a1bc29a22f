import type { AlertInfo } from '@mamori/events';
import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optAddress, optPort, optString } from '../fields.ts';

/** An alert record with only the signature and category set. */
export function zeekAlert(signature: string | null, category: string): AlertInfo {
  return { signature, signature_id: null, rev: null, gid: null, category, severity: null, action: null };
}

/**
 * Zeek `notice.log` → `detection_finding`: `note` is the signature, category `zeek.notice`. A notice
 * without a connection uses `src`, `dst` and `p` for the addresses and the responder port.
 */
export const noticeSpec: ZeekLogSpec = {
  log: 'notice',
  eventClass: 'detection_finding',
  protocol: '',
  mapped: ['note', 'src', 'dst', 'p'],
  sniffJson: (rec) => (hasAll(rec, 'note') && hasAny(rec, 'msg', 'actions', 'sub', 'src') ? 0.95 : 0),
  map(rec, event) {
    const src = optAddress(rec, 'src');
    const dst = optAddress(rec, 'dst');
    const p = optPort(rec, 'p');
    if (event.src_ip === '' && src !== null) event.src_ip = src;
    if (event.dst_ip === '' && dst !== null) event.dst_ip = dst;
    if (rec['id.resp_p'] === undefined && p !== null) event.dst_port = p;
    event.alert = zeekAlert(optString(rec, 'note'), 'zeek.notice');
  },
};
