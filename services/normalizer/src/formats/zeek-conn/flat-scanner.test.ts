import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecodeContext, DecodeResult } from '../types.ts';
import { decodeZeekConn, decodeZeekConnViaJsonParse } from './decode.ts';

// The flat-line scanner must give exactly what JSON.parse + connToEvent give: same events (values,
// -0 vs 0, attribute order), same errors (code, line, field, message).

const ctx: DecodeContext = { topic: 'telemetry.raw.zeek.conn', partition: 1, offset: 42, sensorId: 's', orgId: 'o', ingestTime: 1 };
const DATA = fileURLToPath(new URL('../../../../../../shared/data/zeek/', import.meta.url));

function view(r: DecodeResult): unknown {
  return {
    events: r.events,
    order: r.events.map((e) => Object.keys(e.attributes)),
    errors: r.errors.map((e) => [e.code, e.line, e.field, e.message]),
  };
}

function same(text: string): void {
  const bytes = Buffer.from(text);
  expect(view(decodeZeekConn(bytes, ctx))).toEqual(view(decodeZeekConnViaJsonParse(bytes, ctx)));
}

const SAMPLE =
  '{"ts":1700000000.020805,"uid":"CzpkIZ0cCGNikTPk20","id.orig_h":"10.20.0.55","id.orig_p":51225,"id.resp_h":"13.107.212.19","id.resp_p":443,' +
  '"proto":"tcp","service":"ssl","duration":2.1098969302065824,"orig_bytes":4577,"resp_bytes":2937,"conn_state":"SF","local_orig":true,' +
  '"local_resp":false,"missed_bytes":0,"history":"ShADadFf","orig_pkts":7,"orig_ip_bytes":4941,"resp_pkts":5,"resp_ip_bytes":3197}';

const KEYS = [
  'ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'id_orig_h', 'id_orig_p', 'id_resp_h', 'id_resp_p', 'id', 'proto', 'duration',
  'orig_bytes', 'resp_bytes', 'orig_pkts', 'resp_pkts', 'conn_state', 'community_id', 'uid', 'service', 'history', '__proto__',
  'constructor', 'toString', '1', '01', 'a"b', 'é', 'tunnel_parents', '',
];

const scalar = fc.oneof(
  fc.string(),
  fc.constantFrom('10.0.0.1', '2001:db8::1', '256.1.1.1', '010.1.1.1', 'tcp', 'TCP', '', '1700000000.5', '2024-01-09T18:35:46Z', '-1', '65536', '80'),
  fc.integer({ min: -100, max: 70_000 }),
  fc.constantFrom(0, -0, 1e21, 1.5, 2 ** 53 + 1, 123456789012345, 1234567890123456, 1700000000.020805, 0.1),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof({ weight: 6, arbitrary: scalar }, { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('orig_h', 'x'), scalar) });
const entries = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), value), { maxLength: 24 });

/** JSON text of `pairs` as written (repeated keys kept), with optional whitespace and number spellings. */
function render(pairs: readonly (readonly [string, unknown])[], ws: string, spell: number): string {
  const num = (n: number): string => {
    const s = JSON.stringify(n);
    if (spell === 1 && Number.isInteger(n) && Math.abs(n) < 1e15) return `${s}.0`;
    if (spell === 2 && Number.isFinite(n) && n !== 0) return n.toExponential();
    return s;
  };
  const val = (v: unknown): string => (typeof v === 'number' ? (Object.is(v, -0) ? '-0' : num(v)) : JSON.stringify(v));
  return `${ws}{${ws}${pairs.map(([k, v]) => `${JSON.stringify(k)}${ws}:${ws}${val(v)}`).join(`${ws},${ws}`)}${ws}}${ws}`;
}

describe('zeek.conn flat-line scanner equals JSON.parse', () => {
  it('on generated objects (repeated keys, nulls, odd keys, every value type, whitespace, number spellings)', () => {
    fc.assert(
      fc.property(entries, fc.constantFrom('', ' ', '\t', ' \r', '\u00a0'), fc.integer({ min: 0, max: 2 }), (pairs, ws, spell) => {
        same(render(pairs, ws, spell));
      }),
      { numRuns: 3000 },
    );
  });

  it('on decimal numbers of every length (the fast path and Number() must agree to the last bit)', () => {
    const digits = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
    const numeral = fc
      .tuple(fc.boolean(), fc.integer({ min: 1, max: 9 }), digits(0, 17), fc.option(digits(1, 20)), fc.boolean())
      .map(([neg, lead, int, frac, zero]) => `${neg ? '-' : ''}${zero ? '0' : `${lead}${int}`}${frac === null ? '' : `.${frac}`}`);
    fc.assert(
      fc.property(numeral, (n) => {
        // As an attribute the value shows as String(number): any difference in the double shows.
        same(SAMPLE.replace('"missed_bytes":0', `"missed_bytes":${n}`).replace('"duration":2.1098969302065824', `"duration":${n}`));
      }),
      { numRuns: 5000 },
    );
  });

  it('on a real line cut, spliced and mutated at random', () => {
    fc.assert(
      fc.property(fc.nat(SAMPLE.length), fc.nat(8), fc.string({ maxLength: 4 }), (at, cut, insert) => {
        same(SAMPLE.slice(0, at) + insert + SAMPLE.slice(at + cut));
      }),
      { numRuns: 5000 },
    );
  });

  it('on escapes, unicode, nested values and several lines in one record', () => {
    for (const text of [
      SAMPLE.replace('"SF"', '"S\\u0046"'),
      SAMPLE.replace('"ssl"', '"ss\\"l"'),
      SAMPLE.replace('"ssl"', '"sslé✓"'),
      SAMPLE.replace('"ssl"', '["a",1]'),
      SAMPLE.replace('"id.orig_h":"10.20.0.55",', '"id":{"orig_h":"10.20.0.55"},'),
      SAMPLE.replace('"uid"', '"uid":"x","uid"'),
      SAMPLE.replace('"uid"', '"1":"x","uid"'),
      SAMPLE.replace(':51225', ':051225'),
      SAMPLE.replace(':51225', ':5.'),
      SAMPLE.replace(':51225', ':1e'),
      SAMPLE.replace(':51225', ':-'),
      SAMPLE.replace(':true', ':tru'),
      SAMPLE.slice(0, -1),
      `${SAMPLE}}`,
      `${SAMPLE}\n\n${SAMPLE}\r\n${SAMPLE.replace('tcp', 'TCP')}`,
      `{\n  "ts": 1, "proto": "tcp",\n "id.orig_h": "10.0.0.1", "id.orig_p": 1, "id.resp_h": "10.0.0.2", "id.resp_p": 2\n}`,
      '{}',
      ' { } ',
      '',
      '\n',
    ]) {
      same(text);
    }
  });

  it.skipIf(!existsSync(DATA))('on every line of the real conn JSON logs', () => {
    let lines = 0;
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/^(open_)?conn[^/]*\.(log|json)(\.gz)?$/.test(entry.name)) {
          const raw = readFileSync(path);
          const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
          if (!text.startsWith('{')) continue;
          for (const line of text.split('\n')) {
            same(line);
            lines++;
          }
        }
      }
    };
    walk(DATA);
    expect(lines).toBeGreaterThan(5000);
  });
});
