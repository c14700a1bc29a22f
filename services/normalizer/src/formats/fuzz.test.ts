import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventCodec } from '@mamori/events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_RECORD_BYTES, FORMATS, normalizeRecord } from '../normalize.ts';
import type { DecodeContext, DecodeResult, SensorFormat } from './types.ts';
import { zeekTsvToJsonLines } from './zeek/tsv.ts';

/**
 * Property-based robustness of every registered format: random bytes, mutated real fixtures and
 * oversized records never make a decoder throw (FORMAT_FAILED is the safety net catching a throw, so
 * it counts as a crash here), never hang (one record over HANG_MS), always account for a non-blank
 * record (events, errors or skipped lines), and only ever produce events the Avro schema accepts.
 * FUZZ_RUNS scales the number of cases (the default keeps the file well under a minute).
 */

const HERE = fileURLToPath(new URL('./', import.meta.url));
/** A hang detector, not a speed target: a single record taking this long is a bug. */
const HANG_MS = 2000;
const RUNS = Math.max(1, Number(process.env['FUZZ_RUNS'] ?? '1'));
const codec = new EventCodec();

function ctxFor(format: SensorFormat): DecodeContext {
  return { topic: format.topics[0]!, partition: 0, offset: 7, sensorId: 'fuzz-sensor', orgId: 'fuzz-org', ingestTime: 1_700_000_000_000 };
}

function fixtureFolder(format: SensorFormat): string {
  const folder = [`${HERE}${format.id.replace(/\./g, '-')}/`, `${HERE}${format.id.replace(/\./g, '/')}/`].find((f) => existsSync(`${f}fixtures`));
  if (folder === undefined) throw new Error(`no fixtures folder for ${format.id}`);
  return `${folder}fixtures/`;
}

function fixtures(format: SensorFormat): Buffer[] {
  const dir = fixtureFolder(format);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.input'))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
}

const FORMAT_IDS = FORMATS.map((f) => f.id);

/**
 * Whether a record holds anything a decoder must account for. Blank means whitespace and NULs
 * (line decoders strip the NUL padding some senders add) and, for Zeek, only `#` header lines: a
 * TSV header with no rows is a valid, empty log.
 */
function hasContent(format: SensorFormat, bytes: Buffer): boolean {
  const lines = bytes.toString('latin1').split('\n').filter((l) => /[^\s\0]/.test(l));
  if (format.id.startsWith('zeek.')) return lines.some((l) => !l.trimStart().startsWith('#'));
  return lines.length > 0;
}

/** Decodes one record and checks every property; returns the result for further checks. */
function check(format: SensorFormat, bytes: Buffer): DecodeResult {
  const started = performance.now();
  let result: DecodeResult | undefined;
  expect(() => {
    result = normalizeRecord(format, bytes, ctxFor(format));
  }).not.toThrow();
  const elapsed = performance.now() - started;
  expect(elapsed, `${format.id}: one record of ${bytes.length} bytes took ${elapsed.toFixed(0)} ms`).toBeLessThan(HANG_MS);
  const r = result!;
  expect(Array.isArray(r.events) && Array.isArray(r.errors)).toBe(true);
  const crashes = r.errors.filter((e) => e.code === 'FORMAT_FAILED');
  expect(crashes.map((e) => e.message), `${format.id} decoder threw on ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}`).toEqual([]);
  if (hasContent(format, bytes) && r.events.length === 0) {
    expect(r.errors.length + (r.skipped ?? 0), `${format.id}: a non-blank record became nothing at all`).toBeGreaterThan(0);
  }
  for (const event of r.events) {
    expect(() => codec.encode(event), `${format.id} event ${JSON.stringify(event).slice(0, 300)}`).not.toThrow();
    // Syslog hands CEF payloads to the CEF mapping, so its events may say `cef`.
    expect(FORMAT_IDS).toContain(event.source_format);
  }
  return r;
}

// ---- mutations of real inputs -------------------------------------------------------------------

const HUGE_TOKENS = [
  '99999999999999999999999999999999999999',
  '1e308',
  '-1e309',
  '1.7976931348623157e+308',
  '-0',
  'NaN',
  '-9223372036854775809',
  '18446744073709551616',
  '0x7fffffff',
  '4294967296',
  '65536',
  '-1',
  '"\\ud800"',
  '"\\u0000"',
  'null',
  '[]',
  '{}',
  'true',
];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate-line'; line: number; times: number }
  | { kind: 'token'; at: number; token: string }
  | { kind: 'long-string'; at: number; length: number; char: string }
  | { kind: 'nest'; at: number; depth: number; open: string };

