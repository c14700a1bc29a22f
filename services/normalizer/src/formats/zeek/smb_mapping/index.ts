import { zeekLogFormat } from '../format.ts';
import { smbMappingSpec } from './decode.ts';

/** Zeek `smb_mapping.log` as JSON (any shape) or TSV: see README.md. */
export const zeekSmbMappingFormat = zeekLogFormat(smbMappingSpec);

export { smbMappingSpec } from './decode.ts';
