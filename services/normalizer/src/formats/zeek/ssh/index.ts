import { zeekLogFormat } from '../format.ts';
import { sshSpec } from './decode.ts';

/** Zeek `ssh.log` as JSON (any shape) or TSV: see README.md. */
export const zeekSshFormat = zeekLogFormat(sshSpec);

export { sshSpec } from './decode.ts';
