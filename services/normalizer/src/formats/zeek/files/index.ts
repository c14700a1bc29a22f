import { zeekLogFormat } from '../format.ts';
import { filesSpec } from './decode.ts';

/** Zeek `files.log` as JSON (any shape) or TSV: see README.md. */
export const zeekFilesFormat = zeekLogFormat(filesSpec);

export { filesSpec } from './decode.ts';
