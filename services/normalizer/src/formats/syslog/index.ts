import type { SensorFormat } from '../types.ts';
import { decodeSyslog, SYSLOG_FORMAT_ID } from './decode.ts';

/** Syslog messages (RFC 5424 and RFC 3164), with sshd/PAM/sudo authentication and CEF inside. */
export const syslogFormat: SensorFormat = {
  id: SYSLOG_FORMAT_ID,
  topics: ['telemetry.raw.syslog.line'],
  maxRecordBytes: 1024 * 1024,
  decode: decodeSyslog,
  sniff: (head) => {
    const lines = head.split('\n', 20).filter((l) => l.trim() !== '');
    if (lines.length === 0) return 0;
    const withPri = lines.filter((l) => /^<\d{1,3}>(1 \S+ |[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT)/.test(l)).length;
    const bsd = lines.filter((l) => /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ /.test(l)).length;
    if (withPri === lines.length) return 0.9;
    if (withPri + bsd === lines.length) return 0.7;
    return withPri + bsd > 0 ? 0.3 : 0;
  },
};

export { decodeSyslog, syslogLineToEvent, syslogToEvent, SYSLOG_FORMAT_ID, SYSLOG_LIMITS } from './decode.ts';
export { parseAuthMessage, type AuthFinding } from './auth.ts';
export { FACILITIES, parseRfc3339, parseSyslog, SEVERITY_NAMES, SyslogSyntaxError, type StructuredElement, type SyslogMessage } from './parse.ts';
