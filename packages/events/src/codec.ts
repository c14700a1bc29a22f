import type avsc from 'avsc';
import { compileFieldRangeWriter, compileWriter, type CompiledWriter } from './avro-writer.ts';
import { CodecError } from './errors.ts';
import type { MamoriDetection, MamoriEvent } from './model.ts';
import { loadSchemas, schemaVersion, type SchemaVersion } from './schemas.ts';

/** Single-object encoding marker (Avro spec): C3 01. */
const MAGIC_0 = 0xc3;
const MAGIC_1 = 0x01;
const SINGLE_OBJECT_HEADER = 10;
const CONFLUENT_HEADER = 5;
/**
 * Size of the slabs the compiled writer encodes into. Each encoded value is a view of its own bytes
 * in a slab (as Buffer.allocUnsafe hands out views of Node's 8 KiB pool), which saves a copy per
 * value; a slab is freed once every value in it is.
 */
const SLAB_BYTES = 64 * 1024;

/**
 * Writes one field's Avro encoding into `buf` at `pos` and returns the position after it; stores
 * past the buffer's end are dropped but counted (see `RecordCodec.splitEncoder`).
 */
export type FieldWriter = (buf: Buffer, pos: number) => number;

/**
 * Finds a writer schema by Confluent Schema Registry id. The registry client plugs in here; resolve
 * `undefined` (or reject) for an unknown id.
 */
export interface SchemaLookup {
  byId(id: number): Promise<avsc.Type | undefined>;
}

export interface CodecOptions {
  /** Folder holding the `.avsc` files. @default the repository's `schemas/` */
  schemasDir?: string;
  /** Reader schema (what `decode` returns, what `encode` writes). @default the newest version in the folder */
  reader?: SchemaVersion;
  /** Extra writer schemas accepted by `decode`, besides every version in the folder. @default [] */
  writers?: readonly SchemaVersion[];
  /** Resolves Confluent-framed schema ids in `decodeAsync`. @default none: Confluent ids must be registered */
  lookup?: SchemaLookup;
  /**
   * Schema Registry id of the reader schema: when set, `encode` writes Confluent framing
   * (00 + 4-byte big-endian id + body) instead of single-object encoding.
   */
  confluentId?: number;
}

interface Writer {
  /** undefined when the writer is the reader: decode without resolution. */
  readonly resolver: avsc.Resolver | undefined;
  readonly label: string;
}

/**
 * Avro codec for one record (all its versions). Encodes in single-object encoding with the reader
 * schema; decodes single-object encoding from any known version, and Confluent framing for ids
 * registered or found through the lookup. Every failure is a CodecError.
 */
export class RecordCodec<T> {
  /** The schema `encode` writes and `decode` returns. */
  readonly schema: SchemaVersion;
  private readonly byFingerprint = new Map<string, Writer>();
  private readonly byId = new Map<number, Writer>();
  private readonly pendingIds = new Map<number, Promise<void>>();
  private readonly lookup: SchemaLookup | undefined;
  private readonly confluentId: number | undefined;
  private readonly sameAsReader: Writer;
  private scratch: Buffer;
  /** The framing header (single-object or Confluent) every encoded value starts with. */
  private readonly header: Buffer;
  private slab: Buffer;
  private slabPos = 0;
  /** The reader schema's compiled writer (avro-writer.ts); undefined when the schema needs avsc's. */
  private readonly writer: CompiledWriter | undefined;
  /** For avsc's writer: `value` with absent defaulted fields filled in (see `defaultsFiller`). */
  private readonly withDefaults: (value: T) => T;

  constructor(fullName: string, options: CodecOptions = {}) {
    const set = loadSchemas(options.schemasDir);
    this.schema = options.reader ?? set.latest(fullName);
    if (this.schema.fullName !== fullName) {
      throw new CodecError('SCHEMA_INCOMPATIBLE', `reader schema is ${this.schema.fullName}, expected ${fullName}`);
    }
    this.lookup = options.lookup;
    this.confluentId = options.confluentId;
    if (this.confluentId !== undefined) {
      this.byId.set(this.confluentId, { resolver: undefined, label: `schema id ${this.confluentId}` });
    }
    for (const writer of [...set.versions(fullName), ...(options.writers ?? [])]) this.addWriter(writer);
    this.addWriter(this.schema);
    this.sameAsReader = { resolver: undefined, label: `fingerprint ${this.schema.fingerprintHex}` };
    this.scratch = this.newScratch(4096);
    this.header = Buffer.from(this.scratch.subarray(0, this.headerLength));
    this.slab = Buffer.allocUnsafe(SLAB_BYTES);
    this.writer = compileWriter(this.schema.type);
    this.withDefaults = defaultsFiller((this.schema.type as avsc.types.RecordType).fields ?? []);
  }

