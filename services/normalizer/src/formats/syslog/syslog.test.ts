import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EventCodec, withEventDefaults } from '@mamori/events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../normalize.ts';
import type { DecodeContext } from '../types.ts';
import { FACILITIES, parseSyslog, SEVERITY_NAMES, syslogFormat } from './index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const WRCCDC = fileURLToPath(new URL('../../../../../../shared/data/zeek/wrccdc-2018/zeek-json/syslog.json.gz', import.meta.url));

const ctx: DecodeContext = {
  topic: 'telemetry.raw.syslog.line',
  partition: 0,
  offset: 4242,
  sensorId: 'syslog:192.0.2.1',
  orgId: 'org-test',
  // Ingested a few seconds into the new year, so Dec lines belong to the year before.
  ingestTime: Date.UTC(2025, 0, 1, 0, 0, 5),
};

describe('syslog golden fixtures', () => {
  const inputs = readdirSync(FIXTURES).filter((f) => f.endsWith('.input'));
  it('has fixtures', () => expect(inputs.length).toBeGreaterThanOrEqual(5));

  for (const input of inputs) {
    it(input, () => {
      const result = syslogFormat.decode(readFileSync(join(FIXTURES, input)), ctx);
      const actual = { events: result.events, errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })) };
      const expectedPath = join(FIXTURES, input.replace(/\.input$/, '.expected.json'));
      // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }

  it('produces events the Avro codec accepts', () => {
    const codec = new EventCodec();
    for (const input of inputs) {
      for (const event of syslogFormat.decode(readFileSync(join(FIXTURES, input)), ctx).events) {
        expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
      }
    }
  });
});

describe('syslog year inference (RFC 3164 has no year)', () => {
  const at = (iso: string, line: string): string => new Date(parseSyslog(line, Date.parse(iso)).time!).toISOString();
  it('puts a December line read in January into the year before', () => {
    expect(at('2025-01-01T00:00:05Z', '<13>Dec 31 23:59:59 h a: m')).toBe('2024-12-31T23:59:59.000Z');
  });
  it('puts a January line read on December 31 (sender clock ahead) into the next year', () => {
    expect(at('2024-12-31T23:59:58Z', '<13>Jan  1 00:00:01 h a: m')).toBe('2025-01-01T00:00:01.000Z');
  });
  it('keeps the current year otherwise, and finds Feb 29 in the nearest leap year', () => {
    expect(at('2025-06-15T12:00:00Z', '<13>Jun 14 08:00:00 h a: m')).toBe('2025-06-14T08:00:00.000Z');
    expect(at('2025-01-10T00:00:00Z', '<13>Feb 29 10:00:00 h a: m')).toBe('2024-02-29T10:00:00.000Z');
  });
});

describe('syslog authentication parsing', () => {
  const one = (line: string) => syslogFormat.decode(Buffer.from(line), ctx).events[0]!;
  it('reads user, result, method, service and source address from sshd lines', () => {
    const e = one('<38>Jan  1 00:00:00 h sshd[1]: Failed password for invalid user  from 203.0.113.7 port 22 ssh2');
    expect([e.event_class, e.auth?.user, e.auth?.result, e.auth?.protocol, e.src_ip, e.src_port]).toEqual(['authentication', '', 'failure', 'password', '203.0.113.7', 22]);
    const k = one('<38>Jan  1 00:00:00 h sshd-session[1]: Accepted keyboard-interactive/pam for carol from 192.0.2.1 port 2222 ssh2');
    expect([k.auth?.protocol, k.auth?.result, k.user]).toEqual(['keyboard-interactive', 'success', 'carol']);
  });
  it('leaves look-alike lines from other programs as system_log', () => {
    expect(one('<38>Jan  1 00:00:00 h myapp[1]: Failed password for root from 203.0.113.7 port 22 ssh2').event_class).toBe('system_log');
    expect(one('<38>Jan  1 00:00:00 h sshd[1]: Failed password for root from not.an.ip port 22 ssh2').event_class).toBe('system_log');
  });
  it('bounds the message attribute', () => {
    const e = one(`<14>Jan  1 00:00:00 h app: ${'x'.repeat(20_000)}`);
    expect(e.attributes['msg']!.length).toBeLessThanOrEqual(8193);
    expect(e.attributes['msg_truncated']).toBe('true');
  });
});

