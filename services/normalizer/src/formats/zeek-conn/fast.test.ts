import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EventCodec, eventKey } from '@mamori/events';
import { parseInventory } from '@mamori/inventory';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Enricher } from '../../enrich/enricher.ts';
import { GeoLookup } from '../../enrich/geo.ts';
import { buildMmdb } from '../../enrich/mmdb-writer.fixture.ts';
import { EventEncoder, normalizeRecord, normalizeRecordEncoded } from '../../normalize.ts';
import type { DecodeContext } from '../types.ts';
import { zeekTsvToJsonLines } from '../zeek/tsv.ts';
import { fuseZeekConn, MAX_KEYS } from './fast.ts';
import { zeekConnFormat } from './index.ts';

/*
 * The fused Zeek conn path against the general one (JSON.parse, connToEvent, enrichment,
 * EventCodec.encode): for every line, the same Avro bytes and the same errors, whichever path took
 * it; and the fused path must take the ordinary lines (else it is dead code and proves nothing).
 */

const DATA = fileURLToPath(new URL('../../../../../../shared/data/zeek', import.meta.url));

const inventory = parseInventory(`
organizations: [{ id: acme, name: ACME }]
sensors:
  - { id: s-acme, org: acme, site: hq, formats: [zeek.conn] }
home_networks:
  acme: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "fd00::/8"]
assets:
  - { org: acme, network: 10.0.0.0/16, name: lan, owner: it, criticality: low }
  - { org: acme, network: 172.16.1.11, name: ws11, owner: ops, criticality: high }
  - { org: acme, network: 192.168.1.0/24, name: branch }
`);

const geoDir = mkdtempSync(path.join(tmpdir(), 'mamori-fused-geo-'));
afterAll(() => rmSync(geoDir, { recursive: true, force: true }));
const cityDb = path.join(geoDir, 'city.mmdb');
const asnDb = path.join(geoDir, 'asn.mmdb');
// Every public IPv4 address gets a country (half of them a city), some an ASN: the Geo record is written for most public peers.
writeFileSync(cityDb, buildMmdb([
  { network: '0.0.0.0/1', data: { country: { iso_code: 'US' } } },
  { network: '128.0.0.0/1', data: { country: { iso_code: 'CZ' }, city: { names: { en: 'Praha' } } } },
  { network: '2000::/3', data: { country: { iso_code: 'NO' } } },
], 'GeoLite2-City'));
writeFileSync(asnDb, buildMmdb([{ network: '8.0.0.0/8', data: { autonomous_system_number: 15169, autonomous_system_organization: 'Example ASN' } }], 'GeoLite2-ASN'));
const geo = GeoLookup.open({ cityDb, asnDb })!;

const format = zeekConnFormat;
const codec = new EventCodec();
const encoder = new EventEncoder(codec);
const enrichers = {
  plain: undefined,
  enriched: new Enricher({ inventory: () => inventory, geo, communityIdSeed: 7 }),
};

function ctxAt(offset: number, orgId = 'acme'): DecodeContext {
  return { topic: 'telemetry.raw.zeek.conn', partition: 3, offset, sensorId: 's-acme', orgId, ingestTime: 1_700_000_000_123 };
}

interface Outcome {
  values: string[];
  keys: string[];
  errors: string[];
}

/** The general path, as the stage ran it before the fused path: decode, enrich, encode each event. */
function general(bytes: Buffer, ctx: DecodeContext, enricher: Enricher | undefined): Outcome {
  const result = normalizeRecord(format, bytes, ctx);
  for (const e of result.events) enricher?.enrich(e, 'hq');
  return {
    values: result.events.map((e) => codec.encode(e).toString('hex')),
    keys: result.events.map((e) => eventKey(e)),
    errors: result.errors.map((e) => `${e.code} ${e.message}`),
  };
}

function encoded(bytes: Buffer, ctx: DecodeContext, enricher: Enricher | undefined): Outcome {
  // As the stage runs it: enrichment gets the addresses the fused path read (fusedAddresses).
  const result = normalizeRecordEncoded(format, bytes, ctx, encoder, enricher ? (e, known) => enricher.enrich(e, 'hq', known) : undefined);
  return {
    values: result.events.map((e) => e.value.toString('hex')),
    keys: result.events.map((e) => eventKey(e.event)),
    errors: result.errors.map((e) => `${e.code} ${e.message}`),
  };
}

