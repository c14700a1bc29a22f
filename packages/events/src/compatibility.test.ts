import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchemas, type SchemaSet, type SchemaVersion } from './schemas.ts';

/**
 * The compatibility gate for schemas/: every version of a record reads data written by every other
 * version (full compatibility), and a released schema file is never edited. CI fails on either.
 */
const set = loadSchemas();
const released = JSON.parse(readFileSync(join(set.dir, 'released.json'), 'utf8')) as Record<string, string>;

const recordNames = (s: SchemaSet) => [...new Set(s.all.map((v) => v.fullName))];
const fieldNames = (v: SchemaVersion) => (v.type as unknown as { fields: { name: string }[] }).fields.map((f) => f.name);

/** Throws unless `reader` reads data written with `writer`: resolvable, and shared fields come through unchanged. */
function assertReads(reader: SchemaVersion, writer: SchemaVersion): void {
  const resolver = reader.type.createResolver(writer.type);
  const readerFields = new Set(fieldNames(reader));
  // Random values exercise every branch of every union, including the non-null ones.
  for (let i = 0; i < 200; i++) {
    const value = writer.type.random() as unknown as Record<string, unknown>;
    const decoded = reader.type.fromBuffer(writer.type.toBuffer(value), resolver) as unknown as Record<string, unknown>;
    for (const field of fieldNames(writer)) {
      if (!readerFields.has(field)) continue;
      expect(JSON.stringify(decoded[field])).toBe(JSON.stringify(value[field]));
    }
  }
}

/** Every ordered pair of versions of every record in `s` that does not read the other, as `name vR <- vW: why`. */
function incompatiblePairs(s: SchemaSet): string[] {
  const out: string[] = [];
  for (const name of recordNames(s)) {
    const versions = s.versions(name);
    for (const writer of versions) {
      for (const reader of versions) {
        if (writer === reader) continue;
        try {
          assertReads(reader, writer);
        } catch (error) {
          out.push(`${name} v${reader.version} <- v${writer.version}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
    }
  }
  return out;
}

describe('schema compatibility gate', () => {
  for (const name of recordNames(set)) {
    const versions = set.versions(name);
    for (const writer of versions) {
      for (const reader of versions) {
        if (writer === reader) continue;
        it(`${name}: v${reader.version} reads data written with v${writer.version}`, () => assertReads(reader, writer));
      }
    }
  }

  it('never edits a released schema file (add a new version instead)', () => {
    for (const version of set.all) {
      const file = basename(version.file);
      const recorded = released[file];
      expect(recorded, `${file} is new: add "${file}": "${version.fingerprintHex}" to schemas/released.json once it ships`).toBeDefined();
      expect(version.fingerprintHex, `${file} changed after release; revert it and write the change as a new version`).toBe(recorded);
    }
  });
});

describe('the gate itself', () => {
  /** schemas/ plus one candidate next version of mamori.Event, made from the latest by `change`. */
  function withCandidate(change: (fields: Record<string, unknown>[]) => Record<string, unknown>[]): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-gate-'));
    try {
      for (const file of readdirSync(set.dir).filter((f) => f.endsWith('.avsc'))) writeFileSync(join(dir, file), readFileSync(join(set.dir, file)));
      const latest = set.latest('mamori.Event');
      const schema = JSON.parse(readFileSync(join(set.dir, basename(latest.file)), 'utf8')) as { fields: Record<string, unknown>[] };
      writeFileSync(join(dir, `mamori.event.v${latest.version + 1}.avsc`), JSON.stringify({ ...schema, fields: change(schema.fields) }));
      return incompatiblePairs(loadSchemas(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('passes a compatible change: a new field with a default', () => {
    expect(withCandidate((fields) => [...fields, { name: 'gate_probe', type: ['null', 'string'], default: null, doc: 'probe' }])).toEqual([]);
  });

  it('fails a new field without a default, a renamed field, a removed field without a default and a changed type', () => {
    const failures = (change: (fields: Record<string, unknown>[]) => Record<string, unknown>[]) => withCandidate(change).map((p) => p.split(':')[0]);
    const latest = set.latest('mamori.Event').version;
    const newReadsOld = `mamori.Event v${latest + 1} <- v${latest}`;
    const oldReadsNew = `mamori.Event v${latest} <- v${latest + 1}`;
    expect(failures((f) => [...f, { name: 'gate_probe', type: 'string', doc: 'probe' }])).toContain(newReadsOld);
    expect(failures((f) => f.map((x) => (x['name'] === 'sensor_id' ? { ...x, name: 'sensor' } : x)))).toContain(newReadsOld);
    expect(failures((f) => f.filter((x) => x['name'] !== 'sensor_id'))).toContain(oldReadsNew);
    expect(failures((f) => f.map((x) => (x['name'] === 'src_port' ? { ...x, type: 'string' } : x)))).toContain(newReadsOld);
  });
});