  /** Accepts single-object data written with `writer` from now on. */
  addWriter(writer: SchemaVersion): void {
    this.byFingerprint.set(writer.fingerprintHex, this.writerFor(writer.type, `fingerprint ${writer.fingerprintHex}`));
  }

  /** Accepts Confluent-framed data with schema `id` written with `type`. */
  registerId(id: number, type: avsc.Type): void {
    this.byId.set(id, this.writerFor(schemaVersion(type, 0, `schema id ${id}`).type, `schema id ${id}`));
  }

  /**
   * Encodes `value` with the reader schema: single-object encoding (C3 01, fingerprint LE, body), or
   * Confluent framing (00, schema id BE, body) when the codec was given a `confluentId`. Written by
   * the writer compiled from the reader schema (avro-writer.ts; avsc's bytes, avsc's validation),
   * or by avsc for schemas it does not compile. The result owns its bytes (a view of its own range of
   * a shared slab; later encodes never touch it). Throws CodecError AVRO_ENCODE_FAILED.
   */
  encode(value: T): Buffer {
    if (this.writer) {
      try {
        return this.writeCompiled(this.writer, value);
      } catch (cause) {
        throw this.encodeError(value, cause);
      }
    }
    let end: number;
    try {
      end = this.writeAvsc(value);
    } catch (cause) {
      throw this.encodeError(value, cause);
    }
    const out = Buffer.allocUnsafe(end);
    this.scratch.copy(out, 0, 0, end);
    return out;
  }

  /**
   * An encoder for values whose field `name` the caller writes itself: the fields before and after
   * it are written by writers compiled from the reader schema (same bytes and validation as
   * `encode`), and `writeField` writes the field's own Avro encoding in between. For producers that
   * hold a field already as bytes (the normalizer's fused Zeek conn path writes `attributes` straight
   * from the raw line) and must not build it as an object only to encode it. `writeField` must
   * behave as a compiled writer: no stores past the buffer's end, return the position it reached
   * (which may lie past the end), and write the same bytes when called again (a value that did not
   * fit the slab is written again into a new one). Undefined when the schema has no field `name`
   * or is encoded by avsc. The result throws CodecError AVRO_ENCODE_FAILED like `encode`.
   */
  splitEncoder<K extends keyof T & string>(name: K): ((value: Omit<T, K>, writeField: FieldWriter) => Buffer) | undefined {
    const type = this.schema.type;
    const fields = (type as avsc.types.RecordType).fields ?? [];
    const at = fields.findIndex((f) => f.name === name);
    if (!this.writer || at < 0) return undefined;
    const before = compileFieldRangeWriter(type, 0, at);
    const after = compileFieldRangeWriter(type, at + 1, fields.length);
    if (!before || !after) return undefined;
    let field: FieldWriter = (_buf, pos) => pos;
    const whole: CompiledWriter = (buf, value, pos) => after(buf, value, field(buf, before(buf, value, pos)));
    return (value, writeField) => {
      field = writeField;
      try {
        return this.writeCompiled(whole, value as unknown as T);
      } catch (cause) {
        throw this.encodeError(value as unknown as T, cause);
      }
    };
  }