/** Positions are fractions of the current length, so one mutation list applies to any input. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('duplicate-line' as const), line: fc.nat(), times: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant('token' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), token: fc.constantFrom(...HUGE_TOKENS) }),
  fc.record({ kind: fc.constant('long-string' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1_000, max: 200_000 }), char: fc.constantFrom('A', '\\', '"', ',', '|', '=', '\t', '%', '\u00e9', ' ') }),
  fc.record({ kind: fc.constant('nest' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), depth: fc.integer({ min: 100, max: 20_000 }), open: fc.constantFrom('[', '{"a":', '{"x":[') }),
);

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = input;
  const pos = (at: number) => Math.min(b.length, Math.floor(at * (b.length + 1)));
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip': {
        if (b.length === 0) break;
        const i = Math.min(b.length - 1, pos(m.at));
        b = Buffer.from(b);
        b[i] = b[i]! ^ (1 << m.bit);
        break;
      }
      case 'insert': {
        const i = pos(m.at);
        b = Buffer.concat([b.subarray(0, i), Buffer.from(m.bytes), b.subarray(i)]);
        break;
      }
      case 'delete': {
        const i = pos(m.at);
        b = Buffer.concat([b.subarray(0, i), b.subarray(i + m.length)]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, pos(m.at));
        break;
      case 'duplicate-line': {
        const lines = b.toString('latin1').split('\n');
        if (lines.length === 0) break;
        const i = m.line % lines.length;
        lines.splice(i, 0, ...Array<string>(m.times).fill(lines[i]!));
        b = Buffer.from(lines.join('\n'), 'latin1');
        break;
      }
      case 'token': {
        // Replace the number or word under the position with the token, or insert it.
        const s = b.toString('latin1');
        const i = pos(m.at);
        const match = /^[-+.\w]+/.exec(s.slice(i));
        const end = i + (match?.[0].length ?? 0);
        b = Buffer.concat([b.subarray(0, i), Buffer.from(m.token, 'utf8'), b.subarray(end)]);
        break;
      }
      case 'long-string': {
        const i = pos(m.at);
        b = Buffer.concat([b.subarray(0, i), Buffer.from(m.char.repeat(m.length), 'utf8'), b.subarray(i)]);
        break;
      }
      case 'nest': {
        const i = pos(m.at);
        const close = m.open === '[' ? ']' : m.open === '{"a":' ? '}' : ']}';
        b = Buffer.concat([b.subarray(0, i), Buffer.from(m.open.repeat(m.depth) + '1' + close.repeat(m.depth)), b.subarray(i)]);
        break;
      }
    }
  }
  return b;
}

/** Single lines of the fixtures too: the runner usually hands one line per record. */
function fixtureLines(inputs: readonly Buffer[]): Buffer[] {
  return inputs.flatMap((b) =>
    b
      .toString('utf8')
      .split('\n')
      .filter((l) => /\S/.test(l))
      .map((l) => Buffer.from(l, 'utf8')),
  );
}

describe('every format survives hostile input', () => {
  it('covers every registered format', () => {
    expect(FORMATS.length).toBeGreaterThan(5);
    for (const format of FORMATS) expect(fixtures(format).length, format.id).toBeGreaterThan(0);
  });

  for (const format of FORMATS) {
    describe(format.id, () => {
      const inputs = fixtures(format);
      const seeds = [...inputs, ...fixtureLines(inputs)];

      it('random bytes', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
            check(format, Buffer.from(bytes));
          }),
          { numRuns: 25 * RUNS },
        );
        // Random text that looks a little more like the formats' syntax.
        fc.assert(
          fc.property(fc.array(fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '|', '=', '\\', '<', '>', '\t', '\n', '#', '1', '-', '.', 'a', ' ', 'CEF:0', '"ts"', '"src_ip"'), { maxLength: 400 }), (parts) => {
            check(format, Buffer.from(parts.join('')));
          }),
          { numRuns: 25 * RUNS },
        );
      });

      it('mutated fixtures', () => {
        fc.assert(
          fc.property(fc.nat({ max: seeds.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (i, mutations) => {
            check(format, mutate(seeds[i]!, mutations));
          }),
          { numRuns: 60 * RUNS },
        );
      });

      it('refuses oversized records with RECORD_TOO_LARGE', () => {
        const limit = format.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
        // A real line padded with trailing blanks: still well-formed at the limit, one byte over refused.
        const line = fixtureLines(inputs).find((l) => l[0] !== 0x23) ?? Buffer.from('x');
        const big = Buffer.alloc(limit + 1, 0x20);
        line.copy(big, 0);
        const r = check(format, big);
        expect(r.events).toEqual([]);
        expect(r.errors.map((e) => e.code)).toEqual(['RECORD_TOO_LARGE']);
        // Exactly at the limit is parsed, not refused.
        expect(check(format, big.subarray(0, limit)).errors.map((e) => e.code)).not.toContain('RECORD_TOO_LARGE');
      });
    });
  }
});

