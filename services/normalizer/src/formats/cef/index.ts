import type { SensorFormat } from '../types.ts';
import { CEF_FORMAT_ID, decodeCef } from './decode.ts';

/** ArcSight Common Event Format lines (firewalls, IDS, proxies, SIEM forwarders). */
export const cefFormat: SensorFormat = {
  id: CEF_FORMAT_ID,
  topics: ['telemetry.raw.cef.line'],
  maxRecordBytes: 1024 * 1024,
  decode: decodeCef,
  sniff: (head) => {
    const lines = head.split('\n', 20).filter((l) => l.trim() !== '');
    if (lines.length === 0) return 0;
    const cef = lines.filter((l) => /^CEF:\d+\|/.test(l)).length;
    // Lines relayed through syslog also carry CEF, but the syslog format claims those.
    return cef === lines.length ? 0.95 : cef > 0 ? 0.5 : 0;
  },
};

export { CEF_FORMAT_ID, cefLineToEvent, cefSeverity, cefToEvent, decodeCef, isTrafficLog, type CefEnvelope } from './decode.ts';
export { CefSyntaxError, parseCef, parseExtension, type CefRecord } from './parse.ts';