/** What a path gave, or the code of what it threw (an event the codec refuses throws on either path). */
function outcome(run: () => Outcome): Outcome | { thrown: string } {
  try {
    return run();
  } catch (error) {
    return { thrown: `${(error as { code?: string }).code ?? ''} ${(error as Error).message}` };
  }
}

/** Compares both paths on `line`; returns whether the fused path took it. */
function check(line: string | Buffer, offset: number, enricher: Enricher | undefined = enrichers.enriched): boolean {
  const bytes = typeof line === 'string' ? Buffer.from(line) : line;
  const ctx = ctxAt(offset);
  const taken = fuseZeekConn(bytes, ctx) !== undefined;
  const want = outcome(() => general(bytes, ctx, enricher));
  const got = outcome(() => encoded(bytes, ctx, enricher));
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    // One readable failure instead of thousands.
    expect({ line: bytes.toString('utf8').slice(0, 2000), taken, ...got }).toEqual({ line: bytes.toString('utf8').slice(0, 2000), taken, ...want });
  }
  return taken;
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

/**
 * Every Zeek conn line in the shared samples, found by content: JSON lines as written, and TSV conn
 * logs as the JSON lines `mamori import` makes of them.
 */
function sampleConnLines(): string[] {
  const lines: string[] = [];
  for (const file of walk(DATA)) {
    if (statSync(file).size > 64 * 1024 * 1024) continue;
    let raw = readFileSync(file);
    if (raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        raw = gunzipSync(raw);
      } catch {
        continue;
      }
    }
    const text = raw.toString('utf8');
    if (text.startsWith('#separator') || text.startsWith(' #separator')) {
      if (!/^#path\s+(conn|open_conn)\s*$/m.test(text.slice(0, 4096))) continue;
      for (const item of zeekTsvToJsonLines(text)) if (item.error === undefined) lines.push(item.line);
      continue;
    }
    for (const line of text.split('\n')) {
      if (line.startsWith('{') && line.includes('"conn_state"') && line.includes('orig_h') && line.includes('"proto"')) lines.push(line);
    }
  }
  return lines;
}

const hasData = existsSync(DATA);
const samples = hasData ? sampleConnLines() : [];

/** `line` with Zeek's dotted id fields renamed as some shippers flatten them (`id_orig_h`). */
function underscored(line: string): string {
  return line.replace(/"id\.(orig|resp)_(h|p)"/g, '"id_$1_$2"');
}

/** `line` with its epoch `ts` written as an ISO 8601 string (Zeek's JSON::TS_ISO8601). */
function isoTime(line: string): string {
  return line.replace(/"ts": ?(-?[0-9.eE+-]+)/, (_, ts: string) => `"ts":"${new Date(Number(ts) * 1000).toISOString()}"`);
}

describe.skipIf(!hasData)('fused Zeek conn path: every sample line, byte-identical to the general path', () => {
  it('finds the samples (JSON and TSV conn logs)', () => {
    expect(samples.length).toBeGreaterThan(5_000);
  });

  for (const [name, enricher] of Object.entries(enrichers)) {
    it(`as written, ${name}`, () => {
      let taken = 0;
      samples.forEach((line, i) => {
        if (check(line, i, enricher)) taken++;
      });
      // The ordinary lines go the fused way (a fused path that declines everything proves nothing).
      expect(taken / samples.length).toBeGreaterThan(0.95);
    }, 300_000);
  }

  it('with underscored id fields, with ISO times, with both', () => {
    let taken = 0;
    let lines = 0;
    samples.forEach((line, i) => {
      // Each sample in one of the three shapes, in turn.
      const variant = i % 3 === 0 ? underscored(line) : i % 3 === 1 ? isoTime(line) : isoTime(underscored(line));
      lines++;
      if (check(variant, i)) taken++;
    });
    expect(taken / lines).toBeGreaterThan(0.95);
  }, 300_000);

  it('with a trailing line break, and in a record that holds several lines (the general path)', () => {
    const some = samples.filter((_, i) => i % 97 === 0);
    some.forEach((line, i) => {
      expect(check(`${line}\n`, i)).toBe(true);
      expect(check(`${line}\r\n`, i)).toBe(true);
      expect(check(`${line}\n${line}`, i)).toBe(false);
      expect(check(`\n${line}`, i)).toBe(false);
    });
  });
});

