import { zeekLogFormat } from '../format.ts';
import { dnsSpec } from './decode.ts';

/** Zeek `dns.log` as JSON (any shape) or TSV: see README.md. */
export const zeekDnsFormat = zeekLogFormat(dnsSpec);

export { dnsSpec } from './decode.ts';
