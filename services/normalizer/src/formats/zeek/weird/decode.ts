import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optString } from '../fields.ts';
import { zeekAlert } from '../notice/decode.ts';

/** Zeek `weird.log` → `detection_finding`: `name` is the signature, category `zeek.weird`. */
export const weirdSpec: ZeekLogSpec = {
  log: 'weird',
  eventClass: 'detection_finding',
  protocol: '',
  mapped: ['name'],
  sniffJson: (rec) => (hasAll(rec, 'name') && hasAny(rec, 'addl', 'peer', 'notice', 'source') && !hasAny(rec, 'note', 'action', 'fuid') ? 0.85 : 0),
  map(rec, event) {
    event.alert = zeekAlert(optString(rec, 'name'), 'zeek.weird');
  },
};
