import { zeekLogFormat } from '../format.ts';
import { sslSpec } from './decode.ts';

/** Zeek `ssl.log` as JSON (any shape) or TSV: see README.md. */
export const zeekSslFormat = zeekLogFormat(sslSpec);

export { sslSpec } from './decode.ts';
