import { zeekLogFormat } from '../format.ts';
import { kerberosSpec } from './decode.ts';

/** Zeek `kerberos.log` as JSON (any shape) or TSV: see README.md. */
export const zeekKerberosFormat = zeekLogFormat(kerberosSpec);

export { kerberosSpec } from './decode.ts';