describe.skipIf(!hasData)('fused Zeek conn path: mutated sample lines', () => {
  it('gives the general path\'s events or errors for byte mutations, never a crash', () => {
    const pool = samples.filter((_, i) => i % 13 === 0).map((l) => Buffer.from(l));
    const interesting = [0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x20, 0x09, 0x0a, 0x00, 0x1f, 0x2d, 0x2e, 0x30, 0x31, 0x39, 0x65, 0x45, 0x6e, 0x74, 0xc3, 0xa9, 0xff, 0x7f];
    fc.assert(
      fc.property(
        fc.nat(pool.length - 1),
        fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete', 'truncate'), fc.nat(), fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 }))), { minLength: 1, maxLength: 4 }),
        (which, edits) => {
          let bytes = Buffer.from(pool[which]!);
          for (const [op, at, byte] of edits) {
            const i = at % Math.max(1, bytes.length);
            if (op === 'set') bytes[i] = byte;
            else if (op === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.of(byte), bytes.subarray(i)]);
            else if (op === 'delete') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
            else bytes = bytes.subarray(0, i);
          }
          check(bytes, which);
        },
      ),
      { numRuns: 4_000 },
    );
  }, 300_000);
});

// Generated lines: Zeek-like objects with odd but valid (and invalid) JSON, written by hand so that
// number spellings, spacing, escapes and duplicates occur that JSON.stringify never writes.

const numberText = fc.oneof(
  fc.integer({ min: -70000, max: 70000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom('0', '-0', '0.0', '1.50', '1e3', '1E-2', '2.5e+1', '-1.0e0', '1e999', '-1e999', '123456789012345678901234567890', '0.1234567890123456789', '9007199254740993', '9007199254740992', '1664462456.755299', '0.012166976928710938', '00', '01', '1.', '.5', '-', '+1', '1e', '0x10', 'NaN'),
);
const stringChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcXYZ019 .:-_/'.split('')) },
  { weight: 1, arbitrary: fc.constantFrom('\\"', '\\\\', '\\/', '\\n', '\\t', '\\u0041', '\\u00e9', '\\ud83d\\ude00', '\\x', 'é', '😀', '\u0001', '\t', '\u007f', '\u2028') },
);
const stringText = fc.array(stringChar, { maxLength: 70 }).map((cs) => `"${cs.join('')}"`);
/** Mostly plain strings (no escapes, ASCII), as Zeek writes nearly all of them. */
const plainText = fc.oneof(
  { weight: 30, arbitrary: fc.array(fc.constantFrom(...'abcXYZ019 .:-_/'.split('')), { maxLength: 70 }).map((cs) => `"${cs.join('')}"`) },
  { weight: 1, arbitrary: stringText },
);
const ipText = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => `"${o.join('.')}"`) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => `"${o.join('.')}"`) },
  { weight: 4, arbitrary: fc.constantFrom('"fe80::1cf4:44d2:904a:14f7"', '"2001:db8::1"', '"::1"', '"8.8.8.8"', '"10.0.0.5"', '"172.16.1.11"', '"::ffff:1.2.3.4"') },
  { weight: 1, arbitrary: fc.constantFrom('"1.2.3"', '"256.1.1.1"', '"x"', '""', 'null', '17', '"01.2.3.4"') },
);
const scalarText = fc.oneof(
  { weight: 6, arbitrary: plainText },
  { weight: 3, arbitrary: fc.oneof({ weight: 8, arbitrary: fc.nat(100000).map(String) }, { weight: 1, arbitrary: numberText }) },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'null') },
);
const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 80, arbitrary: scalarText },
  { weight: 4, arbitrary: fc.array(scalarText, { maxLength: 4 }).map((items) => `[${items.join(',')}]`) },
  { weight: 1, arbitrary: fc.array(fc.array(scalarText, { maxLength: 2 }).map((i) => `[${i.join(',')}]`), { maxLength: 2 }).map((items) => `[${items.join(', ')}]`) },
  { weight: 1, arbitrary: fc.constantFrom('{}', '{"a":1}', '{"orig_h":"1.2.3.4","orig_p":1,"resp_h":"5.6.7.8","resp_p":2}') },
);
const attributeKey = fc.oneof(
  { weight: 40, arbitrary: fc.constantFrom('uid', 'service', 'history', 'missed_bytes', 'orig_ip_bytes', 'resp_ip_bytes', 'local_orig', 'local_resp', 'tunnel_parents', '_path', 'vlan', 'orig_l2_addr') },
  { weight: 1, arbitrary: fc.constantFrom('id', '__proto__', 'constructor', '0', '12', '1a', '', 'ünï', 'a\\"b', 'tab\\t', 'k e y', 'toString') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s).slice(1, -1)) },
);
const space = fc.oneof({ weight: 30, arbitrary: fc.constantFrom('', '', '', ' ', '  ') }, { weight: 1, arbitrary: fc.constantFrom('\t', '\r', '\n', ' \t ') });

