import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc64Avro, crc64AvroLE } from './fingerprint.ts';
import { loadSchemas, schemaVersion } from './schemas.ts';

/** Bit-by-bit reference straight from the spec's definition, no table. */
function referenceRabin(text: string): bigint {
  const EMPTY = 0xc15d213aa4d7a795n;
  const MASK = 0xffffffffffffffffn;
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) fp = (fp >> 1n) ^ (EMPTY & (-(fp & 1n) & MASK));
  }
  return fp;
}

describe('CRC-64-AVRO', () => {
  it('matches the Avro test vector for "null"', () => {
    // schema-tests.txt in the Avro repository: "null" -> 7195948357588979594 (0x63dd24e7cc258f8a).
    expect(crc64Avro('"null"')).toBe(0x63dd24e7cc258f8an);
    expect(referenceRabin('"null"')).toBe(7195948357588979594n);
    expect(crc64AvroLE('"null"').toString('hex')).toBe('8a8f25cce724dd63');
  });

  it('agrees with the bit-by-bit reference on the project schemas and odd inputs', () => {
    const inputs = ['', 'x', '"int"', '{"type":"fixed","name":"f","size":16}', 'ünïcødé', ...loadSchemas().all.map((s) => s.canonical)];
    for (const input of inputs) expect(crc64Avro(input)).toBe(referenceRabin(input));
  });

  it('fingerprints the Parsing Canonical Form: docs, defaults and logical types stripped', () => {
    const v = schemaVersion({
      type: 'record',
      name: 'Ping',
      namespace: 'x.y',
      doc: 'ignored',
      fields: [
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'ms' },
        { name: 'tag', type: ['null', 'string'], default: null },
      ],
    });
    expect(v.canonical).toBe('{"name":"x.y.Ping","type":"record","fields":[{"name":"at","type":"long"},{"name":"tag","type":["null","string"]}]}');
    expect(v.fingerprintHex).toBe(crc64AvroLE(v.canonical).toString('hex'));
  });
});

describe('loadSchemas', () => {
  it('finds the latest Event and Detection in the repository folder', () => {
    const set = loadSchemas();
    expect(set.latest('mamori.Event').version).toBe(2);
    expect(set.versions('mamori.Event').map((v) => v.version)).toEqual([1, 2]);
    expect(set.latest('mamori.Detection').version).toBe(1);
    expect(() => set.latest('mamori.Nope')).toThrow(/no schema/);
  });

  it('gives every field a doc and every timestamp the timestamp-millis logical type', () => {
    const set = loadSchemas();
    for (const v of set.all) {
      const schema = JSON.parse(readFileSync(join(set.dir, v.file), 'utf8')) as { fields: { name: string; doc?: string; type: unknown }[] };
      for (const field of schema.fields) {
        expect(field.doc, `${v.file} ${field.name}`).toBeTruthy();
        if (/time|_seen|_at$/.test(field.name)) expect(field.type).toMatchObject({ logicalType: 'timestamp-millis' });
      }
    }
  });
});
