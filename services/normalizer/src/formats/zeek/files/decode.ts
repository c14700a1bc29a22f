import { hasAll, hasAny, type ZeekLogSpec } from '../format.ts';
import { optCount, optDurationMs, optString } from '../fields.ts';

const HASHES = ['md5', 'sha1', 'sha256'] as const;

/**
 * Zeek `files.log` → `network_file_activity` with the `file` record (hashes by algorithm). Before
 * Zeek 5.1 the log has no connection fields (`tx_hosts`/`rx_hosts` stay in attributes).
 */
export const filesSpec: ZeekLogSpec = {
  log: 'files',
  eventClass: 'network_file_activity',
  protocol: '',
  mapped: ['filename', 'total_bytes', 'mime_type', 'duration', ...HASHES],
  sniffJson: (rec) =>
    hasAll(rec, 'fuid') && hasAny(rec, 'seen_bytes', 'total_bytes', 'analyzers', 'tx_hosts', 'depth') && !hasAny(rec, 'note', 'action', 'method') ? 0.9 : 0,
  map(rec, event) {
    const hashes: Record<string, string> = {};
    for (const algorithm of HASHES) {
      const value = optString(rec, algorithm);
      if (value !== null && value !== '') hashes[algorithm] = value.toLowerCase();
    }
    event.duration_ms = optDurationMs(rec, 'duration') ?? 0;
    event.file = {
      action: 'transferred',
      path: null,
      name: optString(rec, 'filename'),
      size: optCount(rec, 'total_bytes') ?? optCount(rec, 'seen_bytes'),
      mime_type: optString(rec, 'mime_type'),
      hashes,
    };
  },
};
