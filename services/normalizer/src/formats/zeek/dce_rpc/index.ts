import { zeekLogFormat } from '../format.ts';
import { dceRpcSpec } from './decode.ts';

/** Zeek `dce_rpc.log` as JSON (any shape) or TSV: see README.md. */
export const zeekDceRpcFormat = zeekLogFormat(dceRpcSpec);

export { dceRpcSpec } from './decode.ts';
