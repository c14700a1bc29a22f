import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventCodec } from '@mamori/events';
import { FORMATS, loadNormalizerConfig, NormalizerStage, type SensorFormat } from '@mamori/normalizer';
import type { ConsumedMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';

/*
 * A Zeek conn line with "ts":1e300 passed the format's checks and failed the Avro encode, which
 * failed the whole batch on every retry: one hostile line stalled its partition (fixed for Zeek conn
 * in e705547). The same gap was open in other formats. For EVERY registered format, each good
 * fixture record is taken and every numeric-looking value in it (JSON numbers and numeric or
 * date-like strings, TSV cells, digit runs of text lines) is replaced by hostile values: 1e300,
 * -1e300, 2^63, NaN/Infinity strings, huge epoch times, years past 2299 or before 1900, negative counts. Each hostile record goes
 * through the real stage between good ones, and:
 *   - the batch never fails;
 *   - a hostile record either becomes events the schema and ClickHouse can hold (the value landed
 *     in a free-text attribute, say) or is dead-lettered with a parse-time code (FIELD_INVALID,
 *     PARSE_FAILED), never with AVRO_ENCODE_FAILED, RECORD_FAILED or FORMAT_FAILED (those mean the
 *     format let the value through and only the stage's safety net caught it);
 *   - the good records around it produce their events; counts reconcile (every record is exactly
 *     normalized or dead-lettered, outputs = events of the normalized ones).
 * And the format's own field checks caught it (the message names the source field), not only the
 * normalizer's event check behind them.
 */

const FORMATS_DIR = fileURLToPath(new URL('../../services/normalizer/src/formats/', import.meta.url));
/** ClickHouse DateTime64's range (as packages/storage checks it before an insert). */
const MIN_TIME_MS = Date.UTC(1900, 0, 1);
const MAX_TIME_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);
const PARSE_TIME_CODES = new Set(['FIELD_INVALID', 'PARSE_FAILED']);

const HOSTILE_JSON: readonly unknown[] = [1e300, -1e300, 9223372036854775808, 1e15, -1, 4294967296, 2.5e10, '1e300', '-1e300', 'NaN', 'Infinity', '-1', '9223372036854775808', '+099999-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '1899-12-31T23:59:59Z', '99999999999999999999'];
const HOSTILE_TEXT: readonly string[] = ['1e300', '-1e300', '9223372036854775808', 'NaN', 'Infinity', '-1', '99999999999999999999', '1000000000000000', '4294967296', '9999', '2300', '1899'];

const codec = new EventCodec();

function folderOf(format: SensorFormat): string {
  return [`${FORMATS_DIR}${format.id.replace(/\./g, '-')}/`, `${FORMATS_DIR}${format.id.replace(/\./g, '/')}/`].find((f) => existsSync(`${f}fixtures`)) ?? '';
}

/** The format's fixture records: one per line, or one per file for Zeek TSV (header + rows). */
function fixtureRecords(format: SensorFormat): string[] {
  const dir = `${folderOf(format)}fixtures/`;
  const out: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.input')).sort()) {
    const text = readFileSync(`${dir}${file}`, 'utf8');
    if (text.startsWith('#separator')) out.push(text);
    else out.push(...text.split('\n').filter((l) => l.trim() !== ''));
  }
  return out;
}

const NUMERIC_STRING = /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$|^\d{4}-\d\d-\d\d/;

/** Every JSON leaf that is a number or a numeric/date-like string, as a path of keys. */
function numericPaths(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(value)) value.forEach((v, i) => numericPaths(v, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) numericPaths(v, [...path, k], out);
  else if (typeof value === 'number' || (typeof value === 'string' && NUMERIC_STRING.test(value))) out.push(path);
  return out;
}

function withValue(root: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return copy;
}

/** JSON text with `9223372036854775808` written as the literal 2^63, not as JSON.stringify rounds it. */
function jsonWith(root: unknown, path: (string | number)[], value: unknown): string {
  const marker = '"__HOSTILE_NUMBER__"';
  if (typeof value !== 'number') return JSON.stringify(withValue(root, path, value));
  const literal = value === 9223372036854775808 ? '9223372036854775808' : String(value);
  return JSON.stringify(withValue(root, path, '__HOSTILE_NUMBER__')).replace(marker, literal);
}

