import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { EventCodec } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { zeekConnFormat } from '../zeek-conn/index.ts';
import { ALL_ZEEK_FORMATS, testCtx, ZEEK_DATA, zeekSamples, type Sample } from './testing/samples.ts';

const SUPPORTED = new Set(ALL_ZEEK_FORMATS.map((f) => f.id.slice('zeek.'.length)));

/** The log type a sample file holds according to its name: ground truth for sniffing only. */
function logOfName(sample: Sample): string {
  const name = basename(sample.name).replace(/^ORIGINAL/, '').replace(/^labeled-/, '');
  return name.split('.')[0]!.replace(/^open_/, '');
}

/** Deliberately broken or corrupt source files and exactly what they must produce. */
const KNOWN_BAD: Record<string, { events: number; errors: [string, number][] }> = {
  // Line 3 has source port 93145, line 4 is cut off mid-object.
  'rita/truncated/conn_json.log': { events: 2, errors: [['FIELD_INVALID', 2], ['PARSE_FAILED', 3]] },
  // The last line is cut off after 9 of 21 columns and there is no #close.
  'rita/truncated/conn.log': { events: 58, errors: [['PARSE_FAILED', 66]] },
  // The header declares an extra `i_dont_exist` column; its first data line lacks that column.
  'rita/has_unknown_field/http.log': { events: 4, errors: [['PARSE_FAILED', 8]] },
  // Line 20 of the source has spaces where three tabs belong (corrupt upstream).
  'slips/test10-mixed-zeek-dir/notice.log': { events: 12, errors: [['PARSE_FAILED', 20]] },
};

describe.skipIf(!existsSync(ZEEK_DATA))(`Zeek logs on real sensor data (${ZEEK_DATA})`, () => {
  const samples = zeekSamples();

  it('sniffs every file by content to the log type it holds, and claims no unsupported log', () => {
    const wrong: string[] = [];
    for (const sample of samples) {
      if (sample.name.includes('truncated/')) continue;
      const log = logOfName(sample);
      const expected = SUPPORTED.has(log) ? `zeek.${log}` : undefined;
      if (sample.format?.id !== expected) wrong.push(`${sample.name}: ${sample.format?.id} (${sample.score}) expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });

  it('decodes every JSON and TSV log of the supported types with zero errors, except the known-bad files', () => {
    const codec = new EventCodec();
    const counts: Record<string, number> = {};
    const unexpected: string[] = [];
    for (const sample of samples) {
      const format = sample.format ?? (sample.name.includes('truncated/') ? zeekConnFormat : null);
      if (format === null) continue;
      const result = format.decode(Buffer.from(sample.text), testCtx(format.id.slice(5)));
      const bad = KNOWN_BAD[sample.name];
      if (bad !== undefined) {
        expect(result.events.length, sample.name).toBe(bad.events);
        expect(result.errors.map((e) => [e.code, e.line]), sample.name).toEqual(bad.errors);
      } else {
        for (const e of result.errors.slice(0, 3)) unexpected.push(`${sample.name}:${e.line} ${e.code} ${e.message}`);
      }
      // The Avro codec accepts them (every 97th: encoding all 400k events would dominate the run).
      for (let i = 0; i < result.events.length; i += 97) codec.encode(result.events[i]!);
      const key = `${sample.kind} ${format.id}`;
      counts[key] = (counts[key] ?? 0) + result.events.length;
    }
    expect(unexpected).toEqual([]);
    // Floors, so that losing a sample folder is noticed (counts as of the shared data at writing).
    expect(counts['json zeek.dns']).toBeGreaterThanOrEqual(53_922);
    expect(counts['json zeek.http']).toBeGreaterThanOrEqual(55_475);
    expect(counts['json zeek.ssl']).toBeGreaterThanOrEqual(49_709);
    expect(counts['json zeek.weird']).toBeGreaterThanOrEqual(24_202);
    expect(counts['tsv zeek.ssh']).toBeGreaterThanOrEqual(11_560);
    expect(counts['tsv zeek.files']).toBeGreaterThanOrEqual(13_748);
    for (const id of ALL_ZEEK_FORMATS.map((f) => f.id)) expect(counts[`json ${id}`] ?? 0, id).toBeGreaterThan(0);
  }, 180_000);

  it('keeps an unknown column in attributes (rita/has_unknown_field), never an error', () => {
    const sample = samples.find((s) => s.name === 'rita/has_unknown_field/http.log');
    if (sample === undefined) return;
    const events = sample.format!.decode(Buffer.from(sample.text), testCtx('http')).events;
    expect(events.map((e) => e.attributes['i_dont_exist'])).toEqual(['bingbong', 'bingbong', 'bingbong', 'bingbong']);
  });

  it('reads rita/truncated/conn_top.log (TSV rows without any header) as PARSE_FAILED lines', () => {
    const sample = samples.find((s) => s.name === 'rita/truncated/conn_top.log');
    if (sample !== undefined) expect.fail('a headerless TSV file must not be typed as Zeek');
    const path = `${ZEEK_DATA}rita/truncated/conn_top.log`;
    if (!existsSync(path)) return;
    const text = readFileSync(path, 'utf8');
    const result = zeekConnFormat.decode(Buffer.from(text), testCtx('conn'));
    expect(result.events).toEqual([]);
    expect(new Set(result.errors.map((e) => e.code))).toEqual(new Set(['PARSE_FAILED']));
    expect(result.errors).toHaveLength(text.split('\n').filter((l) => l.trim() !== '').length);
  });
});
