import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optString } from '../fields.ts';
import { emptySmb } from '../records.ts';

/** Zeek `smb_files.log` → `smb_activity`. */
export const smbFilesSpec: ZeekLogSpec = {
  log: 'smb_files',
  eventClass: 'smb_activity',
  protocol: 'tcp',
  mapped: ['action', 'path', 'name'],
  times: ['times.modified', 'times.accessed', 'times.created', 'times.changed'],
  sniffJson: (rec) => {
    const action = rec['action'];
    if (typeof action === 'string' && action.startsWith('SMB::')) return 0.95;
    return hasAll(rec, 'action', 'name') && hasAny(rec, 'times.modified', 'prev_name', 'fuid') ? 0.8 : 0;
  },
  map(rec, event) {
    event.smb = { ...emptySmb(), action: optString(rec, 'action'), path: optString(rec, 'path'), name: optString(rec, 'name') };
  },
};
