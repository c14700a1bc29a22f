import type { SensorFormat } from '../types.ts';
import { decodeSuricataEve, sniffSuricataEve, SURICATA_EVE_FORMAT_ID } from './decode.ts';

/** Suricata EVE JSON (every `event_type`; DNS v1, v2 and v3 layouts); `stats` lines are skipped. */
export const suricataEveFormat: SensorFormat = {
  id: SURICATA_EVE_FORMAT_ID,
  topics: ['telemetry.raw.suricata.eve'],
  maxRecordBytes: 1024 * 1024,
  decode: decodeSuricataEve,
  sniff: sniffSuricataEve,
};

export { decodeSuricataEve, eveToEvent, parseSuricataTime, sniffSuricataEve, EVENT_TYPES, SKIPPED_EVENT_TYPES, SURICATA_EVE_FORMAT_ID } from './decode.ts';
