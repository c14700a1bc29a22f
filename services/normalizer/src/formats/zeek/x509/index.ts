import { zeekLogFormat } from '../format.ts';
import { x509Spec } from './decode.ts';

/** Zeek `x509.log` as JSON (any shape) or TSV: see README.md. */
export const zeekX509Format = zeekLogFormat(x509Spec);

export { x509Spec } from './decode.ts';
