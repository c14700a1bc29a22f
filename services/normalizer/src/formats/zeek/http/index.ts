import { zeekLogFormat } from '../format.ts';
import { httpSpec } from './decode.ts';

/** Zeek `http.log` as JSON (any shape) or TSV: see README.md. */
export const zeekHttpFormat = zeekLogFormat(httpSpec);

export { httpSpec } from './decode.ts';