  /**
   * Header and body written in place at the slab's free end, returned as a view; a value that does
   * not fit the rest of the slab is written again into a new one (sized for it when larger).
   */
  private writeCompiled(writer: CompiledWriter, value: T): Buffer {
    const header = this.header;
    const h = header.length;
    let slab = this.slab;
    let start = this.slabPos;
    let end = writer(slab, value, start + h);
    if (end > slab.length) {
      slab = this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, (end - start) * 2));
      this.slabPos = start = 0;
      end = writer(slab, value, h);
    }
    for (let i = 0; i < h; i++) slab[start + i] = header[i] as number;
    this.slabPos = end;
    // Buffer.from(arrayBuffer, ...) makes the view faster than slab.subarray (no species lookup).
    return Buffer.from(slab.buffer, slab.byteOffset + start, end - start);
  }

  private encodeError(value: T, cause: unknown): CodecError {
    return new CodecError('AVRO_ENCODE_FAILED', `value does not match ${this.schema.fullName}: ${this.invalidPaths(value)}`, { cause });
  }

  private writeAvsc(value: T): number {
    const filled = this.withDefaults(value);
    let end = this.schema.type.encode(filled, this.scratch, this.headerLength);
    if (end < 0) {
      this.scratch = this.newScratch((this.scratch.length - end) * 2);
      end = this.schema.type.encode(filled, this.scratch, this.headerLength);
    }
    return end;
  }

  /**
   * Decodes single-object encoding of any known version, or Confluent framing of a registered id,
   * into the reader schema. Synchronous: use `decodeAsync` when Confluent ids may need a lookup.
   */
  decode(buf: Buffer): T {
    let writer: Writer | undefined;
    let start: number;
    if (buf.length >= SINGLE_OBJECT_HEADER && buf[0] === MAGIC_0 && buf[1] === MAGIC_1) {
      // Most data is written with the reader schema: compare bytes before building a map key.
      if (this.schema.fingerprint.compare(buf, 2, SINGLE_OBJECT_HEADER) === 0) {
        writer = this.sameAsReader;
      } else {
        const key = buf.toString('hex', 2, SINGLE_OBJECT_HEADER);
        writer = this.byFingerprint.get(key);
        if (!writer) throw new CodecError('SCHEMA_UNKNOWN', `unknown ${this.schema.fullName} schema fingerprint ${key}`);
      }
      start = SINGLE_OBJECT_HEADER;
    } else if (buf.length >= CONFLUENT_HEADER && buf[0] === 0) {
      const id = buf.readUInt32BE(1);
      writer = this.byId.get(id);
      if (!writer) throw new CodecError('SCHEMA_UNKNOWN', `unknown ${this.schema.fullName} schema id ${id}${this.lookup ? ' (not looked up yet: use decodeAsync)' : ''}`);
      start = CONFLUENT_HEADER;
    } else {
      throw new CodecError('AVRO_DECODE_FAILED', `not Avro single-object or Confluent framing (${buf.length} bytes)`);
    }
    let result: { value: unknown; offset: number };
    try {
      result = this.schema.type.decode(buf, start, writer.resolver);
    } catch (cause) {
      throw new CodecError('AVRO_DECODE_FAILED', `invalid ${this.schema.fullName} body (${writer.label})`, { cause });
    }
    if (result.offset < 0) throw new CodecError('AVRO_DECODE_FAILED', `truncated ${this.schema.fullName} (${writer.label}, ${buf.length} bytes)`);
    if (result.offset !== buf.length) {
      throw new CodecError('AVRO_DECODE_FAILED', `${buf.length - result.offset} trailing bytes after ${this.schema.fullName} (${writer.label})`);
    }
    return result.value as T;
  }

  /**
   * Resolves, through the lookup, every Confluent schema id in `values` that this codec has not
   * seen, so that a batch can then be decoded synchronously. Unknown ids are left for `decode` to
   * report per record (SCHEMA_UNKNOWN); a failing lookup rejects (SCHEMA_LOOKUP_FAILED, retryable),
   * so the batch is retried rather than dead-lettered.
   */
  async prefetch(values: Iterable<Buffer | null>): Promise<void> {
    if (!this.lookup) return;
    const ids = new Set<number>();
    for (const buf of values) {
      if (buf && buf.length >= CONFLUENT_HEADER && buf[0] === 0) {
        const id = buf.readUInt32BE(1);
        if (!this.byId.has(id)) ids.add(id);
      }
    }
    await Promise.all(
      [...ids].map((id) =>
        this.resolveId(id).catch((error: unknown) => {
          if (error instanceof CodecError && error.code === 'SCHEMA_UNKNOWN') return;
          throw error;
        }),
      ),
    );
  }

  /** Like `decode`, first resolving an unseen Confluent schema id through the lookup. */
  async decodeAsync(buf: Buffer): Promise<T> {
    if (this.lookup && buf.length >= CONFLUENT_HEADER && buf[0] === 0) {
      const id = buf.readUInt32BE(1);
      if (!this.byId.has(id)) await this.resolveId(id);
    }
    return this.decode(buf);
  }

  private resolveId(id: number): Promise<void> {
    let pending = this.pendingIds.get(id);
    if (!pending) {
      pending = this.fetchId(id).finally(() => this.pendingIds.delete(id));
      this.pendingIds.set(id, pending);
    }
    return pending;
  }

  private async fetchId(id: number): Promise<void> {
    let type: avsc.Type | undefined;
    try {
      type = await this.lookup?.byId(id);
    } catch (cause) {
      throw new CodecError('SCHEMA_LOOKUP_FAILED', `looking up schema id ${id} failed`, { cause, retryable: true });
    }
    if (!type) throw new CodecError('SCHEMA_UNKNOWN', `schema id ${id} is unknown to the registry`);
    this.registerId(id, type);
  }

  private writerFor(writerType: avsc.Type, label: string): Writer {
    const reader = this.schema.type;
    if (writerType === reader || JSON.stringify(writerType.schema()) === this.schema.canonical) {
      return { resolver: undefined, label };
    }
    try {
      return { resolver: reader.createResolver(writerType), label };
    } catch (cause) {
      throw new CodecError('SCHEMA_INCOMPATIBLE', `cannot read ${writerType.name ?? writerType.typeName} (${label}) as ${this.schema.fullName}`, { cause });
    }
  }

  /** A write buffer whose first bytes already hold the framing header. */
  private newScratch(size: number): Buffer {
    const scratch = Buffer.allocUnsafe(size);
    if (this.confluentId !== undefined) {
      scratch[0] = 0;
      scratch.writeUInt32BE(this.confluentId, 1);
      return scratch;
    }
    scratch[0] = MAGIC_0;
    scratch[1] = MAGIC_1;
    this.schema.fingerprint.copy(scratch, 2);
    return scratch;
  }

  private get headerLength(): number {
    return this.confluentId === undefined ? SINGLE_OBJECT_HEADER : CONFLUENT_HEADER;
  }

  private invalidPaths(value: unknown): string {
    const paths: string[] = [];
    try {
      this.schema.type.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '<root>') });
    } catch {
      return 'not a record';
    }
    return paths.length > 0 ? `invalid ${paths.slice(0, 5).join(', ')}` : 'invalid value';
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * (avsc fallback path only: the compiled writer stores defaults inline.)
 * For a record's fields: a function returning the value with every absent (undefined) field that has
 * a schema default set to that default, as a copy of one fixed shape (an object literal built once,
 * so copies stay fast objects); the value itself when no such field is absent. Why: avsc writes an
 * absent field's default from a pre-encoded string through one Buffer#latin1Write call per field,
 * which dominated encoding events that leave the v2 fields unset. Writing the default value itself
 * gives the same bytes (the pre-encoded string is that value's encoding), without the calls.
 */
function defaultsFiller<T>(fields: readonly avsc.types.Field[]): (value: T) => T {
  const names: string[] = [];
  const defaults: unknown[] = [];
  const props: string[] = [];
  for (const field of fields) {
    if (!IDENTIFIER.test(field.name)) return (value) => value;
    const value: unknown = field.defaultValue();
    if (value === undefined) {
      props.push(`${field.name}: v.${field.name}`);
    } else {
      props.push(`${field.name}: v.${field.name} === undefined ? d[${defaults.length}] : v.${field.name}`);
      names.push(field.name);
      defaults.push(value);
    }
  }
  if (names.length === 0) return (value) => value;
  // Generated once per codec from the schema's field names (checked identifiers above), as avsc generates its writers.
  const copy = new Function('d', `return (v) => ({ ${props.join(', ')} });`)(defaults) as (v: Record<string, unknown>) => T;
  return (value) => {
    if (value === null || typeof value !== 'object') return value;
    const v = value as Record<string, unknown>;
    for (let i = 0; i < names.length; i++) if (v[names[i] as string] === undefined) return copy(v);
    return value;
  };
}

/** Codec for `mamori.Event` (schemas/mamori.event.v*.avsc). */
export class EventCodec extends RecordCodec<MamoriEvent> {
  constructor(options: CodecOptions = {}) {
    super('mamori.Event', options);
  }
}

/** Codec for `mamori.Detection` (schemas/mamori.detection.v*.avsc). */
export class DetectionCodec extends RecordCodec<MamoriDetection> {
  constructor(options: CodecOptions = {}) {
    super('mamori.Detection', options);
  }
}