const stamps = fc.constantFrom('Jan  1 00:00:00 ', 'Dec 31 23:59:59 ', 'Feb 29 12:00:00 ', '2024-01-01T00:00:00Z ', '1 2024-01-01T00:00:00.1+01:00 ', '1 - ');
const bodies = fc.constantFrom(
  'host sshd[1]: Failed password for invalid user a b from 1.2.3.4 port 5 ssh2',
  'host sshd[1]: Accepted publickey for x from ::1 port 1 ssh2',
  'host sudo: u : TTY=x ; USER=root ; COMMAND=/bin/sh',
  'host sshd[2]: pam_unix(sshd:auth): authentication failure; rhost=1.2.3.4 user=r',
  'h a p m [x@1 a="b\\"c\\]"] msg',
  'h a p m [x@1 a="b',
  'fw CEF:0|a|b|c|d|e|5|src=1.2.3.4 msg=x y',
);
const syslogish = fc
  .tuple(fc.option(fc.integer({ min: -5, max: 300 })), stamps, bodies, fc.nat(), fc.string({ maxLength: 6 }))
  .map(([pri, stamp, body, cut, junk]) => {
    const line = `${pri === null ? '' : `<${pri}>`}${stamp}${body}`;
    const at = cut % (line.length + 1);
    return line.slice(0, at) + junk + line.slice(at);
  });

describe('syslog never throws (property)', () => {
  it('every input yields events or errors, and every event encodes', () => {
    const codec = new EventCodec();
    fc.assert(
      fc.property(fc.oneof(syslogish, fc.array(syslogish, { maxLength: 4 }).map((l) => l.join('\n')), fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'))), (text) => {
        const result = normalizeRecord(syslogFormat, Buffer.from(text), ctx);
        expect(result.errors.filter((e) => e.code === 'FORMAT_FAILED')).toEqual([]);
        const content = text.split('\n').some((l) => l.replace(/[\r\0]+$/, '').trim() !== '');
        if (content) expect(result.events.length + result.errors.length).toBeGreaterThan(0);
        for (const event of result.events) codec.encode(event);
      }),
      { numRuns: 3000 },
    );
  });
});

describe.skipIf(!existsSync(WRCCDC))('syslog on real traffic (../shared/data/zeek/wrccdc-2018 syslog.json.gz)', () => {
  it('parses every RFC 5424 message Zeek saw on the wire, PRI rebuilt from facility and severity', () => {
    const lines = gunzipSync(readFileSync(WRCCDC)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(2000);
    const codec = new EventCodec();
    lines.forEach((line, i) => {
      const z = JSON.parse(line) as { facility: string; severity: string; message: string };
      const pri = FACILITIES.indexOf(z.facility.toLowerCase() as (typeof FACILITIES)[number]) * 8 + SEVERITY_NAMES.indexOf(z.severity.toLowerCase().replace('warning', 'warning') as (typeof SEVERITY_NAMES)[number]);
      const result = syslogFormat.decode(Buffer.from(`<${pri}>${z.message}`), { ...ctx, offset: i });
      expect(result.errors.map((e) => `${i}: ${e.message}`)).toEqual([]);
      expect(result.events).toHaveLength(1);
      const event = result.events[0]!;
      expect(event.attributes['syslog_rfc']).toBe('5424');
      expect(event.host).toBe(z.message.split(' ')[2]);
      expect(event.attributes['facility']).toBe(z.facility.toLowerCase());
      codec.encode(event);
    });
  });
});
