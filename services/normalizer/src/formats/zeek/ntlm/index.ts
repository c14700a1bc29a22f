import { zeekLogFormat } from '../format.ts';
import { ntlmSpec } from './decode.ts';

/** Zeek `ntlm.log` as JSON (any shape) or TSV: see README.md. */
export const zeekNtlmFormat = zeekLogFormat(ntlmSpec);

export { ntlmSpec } from './decode.ts';
