import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import { CodecError } from './errors.ts';
import { crc64AvroLE } from './fingerprint.ts';
import { parseHardened } from './harden.ts';

/** The repository's `schemas/` folder, found from this file so it works from any working directory. */
export const DEFAULT_SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

/** One version of one record schema, ready to encode and decode. */
export interface SchemaVersion {
  /** Record full name, e.g. `mamori.Event`. */
  readonly fullName: string;
  /** From the file name `<name>.v<N>.avsc`; 0 for inline schemas. */
  readonly version: number;
  readonly file: string;
  readonly type: avsc.Type;
  /** Parsing Canonical Form, the input of the fingerprint. */
  readonly canonical: string;
  /** CRC-64-AVRO of the canonical form, little-endian (as in single-object encoding). */
  readonly fingerprint: Buffer;
  readonly fingerprintHex: string;
}

/** Every schema found in one folder, grouped by record full name. */
export interface SchemaSet {
  readonly dir: string;
  readonly all: readonly SchemaVersion[];
  /** Versions of one record, oldest first; empty when unknown. */
  versions(fullName: string): readonly SchemaVersion[];
  /** The newest version of a record; throws CodecError SCHEMA_UNKNOWN when there is none. */
  latest(fullName: string): SchemaVersion;
}

const FILE_PATTERN = /^(.+)\.v(\d+)\.avsc$/;
const cache = new Map<string, SchemaSet>();

/**
 * Builds a SchemaVersion from a schema object or an avsc Type. Logical types are deliberately not
 * registered: `timestamp-millis` stays a plain `long`, so values are epoch-ms numbers with no Date
 * conversion on the hot path. Arrays and maps reject forged block counts (see harden.ts).
 */
export function schemaVersion(schema: object | avsc.Type, version = 0, file = '<inline>'): SchemaVersion {
  let type: avsc.Type;
  try {
    // A Type from elsewhere (a registry client) is re-parsed so that it gets the bounded readers.
    type = parseHardened(avsc.Type.isType(schema) ? (schema as avsc.Type).schema({ exportAttrs: true }) : schema);
  } catch (cause) {
    throw new CodecError('SCHEMA_INVALID', `${file}: not a valid Avro schema`, { cause });
  }
  if (type.typeName !== 'record' || type.name === undefined) {
    throw new CodecError('SCHEMA_INVALID', `${file}: the top-level schema must be a named record`);
  }
  const canonical = JSON.stringify(type.schema());
  const fingerprint = crc64AvroLE(canonical);
  return { fullName: type.name, version, file, type, canonical, fingerprint, fingerprintHex: fingerprint.toString('hex') };
}

/** Reads `<dir>/*.avsc` once (cached per folder). Throws CodecError SCHEMA_INVALID naming the file. */
export function loadSchemas(dir: string = DEFAULT_SCHEMAS_DIR): SchemaSet {
  const cached = cache.get(dir);
  if (cached) return cached;
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.avsc')).sort();
  } catch (cause) {
    throw new CodecError('SCHEMA_INVALID', `cannot read schema folder ${dir}`, { cause });
  }
  const all: SchemaVersion[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new CodecError('SCHEMA_INVALID', `${file}: schema files are named <name>.v<N>.avsc`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (cause) {
      throw new CodecError('SCHEMA_INVALID', `${file}: not valid JSON`, { cause });
    }
    all.push(schemaVersion(json as object, Number(match[2]), file));
  }
  const byName = new Map<string, SchemaVersion[]>();
  for (const v of all) {
    const list = byName.get(v.fullName) ?? [];
    list.push(v);
    byName.set(v.fullName, list);
  }
  for (const list of byName.values()) list.sort((a, b) => a.version - b.version);
  const set: SchemaSet = {
    dir,
    all,
    versions: (fullName) => byName.get(fullName) ?? [],
    latest(fullName) {
      const list = byName.get(fullName);
      const last = list?.[list.length - 1];
      if (!last) throw new CodecError('SCHEMA_UNKNOWN', `no schema for ${fullName} in ${dir}`);
      return last;
    },
  };
  cache.set(dir, set);
  return set;
}
