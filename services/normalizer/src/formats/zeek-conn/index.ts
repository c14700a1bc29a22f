import type { SensorFormat } from '../types.ts';
import { decodeZeekConn, ZEEK_CONN_FORMAT_ID } from './decode.ts';

/** Zeek `conn.log` as JSON (dotted, underscored or nested `id` fields; epoch or ISO `ts`). */
export const zeekConnFormat: SensorFormat = {
  id: ZEEK_CONN_FORMAT_ID,
  topics: ['telemetry.raw.zeek.conn'],
  maxRecordBytes: 1024 * 1024,
  decode: decodeZeekConn,
};

export { decodeZeekConn, connToEvent, ZEEK_CONN_FORMAT_ID } from './decode.ts';
