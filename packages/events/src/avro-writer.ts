import type avsc from 'avsc';

/**
 * A compiled Avro binary writer: generated at start-up from a parsed avsc Type, it writes the same
 * bytes as that Type's `encode`/`toBuffer` (avsc stays the reference and the decoder). Why: avsc
 * writes through a Tap object with one method call per primitive, looks union branches up by value
 * bucket through a dictionary, and copies defaults from pre-encoded strings; that was about half the
 * CPU time of parse + normalize + encode in the normalizer. The generated code writes straight into
 * a Buffer with one function per record, union branches chosen by `typeof`, defaults as inline
 * byte stores, and an ASCII fast path for strings.
 *
 * Validation is avsc's, type by type (same accepted and rejected values): string by `typeof`, int
 * by `v === (v | 0)`, long as an integer within ±9007199254740990, float/double any number,
 * boolean by `typeof`, null only `null`, bytes a Buffer, fixed a Buffer of the size, map any
 * non-array object, array `Array.isArray`, unwrapped unions by value bucket (null, boolean, number,
 * string, buffer, array, object), an absent (`undefined`) record field written as its default.
 * An invalid value throws AvroWriteError (or a TypeError when a record value is null/undefined,
 * as with avsc); the caller wraps either, so no bytes come out.
 *
 * Two deliberate differences from avsc 5.7, both for values avsc mishandles: a string with an
 * unpaired surrogate is written as well-formed UTF-8 (U+FFFD, as `Buffer.from` does), where avsc's
 * short-string path (≤ 64 bytes) writes ill-formed 3-byte sequences; an enum value is looked up
 * among the symbols only, where avsc's plain-object index also accepts names like `constructor`.
 *
 * Writers never write past the buffer: stores beyond its end are dropped and the returned position
 * still counts them, so a caller that gets an end larger than its buffer grows it and writes again.
 */
export type CompiledWriter = (buf: Buffer, value: unknown, pos: number) => number;

/** A value that does not match the schema; `path` names the field (`src_geo.asn`, `attributes[uid]`). */
export class AvroWriteError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`invalid value at ${path || '<root>'}: expected ${expected}`);
    this.name = 'AvroWriteError';
  }
}

/** avsc's bound for longs: ±(2^53 - 2), so that the zig-zag doubling stays exact. */
export const MAX_SAFE_LONG = 9007199254740990;

/**
 * Zig-zag varint of an integer-valued number, exactly as avsc's `Tap#writeLong`: integer arithmetic
 * within ±2^30, float arithmetic (exact: doubling and dividing by 128 are exact for |n| ≤ 2^53)
 * beyond, e.g. epoch-ms timestamps.
 */
export function writeLong(b: Buffer, n: number, p: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      b[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    b[p++] = m;
    return p;
  }
  // |n| ≥ 2^30, so the zig-zag value f ≥ 2^31 takes at least five bytes: the low 28 bits as four
  // groups with int arithmetic, then the rest. Same bytes as dividing by 128 per byte (avsc), but
  // one float division instead of one per byte (epoch-ms timestamps go this way twice per event).
  const f = n >= 0 ? n * 2 : -n * 2 - 1;
  let hi = Math.floor(f / 268435456); // 2^28: exact, f < 2^54
  const lo = f - hi * 268435456;
  b[p++] = (lo & 0x7f) | 0x80;
  b[p++] = ((lo >>> 7) & 0x7f) | 0x80;
  b[p++] = ((lo >>> 14) & 0x7f) | 0x80;
  b[p++] = ((lo >>> 21) & 0x7f) | 0x80;
  while (hi > 0x7f) {
    b[p++] = (hi & 0x7f) | 0x80;
    hi >>>= 7;
  }
  b[p++] = hi;
  return p;
}

/**
 * Length-prefixed UTF-8. Strings of up to 63 code units are first written as if ASCII (one-byte
 * length, one byte per unit, no branch per unit); if any unit was ≥ 0x80 the string is written
 * again by the general path, which measures it and writes through Buffer's native UTF-8 encoder.
 */
export function writeString(b: Buffer, s: string, p: number): number {
  const n = s.length;
  if (n < 64) {
    let seen = 0;
    b[p] = n << 1;
    const q = p + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      seen |= c;
      b[q + i] = c;
    }
    if (seen < 0x80) return q + n;
  }
  return writeUtf8(b, s, p);
}

function writeUtf8(b: Buffer, s: string, p: number): number {
  const len = Buffer.byteLength(s, 'utf8');
  p = writeLong(b, len, p);
  if (p + len <= b.length) b.write(s, p, len, 'utf8');
  return p + len;
}

