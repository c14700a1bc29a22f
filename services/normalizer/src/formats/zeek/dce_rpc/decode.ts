import { hasAll, type ZeekLogSpec } from '../format.ts';
import { optString } from '../fields.ts';
import { emptySmb } from '../records.ts';

/** Zeek `dce_rpc.log` → `smb_activity` (the action is the RPC operation). */
export const dceRpcSpec: ZeekLogSpec = {
  log: 'dce_rpc',
  eventClass: 'smb_activity',
  protocol: 'tcp',
  mapped: ['endpoint', 'operation', 'named_pipe'],
  sniffJson: (rec) => (hasAll(rec, 'endpoint', 'operation') ? 0.9 : 0),
  map(rec, event) {
    const operation = optString(rec, 'operation');
    event.smb = {
      ...emptySmb(),
      action: operation,
      rpc_endpoint: optString(rec, 'endpoint'),
      rpc_operation: operation,
      named_pipe: optString(rec, 'named_pipe'),
    };
  },
};