interface Field {
  key: string;
  value: string;
}

const connLine = fc
  .record({
    dotted: fc.boolean(),
    ts: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 2_000_000_000_000_000 }).map((us) => (us / 1e6).toFixed(6)) },
      { weight: 1, arbitrary: numberText },
      { weight: 2, arbitrary: fc.constantFrom('"2022-09-29T14:40:56.755299Z"', '"2022-09-29T14:40:56Z"', '"not a time"', '"1664462456.5"', '""', 'null', '1e300') },
    ),
    origH: ipText,
    respH: ipText,
    origP: fc.oneof({ weight: 12, arbitrary: fc.nat(65535).map(String) }, { weight: 1, arbitrary: numberText }, { weight: 1, arbitrary: fc.constantFrom('"80"', '""', 'null') }),
    respP: fc.oneof({ weight: 12, arbitrary: fc.nat(65535).map(String) }, { weight: 1, arbitrary: numberText }, { weight: 1, arbitrary: fc.constantFrom('"443"', 'null') }),
    proto: fc.oneof({ weight: 10, arbitrary: fc.constantFrom('"tcp"', '"UDP"', '"icmp"', '"unknown_transport"') }, { weight: 1, arbitrary: fc.constantFrom('""', 'null', '6') }, { weight: 1, arbitrary: stringText }),
    counts: fc.array(fc.oneof({ weight: 30, arbitrary: fc.nat(100000).map(String) }, { weight: 5, arbitrary: fc.double({ min: 0, max: 1e6, noNaN: true }).map((d) => JSON.stringify(d)) }, { weight: 1, arbitrary: numberText }, { weight: 1, arbitrary: fc.constantFrom('null', '"12"', '-1', 'true') }), { minLength: 5, maxLength: 5 }),
    connState: fc.constantFrom('"SF"', '"S0"', 'null', '3', '"REJ"', '"SF"', '"OTH"'),
    communityId: fc.option(fc.constantFrom('"1:abc="', 'null', '""', '5'), { nil: undefined }),
    attributes: fc.array(fc.record({ key: attributeKey, value: valueText }), { maxLength: 10 }),
    duplicate: fc.option(fc.nat(30), { nil: undefined, freq: 8 }),
    order: fc.nat(1_000_000),
    gaps: fc.array(space, { minLength: 4, maxLength: 4 }),
  })
  .map((r) => {
    const id = (name: string) => (r.dotted ? `id.${name}` : `id_${name}`);
    const fields: Field[] = [
      { key: 'ts', value: r.ts },
      { key: id('orig_h'), value: r.origH },
      { key: id('orig_p'), value: r.origP },
      { key: id('resp_h'), value: r.respH },
      { key: id('resp_p'), value: r.respP },
      { key: 'proto', value: r.proto },
      { key: 'duration', value: r.counts[0]! },
      { key: 'orig_bytes', value: r.counts[1]! },
      { key: 'resp_bytes', value: r.counts[2]! },
      { key: 'orig_pkts', value: r.counts[3]! },
      { key: 'resp_pkts', value: r.counts[4]! },
      { key: 'conn_state', value: r.connState },
      ...(r.communityId === undefined ? [] : [{ key: 'community_id', value: r.communityId }]),
    ];
    // Attributes interleaved with the mapped fields at a seeded spot each, as Zeek interleaves them.
    r.attributes.forEach((a, i) => fields.splice((r.order + i * 7) % (fields.length + 1), 0, a));
    if (r.duplicate !== undefined) {
      const copy = fields[r.duplicate % fields.length]!;
      fields.push({ key: copy.key, value: r.attributes[0]?.value ?? copy.value });
    }
    const [a, b, c, d] = r.gaps;
    return `{${a}${fields.map((f) => `"${f.key}"${b}:${c}${f.value}`).join(`,${d}`)}${a}}`;
  });