describe('Zeek TSV reader survives hostile input', () => {
  const zeekFormats = FORMATS.filter((f) => f.id.startsWith('zeek.'));
  const tsv = zeekFormats.flatMap((f) => fixtures(f).filter((b) => b.subarray(0, 11).toString() === '#separator '));

  it('has TSV fixtures to mutate', () => expect(tsv.length).toBeGreaterThan(5));

  it('converts mutated TSV without throwing, and the decoders take what it yields', () => {
    const byPath = new Map(zeekFormats.map((f) => [f.id.slice('zeek.'.length), f]));
    fc.assert(
      fc.property(fc.nat({ max: tsv.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (i, mutations) => {
        const text = mutate(tsv[i]!, mutations).toString('utf8');
        const started = performance.now();
        const lines = [...zeekTsvToJsonLines(text)];
        expect(performance.now() - started).toBeLessThan(HANG_MS);
        for (const l of lines) {
          expect(typeof l.line).toBe('string');
          if (l.error !== undefined) continue;
          const format = byPath.get(l.path);
          if (format) check(format, Buffer.from(l.line, 'utf8'));
        }
      }),
      { numRuns: 150 * RUNS },
    );
  });
});

/** Bugs the properties above found, pinned with the inputs that showed them. */
describe('regressions found by fuzzing', () => {
  const byId = (id: string) => FORMATS.find((f) => f.id === id)!;

  it('cef-extension-quadratic-key-scan: `a=a=a=...` without spaces is linear, not a hang', () => {
    // Before: every '=' scanned back to the previous space; 40 KB took about 6 s, 1 MiB hours.
    const line = `CEF:0|v|p|1|sig|name|5|${'a='.repeat(200_000)}`;
    const r = check(byId('cef'), Buffer.from(line));
    expect(r.events).toHaveLength(1);
    check(byId('cef'), Buffer.from(`CEF:0|v|p|1|sig|name|5|${'='.repeat(400_000)}`));
  });

  it('json-stringify-stack-overflow: a deeply nested value costs its attribute, not the whole record', () => {
    // Before: JSON.parse took 20,000 levels of nesting, JSON.stringify of it threw RangeError, and
    // the record's every line was lost as FORMAT_FAILED.
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    for (const format of FORMATS) {
      const good = fixtureLines(fixtures(format)).find((l) => l[0] === 0x7b && normalizeRecord(format, l, ctxFor(format)).events.length > 0);
      if (good === undefined) continue; // not a JSON format
      const hostile = good.toString('utf8').replace(/}\s*$/, `,"fuzz_deep":${deep},"ts_deep":${deep}}`);
      const first = JSON.parse(good.toString('utf8')) as Record<string, unknown>;
      const key = Object.keys(first).find((k) => typeof first[k] !== 'object') ?? 'x';
      const wrongType = JSON.stringify({ ...first, [key]: JSON.parse('[0]') }).replace('[0]', deep);
      const r = check(format, Buffer.from(`${good.toString('utf8')}\n${hostile}\n${wrongType}`));
      expect(r.events.length, format.id).toBeGreaterThanOrEqual(1);
    }
  });

  it('trailing-blank-regex-backtracking: long runs of blanks or NULs inside a line are linear', () => {
    // Before: `/\s+$/`, `/[\r\0]+$/` and `/ +$/` retried at every position of a run (about 9 s per 40 KB).
    const run = (c: string) => c.repeat(400_000);
    check(byId('syslog'), Buffer.from(`${run(' ')}<134>Jan  1 00:00:00 fw1 CEF:0|a|b|1|100|x|10|src=10.0.0.1`));
    check(byId('syslog'), Buffer.from(`<134>Jan  1 00:00:00 host app: a${run('\0')}b`));
    check(byId('cef'), Buffer.from(`CEF:0|a|b|1|100|x|10|msg=a${run(' ')}b act=x`));
    check(byId('cef'), Buffer.from(`CEF:0|a|b|1|100|x|10|msg=a${run('\r')}b`));
    const r = check(byId('cef'), Buffer.from(`CEF:0|a|b|1|100|x|10|msg=hello   ${run('\r')}\r\0\0`));
    expect(r.events[0]?.attributes['msg']).toBe(`hello   ${run('\r')}`.replace(/[\r]+$/, '').trimEnd());
  });
});
