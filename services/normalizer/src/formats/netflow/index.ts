import type { SensorFormat } from '../types.ts';
import { decodeNetflowFlow, NETFLOW_FLOW_FORMAT_ID, sniffNetflowFlow } from './flow/decode.ts';

/** NetFlow v5/v9/IPFIX flow records as the ingest collector writes them (JSON lines). */
export const netflowFlowFormat: SensorFormat = {
  id: NETFLOW_FLOW_FORMAT_ID,
  topics: ['telemetry.raw.netflow.flow'],
  maxRecordBytes: 4 * 1024 * 1024,
  decode: decodeNetflowFlow,
  sniff: sniffNetflowFlow,
};

export { decodeNetflowFlow, flowToEvent, sniffNetflowFlow, NETFLOW_FLOW_FORMAT_ID } from './flow/decode.ts';