describe('fused Zeek conn path: generated lines', () => {
  it('gives the general path\'s bytes and errors for generated Zeek conn lines', () => {
    let taken = 0;
    let runs = 0;
    fc.assert(
      fc.property(connLine, fc.nat(1_000_000), (line, offset) => {
        runs++;
        if (check(line, offset)) taken++;
      }),
      { numRuns: 6_000 },
    );
    // The generator also makes plenty of lines the fused path takes.
    expect(taken / runs).toBeGreaterThan(0.05);
  });

  it('gives the general path\'s bytes for generated lines without enrichment too', () => {
    fc.assert(
      fc.property(connLine, fc.nat(1_000_000), (line, offset) => {
        check(line, offset, undefined);
      }),
      { numRuns: 2_000 },
    );
  });

  it('declines a line during which the key table starts over (a duplicate could straddle it)', () => {
    const base = '{"ts":1,"id.orig_h":"1.2.3.4","id.orig_p":1,"id.resp_h":"5.6.7.8","id.resp_p":2,"proto":"tcp"';
    const fresh = (i: number) => `${base},"fresh_${i}":1}`;
    // Fill the table until it starts over: the line whose new key finds it full is declined.
    let i = 0;
    while (fuseZeekConn(Buffer.from(fresh(i)), ctxAt(i)) !== undefined) {
      i++;
      expect(i).toBeLessThan(MAX_KEYS * 2);
    }
    // Empty now: 6 base keys and one new key per line, up to one short of full.
    for (let j = 0; j < MAX_KEYS - 7; j++) expect(fuseZeekConn(Buffer.from(fresh(MAX_KEYS * 2 + j)), ctxAt(j))).toBeDefined();
    // "dup" fills it, "last" starts it over, then "dup" again: one JSON key seen through two table entries.
    const straddling = `${base},"dup":"a","last":1,"dup":"b"}`;
    expect(fuseZeekConn(Buffer.from(straddling), ctxAt(1))).toBeUndefined();
    check(straddling, 1);
  });

  it('reads the address idField picks (dotted over underscored, the last of repeated keys) for the event check and enrichment', () => {
    const head = '{"ts":1664462456.755299,"proto":"tcp","id.orig_p":40042,"id.resp_p":53,';
    const lines = [
      // Dotted and underscored together: the dotted one is the event's, whatever the other holds.
      `${head}"id_orig_h":"8.8.8.8","id.orig_h":"10.0.0.5","id.resp_h":"172.16.1.11","id_resp_h":"01.2.3.4"}`,
      `${head}"id.orig_h":"10.0.0.5","id_orig_h":"x","id_resp_h":"192.168.1.7","id.resp_h":"fd00::1"}`,
      `${head}"id_orig_h":"10.0.0.5","id.orig_h":"1.2.3","id.resp_h":"8.8.8.8"}`,
      `${head}"id_orig_h":"10.0.0.5","id_resp_h":"192.168.1.7"}`,
      // A repeated mapped key: the last value counts (JSON.parse), in every order of text and non-text.
      `${head}"id.orig_h":"8.8.8.8","id.orig_h":"10.0.0.5","id.resp_h":"192.168.1.7"}`,
      `${head}"id.orig_h":17,"id.orig_h":"10.0.0.5","id.resp_h":"192.168.1.7"}`,
      `${head}"id.orig_h":"10.0.0.5","id.orig_h":17,"id.resp_h":"192.168.1.7"}`,
      `${head}"id.orig_h":"10.0.0.5","id.orig_h":"010.0.0.5","id.resp_h":"192.168.1.7"}`,
      `${head}"id.orig_h":"10.0.0.5","id.orig_h":null,"id.resp_h":"192.168.1.7"}`,
      `${head}"id.orig_h":"::ffff:10.0.0.5","id.resp_h":"10.0.0.5"}`,
    ];
    let taken = 0;
    lines.forEach((line, i) => {
      if (check(line, i)) taken++;
      check(line, i, undefined);
    });
    expect(taken).toBeGreaterThanOrEqual(6);
  });

  it('tells a key from the one predicted at its place when they differ in any one byte, or one is a prefix of the other', () => {
    // Keys are compared with the key that followed the same key last time, four bytes at a time and
    // then byte by byte: each line here follows one whose key at that place differs in one byte.
    const line = (key: string) => `{"ts":1,"id.orig_h":"1.2.3.4","id.orig_p":1,"id.resp_h":"5.6.7.8","id.resp_p":2,"proto":"tcp","${key}":"v","uid":"C1"}`;
    const keys = ['orig_ip_bytes_x', 'abcdefgh', 'a', 'ab', 'abc', 'abcd', 'abcde'];
    let offset = 0;
    for (const key of keys) {
      for (let i = 0; i <= key.length; i++) {
        // One byte changed at i (a character, or the closing quote moved: a longer and a shorter key).
        const variants = i < key.length ? [`${key.slice(0, i)}${key[i] === 'z' ? 'y' : 'z'}${key.slice(i + 1)}`, key.slice(0, i) || 'q'] : [`${key}z`];
        for (const other of variants) {
          for (const k of [key, other, key, other]) expect(check(line(k), offset++), k).toBe(true);
        }
      }
    }
  });

  it('takes ordinary lines and leaves the rest to the general path', () => {
    const ok = '{"ts":1664462456.755299,"uid":"C5x","id.orig_h":"172.16.1.11","id.orig_p":40042,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","duration":0.0121,"orig_bytes":0,"conn_state":"SHR","local_orig":true,"tunnel_parents":["a","b"],"x":null}';
    expect(check(ok, 1)).toBe(true);
    for (const declined of [
      ok.replace('"uid":"C5x"', '"uid":"C\\u0035x"'), // escape
      ok.replace('"uid":"C5x"', '"uid":"Cé"'), // non-ASCII
      ok.replace('"uid":"C5x"', '"üid":"C5x"'), // non-ASCII in a key
      ok.replace('"uid":"C5x"', '"u\tid":"C5x"'), // a control character in a key (invalid JSON)
      ok.replace('"uid":"C5x"', '"u\\"id":"C5x"'), // an escape in a key
      ok.replace('"proto":"udp"', '"proto":"ud\u007f"'), // DEL in a mapped value
      ok.replace('"proto":"udp"', '"proto":"udp\n"'), // a line break inside a mapped value (invalid JSON)
      ok.replace('"tunnel_parents":["a","b"]', '"tunnel_parents":["a","\u00e9"]'), // non-ASCII in an array item
      ok.replace('"local_orig":true', '"local_orig":\ttrue'), // a tab between tokens (JSON whitespace)
      ok.replace('"uid":"C5x"', '"uid":"C5x","uid":"C6"'), // duplicate attribute
      ok.replace('"uid":"C5x"', '"id":{"orig_h":"1.2.3.4"}'), // nested id
      ok.replace('"uid":"C5x"', '"7":"x"'), // array-index key: JSON.parse puts it first
      ok.replace('"uid":"C5x"', '"uid":{"a":1}'), // nested object
      ok.replace('"proto":"udp"', '"proto":"udp"x'), // invalid JSON
      ok.replace('"id.orig_p":40042', '"id.orig_p":70000'), // invalid port: FIELD_INVALID from the general path
      `${ok} ${ok}`,
      `{"ts":1,"id.orig_h":"1.2.3.4",\n"id.orig_p":1,"id.resp_h":"5.6.7.8","id.resp_p":2,"proto":"tcp"}`, // pretty-printed
    ]) {
      expect(check(declined, 2), declined).toBe(false);
    }
  });
});
