import type { SensorFormat } from '../types.ts';
import { firstJsonEntry, hasAll, hasAny } from '../zeek/format.ts';
import { sniffZeekTsv } from '../zeek/tsv.ts';
import { CONN_PATHS, decodeZeekConn, ZEEK_CONN_FORMAT_ID } from './decode.ts';
import { fusedAddresses, fuseZeekConn, writeFusedAttributes } from './fast.ts';

/** Content sniffing: a TSV `#path`/JSON `_path` of conn, else conn's own keys in the first entry. */
export function sniffZeekConn(head: string): number {
  const path = sniffZeekTsv(head);
  if (path !== null) return path === 'conn' ? 1 : CONN_PATHS.has(path) ? 0.9 : 0;
  const rec = firstJsonEntry(head);
  if (rec === null || rec['ts'] === undefined) return 0;
  const jsonPath = rec['_path'];
  if (typeof jsonPath === 'string') return jsonPath === 'conn' ? 1 : CONN_PATHS.has(jsonPath) ? 0.9 : 0;
  return hasAll(rec, 'proto', 'id.orig_h') &&
    hasAny(rec, 'conn_state', 'history', 'orig_bytes', 'orig_pkts', 'duration') &&
    !hasAny(rec, 'query', 'note', 'trans_id', 'fuid')
    ? 0.85
    : 0;
}

/** Zeek `conn.log` as JSON (dotted, underscored or nested `id` fields; epoch or ISO `ts`) or TSV. */
export const zeekConnFormat: SensorFormat = {
  id: ZEEK_CONN_FORMAT_ID,
  topics: ['telemetry.raw.zeek.conn'],
  maxRecordBytes: 1024 * 1024,
  decode: decodeZeekConn,
  sniff: sniffZeekConn,
  // One-line JSON records (what shippers and ingest write) skip JSON.parse and the attributes object.
  fused: { decode: fuseZeekConn, writeAttributes: writeFusedAttributes, addresses: fusedAddresses },
};

export { decodeZeekConn, connToEvent, CONN_PATHS, ZEEK_CONN_FORMAT_ID } from './decode.ts';