/** Raw bytes at `p` (bytes and fixed); dropped, but counted, when they do not fit. */
function writeRaw(b: Buffer, src: Buffer, p: number): number {
  const len = src.length;
  if (p + len <= b.length) src.copy(b, p);
  return p + len;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE 754 little-endian, as Buffer#writeDoubleLE (which also goes through a Float64Array). */
function writeDouble(b: Buffer, d: number, p: number): number {
  f64[0] = d;
  for (let i = 0; i < 8; i++) b[p + i] = f64Bytes[LITTLE_ENDIAN ? i : 7 - i] as number;
  return p + 8;
}

function writeFloat(b: Buffer, d: number, p: number): number {
  f32[0] = d;
  for (let i = 0; i < 4; i++) b[p + i] = f32Bytes[LITTLE_ENDIAN ? i : 3 - i] as number;
  return p + 4;
}

function isLong(v: unknown): boolean {
  return typeof v === 'number' && Math.floor(v) === v && v >= -MAX_SAFE_LONG && v <= MAX_SAFE_LONG;
}

function fail(path: string, expected: string): never {
  throw new AvroWriteError(path, expected);
}

/** Avro names: safe to splice into generated code as identifiers and property names. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface AvscField {
  readonly name: string;
  readonly type: avsc.Type;
  defaultValue(): unknown;
}

interface AvscTypeView {
  readonly typeName: string;
  readonly name?: string;
  readonly fields?: readonly AvscField[];
  readonly types?: readonly avsc.Type[];
  readonly valuesType?: avsc.Type;
  readonly itemsType?: avsc.Type;
  readonly symbols?: readonly string[];
  readonly size?: number;
}

/** Thrown while compiling when the schema uses something the generator does not handle. */
class Unsupported extends Error {}

/** Union branch buckets as avsc's unwrapped unions define them (one branch per bucket). */
function bucketOf(typeName: string): string {
  switch (typeName) {
    case 'double':
    case 'float':
    case 'int':
    case 'long':
      return 'number';
    case 'bytes':
    case 'fixed':
      return 'buffer';
    case 'enum':
      return 'string';
    case 'map':
    case 'record':
    case 'error':
      return 'object';
    default:
      return typeName;
  }
}

class Generator {
  /** Source of one function per record type, by record name. */
  private readonly records = new Map<string, { fn: string; source: string }>();
  /** Constants the generated code refers to as `k[i]`. */
  readonly constants: unknown[] = [];
  private vars = 0;

  constructor(private readonly root: avsc.Type) {}

  compile(): string {
    const entry = this.recordFn(this.root);
    const bodies = [...this.records.values()].map((r) => r.source).join('\n');
    return `${bodies}\nreturn function write(buf, value, pos) { b = buf; return ${entry}(value, pos); };`;
  }

  private constant(value: unknown): string {
    this.constants.push(value);
    return `k[${this.constants.length - 1}]`;
  }

  private fresh(prefix: string): string {
    return `${prefix}${this.vars++}`;
  }

  /** The function writing record `type`, generated once per record name (recursive schemas work). */
  private recordFn(type: avsc.Type): string {
    const t = type as unknown as AvscTypeView;
    const key = t.name ?? '';
    const known = this.records.get(key);
    if (known) return known.fn;
    const fn = `w${this.records.size}`;
    const entry = { fn, source: '' };
    this.records.set(key, entry);
    const lines: string[] = [`function ${fn}(v, p) {`];
    for (const field of t.fields ?? []) {
      if (!NAME.test(field.name)) throw new Unsupported(`field name ${field.name}`);
      const x = this.fresh('x');
      lines.push(`  const ${x} = v.${field.name};`);
      const write = this.value(field.type, x, `${t.name ?? ''}.${field.name}`);
      const dflt: unknown = field.defaultValue();
      if (dflt === undefined) {
        lines.push(write);
      } else {
        // The default's bytes as avsc encodes them, stored inline.
        const bytes = [...field.type.toBuffer(dflt)];
        const stores = bytes.map((byte) => `b[p++] = ${byte};`).join(' ');
        lines.push(`  if (${x} === undefined) { ${stores} } else {\n${write}\n  }`);
      }
    }
    lines.push('  return p;', '}');
    entry.source = lines.join('\n');
    return fn;
  }

  /** Statements writing `x` (an identifier) of `type`; `path` names it in errors. */
  private value(type: avsc.Type, x: string, path: string): string {
    const t = type as unknown as AvscTypeView;
    const where = JSON.stringify(path);
    const bad = (expected: string): string => `fail(${where}, ${JSON.stringify(expected)})`;
    switch (t.typeName) {
      case 'null':
        return `  if (${x} !== null) ${bad('null')};`;
      case 'boolean':
        return `  if (typeof ${x} !== 'boolean') ${bad('boolean')}; b[p++] = ${x} ? 1 : 0;`;
      case 'int':
        // Small non-negative ints (ports, counts, partitions) inline: zig-zag 2n in one or two bytes.
        return `  if (${x} !== (${x} | 0)) ${bad('int')}; if (${x} >= 0 && ${x} < 8192) { if (${x} < 64) b[p++] = ${x} << 1; else { b[p++] = ((${x} << 1) & 0x7f) | 0x80; b[p++] = ${x} >>> 6; } } else p = wl(b, ${x}, p);`;
      case 'long':
        // avsc checks `v % 1 === 0`; within the range checked next, Math.floor(v) === v accepts the
        // same values (NaN and ±Infinity fail either way) and avoids the fmod call V8 makes for `%`
        // on non-small-integer numbers (epoch-ms timestamps), ~20 ns per field.
        return `  if (typeof ${x} !== 'number' || Math.floor(${x}) !== ${x} || ${x} < -${MAX_SAFE_LONG} || ${x} > ${MAX_SAFE_LONG}) ${bad('long')}; if (${x} >= 0 && ${x} < 64) b[p++] = ${x} << 1; else p = wl(b, ${x}, p);`;
      case 'float':
        return `  if (typeof ${x} !== 'number') ${bad('float')}; p = wf(b, ${x}, p);`;
      case 'double':
        return `  if (typeof ${x} !== 'number') ${bad('double')}; p = wd(b, ${x}, p);`;
      case 'string':
        return `  if (typeof ${x} !== 'string') ${bad('string')}; p = ws(b, ${x}, p);`;
      case 'bytes':
        return `  if (!isBuffer(${x})) ${bad('bytes')}; p = wl(b, ${x}.length, p); p = wr(b, ${x}, p);`;
      case 'fixed':
        return `  if (!isBuffer(${x}) || ${x}.length !== ${t.size ?? 0}) ${bad(`fixed(${t.size ?? 0})`)}; p = wr(b, ${x}, p);`;
      case 'enum': {
        const index = this.constant(new Map((t.symbols ?? []).map((s, i) => [s, i])));
        const i = this.fresh('i');
        return `  const ${i} = ${index}.get(${x}); if (${i} === undefined) ${bad(`one of ${(t.symbols ?? []).join(', ')}`)}; p = wl(b, ${i}, p);`;
      }
      case 'record':
      case 'error':
        return `  p = ${this.recordFn(type)}(${x}, p);`;
      case 'map': {
        const keys = this.fresh('keys');
        const values = this.fresh('values');
        const n = this.fresh('n');
        const j = this.fresh('j');
        const key = this.fresh('key');
        const item = this.fresh('x');
        const inner = this.value(t.valuesType as avsc.Type, item, `${path}[]`);
        // One block of all entries, then the empty block; for-in with a reserved count byte measured
        // no faster than Object.keys here. Values through Object.values (same own enumerable
        // properties in the same order as Object.keys, which avsc uses): one builtin copy instead of
        // a megamorphic keyed load per entry, ~40% less time reading an 8-entry map.
        return [
          `  if (!${x} || typeof ${x} !== 'object' || Array.isArray(${x})) ${bad('map')};`,
          `  const ${keys} = Object.keys(${x}); const ${values} = Object.values(${x}); const ${n} = ${keys}.length;`,
          `  if (${n} > 0) {`,
          `    p = wl(b, ${n}, p);`,
          `    for (let ${j} = 0; ${j} < ${n}; ${j}++) { p = ws(b, ${keys}[${j}], p); const ${item} = ${values}[${j}];`,
          inner,
          '    }',
          '  }',
          '  b[p++] = 0;',
        ].join('\n');
      }
      case 'array': {
        const n = this.fresh('n');
        const j = this.fresh('j');
        const item = this.fresh('x');
        const inner = this.value(t.itemsType as avsc.Type, item, `${path}[]`);
        return [
          `  if (!Array.isArray(${x})) ${bad('array')};`,
          `  const ${n} = ${x}.length;`,
          `  if (${n} > 0) {`,
          `    p = wl(b, ${n}, p);`,
          `    for (let ${j} = 0; ${j} < ${n}; ${j}++) { const ${item} = ${x}[${j}];`,
          inner,
          '    }',
          '  }',
          '  b[p++] = 0;',
        ].join('\n');
      }
      case 'union:unwrapped':
        return this.union(t.types ?? [], x, path, bad);
      default:
        // Wrapped unions, logical and abstract types: left to avsc.
        throw new Unsupported(t.typeName);
    }
  }

  /**
   * An unwrapped union: the branch of the value's bucket (as avsc's getValueBucket), its index as
   * a long, then the value written (and checked) by that branch. Any other value is invalid.
   */
  private union(types: readonly avsc.Type[], x: string, path: string, bad: (expected: string) => string): string {
    const branch = new Map<string, string>();
    types.forEach((type, index) => {
      const bucket = bucketOf(type.typeName);
      // avsc refuses ambiguous unwrapped unions when parsing; a second branch per bucket cannot happen.
      if (branch.has(bucket)) throw new Unsupported(`ambiguous union at ${path}`);
      const tag = `wl(b, ${index}, p)`;
      const body = type.typeName === 'null' ? '' : this.value(type, x, path);
      // Union indices below 64 are one byte: store it directly.
      const head = index < 64 ? `b[p++] = ${index << 1};` : `p = ${tag};`;
      branch.set(bucket, `${head}\n${body}`);
    });
    const expected = types.map((t) => t.typeName).join(' | ');
    const parts: string[] = [];
    const nullBranch = branch.get('null');
    parts.push(`  if (${x} === null) { ${nullBranch ?? bad(expected)} }`);
    const typeofBuckets = ['string', 'number', 'boolean'] as const;
    for (const bucket of typeofBuckets) {
      const body = branch.get(bucket);
      if (body !== undefined) parts.push(`  else if (typeof ${x} === '${bucket}') {\n${body}\n  }`);
    }
    const array = branch.get('array');
    const buffer = branch.get('buffer');
    const object = branch.get('object');
    if (array !== undefined || buffer !== undefined || object !== undefined) {
      parts.push(`  else if (typeof ${x} === 'object') {`);
      parts.push(`    if (Array.isArray(${x})) { ${array ?? bad(expected)} }`);
      parts.push(`    else if (isBuffer(${x})) { ${buffer ?? bad(expected)} }`);
      parts.push(`    else {\n${object ?? bad(expected)}\n    }`);
      parts.push('  }');
    }
    parts.push(`  else ${bad(expected)};`);
    return parts.join('\n');
  }
}

const HELPERS = ['wl', 'ws', 'wd', 'wf', 'wr', 'isLong', 'isBuffer', 'fail', 'k'] as const;

/**
 * Compiles a writer for a record type parsed by avsc, or returns undefined when the schema uses
 * something it does not handle (wrapped unions, registered logical types): the caller then keeps
 * encoding with avsc. Generated from the Type itself, so a schema change cannot leave it behind.
 */
export function compileWriter(type: avsc.Type): CompiledWriter | undefined {
  if (type.typeName !== 'record' && type.typeName !== 'error') return undefined;
  const generator = new Generator(type);
  let source: string;
  try {
    source = generator.compile();
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
  // Generated from the parsed schema (names checked against the Avro name grammar), as avsc does.
  const factory = new Function(...HELPERS, `'use strict';\nlet b;\n${source}`) as (...helpers: unknown[]) => CompiledWriter;
  return factory(writeLong, writeString, writeDouble, writeFloat, writeRaw, isLong, Buffer.isBuffer, fail, generator.constants);
}

/**
 * A writer for the fields `from` (inclusive) to `to` (exclusive) of record `type`, in order, as they
 * appear inside the record's encoding (a record's body is its fields' encodings one after another,
 * so writing the ranges [0, i) and (i, n) around a field written another way gives the record's
 * bytes). Same generator, validation and defaults as {@link compileWriter}; undefined when it
 * cannot compile them.
 */
export function compileFieldRangeWriter(type: avsc.Type, from: number, to: number): CompiledWriter | undefined {
  const t = type as unknown as AvscTypeView;
  if ((type.typeName !== 'record' && type.typeName !== 'error') || !t.fields) return undefined;
  // A record view of the range: the generator reads only a record's name and fields.
  const range = { typeName: 'record', name: `${t.name ?? ''}[${from}..${to})`, fields: t.fields.slice(from, to) } as unknown as avsc.Type;
  return compileWriter(range);
}