function hostileVariants(record: string): string[] {
  if (record.startsWith('#separator')) {
    // Zeek TSV: each numeric cell of each data row, one at a time.
    const lines = record.split('\n');
    const out: string[] = [];
    lines.forEach((line, li) => {
      if (line.startsWith('#') || line === '') return;
      const cells = line.split('\t');
      cells.forEach((cell, ci) => {
        if (!NUMERIC_STRING.test(cell)) return;
        for (const h of HOSTILE_TEXT) {
          const mutated = [...cells];
          mutated[ci] = h;
          out.push([...lines.slice(0, li), mutated.join('\t'), ...lines.slice(li + 1)].join('\n'));
        }
      });
    });
    return out;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && typeof parsed === 'object') {
    return numericPaths(parsed).flatMap((path) => HOSTILE_JSON.map((h) => jsonWith(parsed, path, h)));
  }
  // Text lines (syslog, CEF): every digit run, one at a time.
  const out: string[] = [];
  for (const m of record.matchAll(/\d+/g)) {
    for (const h of HOSTILE_TEXT) out.push(record.slice(0, m.index) + h + record.slice(m.index + m[0].length));
  }
  return out;
}

function message(topic: string, value: string, offset: number): ConsumedMessage {
  return { topic, partition: 0, offset: String(offset), key: Buffer.from('s1'), value: Buffer.from(value), headers: {}, timestamp: 1_700_000_000_000 };
}

function newStage(): NormalizerStage {
  return new NormalizerStage(loadNormalizerConfig({ MAMORI_ALLOW_UNREGISTERED_SENSORS: 'true' }), { eventCodec: codec, defaultOrg: 'default' });
}

interface Outcome {
  events: number;
  code: string | undefined;
  reason: string;
}

/** Runs `records` as one batch; per record, its events (by raw offset) and dead letter. */
async function run(stage: NormalizerStage, topic: string, records: readonly string[]): Promise<Outcome[]> {
  const result = await stage.process({ messages: records.map((r, i) => message(topic, r, i)) });
  const outcomes: Outcome[] = records.map(() => ({ events: 0, code: undefined, reason: '' }));
  for (const out of result.outputs[0]!.messages) {
    const event = codec.decode(Buffer.from(out.value as Buffer));
    expect(event.time, `event time of record ${event.raw.offset}`).toBeGreaterThanOrEqual(MIN_TIME_MS);
    expect(event.time, `event time of record ${event.raw.offset}`).toBeLessThanOrEqual(MAX_TIME_MS);
    outcomes[Number(event.raw.offset)]!.events++;
  }
  for (const letter of result.deadLetters) {
    const o = outcomes[Number(letter.message.offset)]!;
    expect(o.code, `one dead letter per record (offset ${letter.message.offset})`).toBeUndefined();
    o.code = letter.code;
    o.reason = letter.reason;
  }
  return outcomes;
}

describe('hostile numbers in every registered format never stall a partition', () => {
  for (const format of FORMATS) {
    it(`${format.id}: hostile numeric values are dead-lettered at parse time or held, between good records`, async () => {
      const stage = newStage();
      const topic = format.topics[0]!;
      const candidates = fixtureRecords(format);
      const checked = await run(stage, topic, candidates);
      const good = candidates.filter((_, i) => checked[i]!.events > 0 && checked[i]!.code === undefined);
      expect(good.length, `${format.id} has good fixture records`).toBeGreaterThan(0);

      let hostileCount = 0;
      let deadLettered = 0;
      const backstop = new Set<string>();
      for (const record of good) {
        const expected = checked[candidates.indexOf(record)]!.events;
        const variants = hostileVariants(record);
        // [good, hostile, good, hostile, ..., good]: one batch per fixture record.
        const batch: string[] = [record];
        for (const v of variants) batch.push(v, record);
        const outcomes = await run(stage, topic, batch);
        outcomes.forEach((o, i) => {
          if (i % 2 === 0) {
            expect(o, `good record around hostile ones (${format.id})`).toEqual({ events: expected, code: undefined, reason: '' });
            return;
          }
          hostileCount++;
          const variant = batch[i]!;
          // Exactly one of: normalized with events, dead-lettered with a parse-time code.
          if (o.code === undefined) {
            expect(o.events, `no events and no dead letter for ${variant.slice(0, 300)}`).toBeGreaterThan(0);
          } else {
            deadLettered++;
            expect(PARSE_TIME_CODES.has(o.code), `${o.code}: ${o.reason} for ${variant.slice(0, 300)}`).toBe(true);
            if (o.reason.includes('out of range for an event')) backstop.add(o.reason.replace(/^.*record: /, '').replace(/: .*$/, ''));
          }
        });
      }
      // The format's own checks name the source field; the normalizer's event check is only a backstop.
      expect([...backstop], `${format.id} left these to the normalizer's event check`).toEqual([]);
      expect(hostileCount).toBeGreaterThan(0);
      expect(deadLettered).toBeGreaterThan(0);
    }, 120_000);
  }
});
