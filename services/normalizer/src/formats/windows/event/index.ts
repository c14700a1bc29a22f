import type { SensorFormat } from '../../types.ts';
import { decodeWindowsEvent, sniffWindowsEvent, WINDOWS_EVENT_FORMAT_ID } from './decode.ts';

/** Windows Security, Sysmon and PowerShell events (and any other channel) as JSON: OTRF/NXLog flat or Winlogbeat. */
export const windowsEventFormat: SensorFormat = {
  id: WINDOWS_EVENT_FORMAT_ID,
  topics: ['telemetry.raw.windows.event'],
  maxRecordBytes: 4 * 1024 * 1024,
  decode: decodeWindowsEvent,
  sniff: sniffWindowsEvent,
};

export {
  decodeWindowsEvent,
  domainUser,
  parseHashes,
  parseQueryResults,
  sniffWindowsEvent,
  windowsToEvent,
  GENERIC_CLASS,
  MAX_ATTRIBUTE_CHARS,
  MAX_DATA_ATTRIBUTES,
  SCRIPT_TEXT_MAX_CHARS,
  WINDOWS_EVENT_FORMAT_ID,
} from './decode.ts';
export { parseWindowsTime, toView, ECS_FALLBACKS, type WindowsView } from './view.ts';
