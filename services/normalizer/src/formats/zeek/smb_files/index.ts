import { zeekLogFormat } from '../format.ts';
import { smbFilesSpec } from './decode.ts';

/** Zeek `smb_files.log` as JSON (any shape) or TSV: see README.md. */
export const zeekSmbFilesFormat = zeekLogFormat(smbFilesSpec);

export { smbFilesSpec } from './decode.ts';
