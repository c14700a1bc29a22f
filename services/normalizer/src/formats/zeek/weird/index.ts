import { zeekLogFormat } from '../format.ts';
import { weirdSpec } from './decode.ts';

/** Zeek `weird.log` as JSON (any shape) or TSV: see README.md. */
export const zeekWeirdFormat = zeekLogFormat(weirdSpec);

export { weirdSpec } from './decode.ts';
