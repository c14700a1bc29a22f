import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventCodec, withEventDefaults } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import type { DecodeContext } from '../types.ts';
import { parseSuricataTime, suricataEveFormat } from './index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DATA = fileURLToPath(new URL('../../../../../../shared/data/suricata/', import.meta.url));

const ctx: DecodeContext = {
  topic: 'telemetry.raw.suricata.eve',
  partition: 1,
  offset: 42,
  sensorId: 'suricata-lab-1',
  orgId: 'org-test',
  ingestTime: 1_710_000_000_000,
};

const inputs = readdirSync(FIXTURES).filter((f) => f.endsWith('.input'));

describe('suricata.eve golden fixtures', () => {
  it('has a fixture per event family', () => expect(inputs.length).toBeGreaterThanOrEqual(10));

  for (const input of inputs) {
    it(input, () => {
      const result = suricataEveFormat.decode(readFileSync(join(FIXTURES, input)), ctx);
      const actual = {
        events: result.events,
        errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })),
        skipped: result.skipped ?? 0,
      };
      const expectedPath = join(FIXTURES, input.replace(/\.input$/, '.expected.json'));
      // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }

  it('produces events the Avro codec accepts', () => {
    const codec = new EventCodec();
    for (const input of inputs) {
      for (const event of suricataEveFormat.decode(readFileSync(join(FIXTURES, input)), ctx).events) {
        expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
      }
    }
  });
});

describe('suricata.eve details', () => {
  it('parses Suricata timestamps with +hhmm, +hh:mm, Z and no zone', () => {
    expect(parseSuricataTime('2021-06-06T15:59:46.457984+0200')).toBe(Date.UTC(2021, 5, 6, 13, 59, 46, 457));
    expect(parseSuricataTime('2021-06-06T15:59:46.457984-05:30')).toBe(Date.UTC(2021, 5, 6, 21, 29, 46, 457));
    expect(parseSuricataTime('2009-11-24T21:27:09.534255')).toBe(Date.UTC(2009, 10, 24, 21, 27, 9, 534));
    expect(parseSuricataTime('2009-11-24T21:27:09Z')).toBe(Date.UTC(2009, 10, 24, 21, 27, 9));
    expect(parseSuricataTime('2009-11-24')).toBeNaN();
  });

  it('counts stats lines as skipped, not as events or errors', () => {
    const line = '{"timestamp":"2024-03-01T10:00:00.000000+0000","event_type":"stats","stats":{"uptime":1}}\n';
    const result = suricataEveFormat.decode(Buffer.from(line.repeat(3)), ctx);
    expect(result).toMatchObject({ events: [], errors: [], skipped: 3 });
  });

  it('sniffs EVE lines and nothing else', () => {
    const sniff = suricataEveFormat.sniff as (head: string) => number;
    expect(sniff(readFileSync(join(FIXTURES, 'alert.input'), 'utf8'))).toBeGreaterThan(0.9);
    expect(sniff('{"ts":1.5,"id.orig_h":"10.0.0.1","proto":"tcp"}\n')).toBe(0);
    expect(sniff('{"EventID":4624,"Channel":"Security"}\n')).toBe(0);
    expect(sniff('#separator \\x09\n')).toBe(0);
  });
});

/** Which class each event_type must become. */
const CLASS_OF: Record<string, string> = {
  alert: 'detection_finding',
  anomaly: 'detection_finding',
  flow: 'network_activity',
  netflow: 'network_activity',
  dns: 'dns_activity',
  http: 'http_activity',
  tls: 'tls_activity',
  ssh: 'ssh_activity',
  fileinfo: 'network_file_activity',
};

const SAMPLES = existsSync(DATA) ? readdirSync(DATA).filter((f) => f.endsWith('.json')) : [];

describe.skipIf(SAMPLES.length === 0)(`suricata.eve real samples (need ../shared/data/suricata/*.json; skipped when absent)`, () => {
  for (const name of SAMPLES) {
    it(`${name}: every line decodes and class counts match event_type counts`, () => {
      const bytes = readFileSync(join(DATA, name));
      const expected: Record<string, number> = {};
      let stats = 0;
      for (const line of bytes.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const type = (JSON.parse(line) as { event_type: string }).event_type;
        if (type === 'stats') stats++;
        else expected[CLASS_OF[type] ?? 'network_activity'] = (expected[CLASS_OF[type] ?? 'network_activity'] ?? 0) + 1;
      }
      const result = suricataEveFormat.decode(bytes, ctx);
      expect(result.errors.map((e) => e.message)).toEqual([]);
      const actual: Record<string, number> = {};
      for (const event of result.events) actual[event.event_class] = (actual[event.event_class] ?? 0) + 1;
      expect(actual).toEqual(expected);
      expect(result.skipped ?? 0).toBe(stats);
      // Every class record is filled for its class.
      for (const event of result.events) {
        if (event.event_class === 'detection_finding') expect(event.alert?.signature).toBeTruthy();
        if (event.event_class === 'dns_activity') expect(event.dns?.query).toBeTruthy();
        if (event.event_class === 'http_activity') expect(event.http).toBeTruthy();
        if (event.event_class === 'tls_activity') expect(event.tls).toBeTruthy();
        if (event.event_class === 'network_file_activity') expect(event.file).toBeTruthy();
      }
    });
  }

  it('the slips sample has the known event_type counts', () => {
    const name = 'slips-test6-malicious.eve.json';
    if (!SAMPLES.includes(name)) return;
    const result = suricataEveFormat.decode(readFileSync(join(DATA, name)), ctx);
    const actual: Record<string, number> = {};
    for (const event of result.events) actual[event.event_class] = (actual[event.event_class] ?? 0) + 1;
    // flow 3512, alert 745 + anomaly 3, dns 680, http 56, fileinfo 3, tls 1.
    expect(actual).toEqual({ network_activity: 3512, detection_finding: 748, dns_activity: 680, http_activity: 56, network_file_activity: 3, tls_activity: 1 });
    expect(result.events.filter((e) => e.dns?.answers.length).length).toBeGreaterThan(0);
  });
});
