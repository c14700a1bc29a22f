import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optString } from '../fields.ts';
import { emptySmb } from '../records.ts';

/** Zeek `smb_mapping.log` (tree connects) → `smb_activity` with action `tree_connect`. */
export const smbMappingSpec: ZeekLogSpec = {
  log: 'smb_mapping',
  eventClass: 'smb_activity',
  protocol: 'tcp',
  mapped: ['path', 'service', 'share_type'],
  sniffJson: (rec) => (hasAll(rec, 'path') && hasAny(rec, 'share_type', 'native_file_system') && !hasAny(rec, 'action') ? 0.9 : 0),
  map(rec, event) {
    event.smb = {
      ...emptySmb(),
      action: 'tree_connect',
      path: optString(rec, 'path'),
      service: optString(rec, 'service'),
      share_type: optString(rec, 'share_type'),
    };
  },
};
