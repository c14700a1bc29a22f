import { zeekLogFormat } from '../format.ts';
import { rdpSpec } from './decode.ts';

/** Zeek `rdp.log` as JSON (any shape) or TSV: see README.md. */
export const zeekRdpFormat = zeekLogFormat(rdpSpec);

export { rdpSpec } from './decode.ts';
