import { hasAny, type ZeekLogSpec } from '../format.ts';
import { optBool, optCount, optString } from '../fields.ts';
import { MAX_INT } from '../../event-limits.ts';

/** Zeek `ssh.log` (with or without the HASSH package) → `ssh_activity`. */
export const sshSpec: ZeekLogSpec = {
  log: 'ssh',
  eventClass: 'ssh_activity',
  protocol: 'tcp',
  mapped: ['client', 'server', 'auth_success', 'auth_attempts', 'hassh', 'hasshServer', 'hassh_server', 'direction'],
  sniffJson: (rec) =>
    hasAny(rec, 'client', 'server') &&
    hasAny(rec, 'auth_attempts', 'auth_success', 'kex_alg', 'host_key', 'cipher_alg', 'direction', 'hassh') &&
    !hasAny(rec, 'request_type')
      ? 0.9
      : 0,
  map(rec, event) {
    const attempts = optCount(rec, 'auth_attempts', MAX_INT);
    event.ssh = {
      client: optString(rec, 'client'),
      server: optString(rec, 'server'),
      auth_success: optBool(rec, 'auth_success'),
      auth_attempts: attempts,
      hassh: optString(rec, 'hassh'),
      hassh_server: optString(rec, 'hasshServer') ?? optString(rec, 'hassh_server'),
      direction: optString(rec, 'direction'),
    };
  },
};
