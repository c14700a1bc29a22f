import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchemas } from './schemas.ts';

/**
 * The compatibility gate for schemas/: every version of a record reads data written by every other
 * version (full compatibility), and a released schema file is never edited. CI fails on either.
 */
const set = loadSchemas();
const released = JSON.parse(readFileSync(join(set.dir, 'released.json'), 'utf8')) as Record<string, string>;
const names = [...new Set(set.all.map((v) => v.fullName))];

describe('schema compatibility gate', () => {
  for (const name of names) {
    const versions = set.versions(name);
    for (const writer of versions) {
      for (const reader of versions) {
        if (writer === reader) continue;
        it(`${name}: v${reader.version} reads data written with v${writer.version}`, () => {
          const resolver = reader.type.createResolver(writer.type);
          // Random values exercise every branch of every union, including the non-null ones.
          for (let i = 0; i < 200; i++) {
            const value = writer.type.random();
            const decoded = reader.type.fromBuffer(writer.type.toBuffer(value), resolver) as unknown as Record<string, unknown>;
            // Fields both versions share come through unchanged.
            const readerFields = new Set((reader.type as unknown as { fields: { name: string }[] }).fields.map((f) => f.name));
            for (const field of (writer.type as unknown as { fields: { name: string }[] }).fields) {
              if (!readerFields.has(field.name)) continue;
              expect(JSON.stringify(decoded[field.name])).toBe(JSON.stringify((value as unknown as Record<string, unknown>)[field.name]));
            }
          }
        });
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
