import avsc from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvroWriteError, compileWriter, type CompiledWriter } from './avro-writer.ts';
import { loadSchemas, schemaVersion } from './schemas.ts';

// The compiled writer must write exactly avsc's bytes for every valid value of every schema, and
// reject exactly the values avsc rejects. Values are generated from the schema itself, so a new
// field or branch is covered without touching this file.

interface TypeView {
  readonly typeName: string;
  readonly fields?: readonly { name: string; type: avsc.Type; defaultValue(): unknown }[];
  readonly types?: readonly avsc.Type[];
  readonly valuesType?: avsc.Type;
  readonly itemsType?: avsc.Type;
  readonly symbols?: readonly string[];
  readonly size?: number;
}

const LONG_MAX = 9007199254740990;

/** Strings of every kind the writer distinguishes: ASCII short and long, any Unicode (astral too), empty. */
const anyString = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 140 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 20, maxLength: 90 }),
  fc.constantFrom('', 'é', '✓ ok', '🛡️', 'a'.repeat(63), 'a'.repeat(64), `${'a'.repeat(62)}é`),
);

const anyLong = fc.oneof(
  fc.integer({ min: -70, max: 70 }),
  fc.integer(),
  fc.integer({ min: 1_500_000_000_000, max: 2_000_000_000_000 }), // epoch ms
  fc.integer({ min: 1_500_000_000_000_000, max: 2_000_000_000_000_000 }), // epoch µs (beyond 2^53 is not a safe long; these are below)
  fc.maxSafeInteger().map((n) => Math.max(-LONG_MAX, Math.min(LONG_MAX, n))),
  fc.constantFrom(0, -0, 1073741823, 1073741824, -1073741824, -1073741825, 2 ** 31, -(2 ** 31), LONG_MAX, -LONG_MAX),
);

/** Valid values of `type`, as a producer would build them (absent defaulted fields included). */
function valueOf(type: avsc.Type, depth = 0): fc.Arbitrary<unknown> {
  const t = type as unknown as TypeView;
  switch (t.typeName) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.oneof(fc.integer({ min: -70, max: 9000 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
    case 'long':
      return anyLong;
    case 'float':
      return fc.oneof(fc.float(), fc.constantFrom(0.75, Number.NaN, Infinity, -0));
    case 'double':
      return fc.oneof(fc.double(), fc.constantFrom(0.1, Number.NaN, -Infinity, -0, Number.MAX_VALUE));
    case 'string':
      return anyString;
    case 'bytes':
      return fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a));
    case 'fixed':
      return fc.uint8Array({ minLength: t.size ?? 0, maxLength: t.size ?? 0 }).map((a) => Buffer.from(a));
    case 'enum':
      return fc.constantFrom(...(t.symbols ?? []));
    case 'array':
      return fc.array(valueOf(t.itemsType as avsc.Type, depth + 1), { maxLength: depth > 2 ? 0 : 4 });
    case 'map':
      return fc.dictionary(anyString, valueOf(t.valuesType as avsc.Type, depth + 1), { maxKeys: depth > 2 ? 0 : 70 });
    case 'union:unwrapped': {
      const branches = t.types ?? [];
      // Deep down, only the first branch (null in recursive schemas) so values stay finite.
      return depth > 3 ? valueOf(branches[0] as avsc.Type, depth + 1) : fc.oneof(...branches.map((b) => valueOf(b, depth + 1)));
    }
    case 'record':
    case 'error': {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      const required: string[] = [];
      for (const field of t.fields ?? []) {
        model[field.name] = valueOf(field.type, depth + 1);
        if (field.defaultValue() === undefined) required.push(field.name);
      }
      return fc.record(model, { requiredKeys: required });
    }
    default:
      throw new Error(`no generator for ${t.typeName}`);
  }
}

/** avsc's bytes, or the fact that it refused the value. */
function avscBytes(type: avsc.Type, value: unknown): Buffer | 'invalid' {
  try {
    return type.toBuffer(value);
  } catch {
    return 'invalid';
  }
}

function compiledBytes(writer: CompiledWriter, value: unknown, size = 256): Buffer | 'invalid' {
  try {
    let buf = Buffer.alloc(size);
    let end = writer(buf, value, 0);
    if (end > buf.length) {
      buf = Buffer.alloc(end);
      end = writer(buf, value, 0);
    }
    return buf.subarray(0, end);
  } catch {
    return 'invalid';
  }
}

function same(a: Buffer | 'invalid', b: Buffer | 'invalid'): boolean {
  return a === 'invalid' || b === 'invalid' ? a === b : a.equals(b);
}

/** Every kind of Avro type in one record (the repository's schemas have no enum, fixed, bytes or double). */
const KITCHEN_SINK = schemaVersion({
  type: 'record',
  name: 'Sink',
  namespace: 'test',
  fields: [
    { name: 'b', type: 'boolean' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'raw', type: 'bytes' },
    { name: 'hash', type: { type: 'fixed', name: 'Md5', size: 16 } },
    { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] } },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
    { name: 'nested', type: { type: 'array', items: { type: 'record', name: 'Pair', fields: [{ name: 'k', type: 'string' }, { name: 'v', type: ['null', 'double'] }] } } },
    { name: 'counts', type: { type: 'map', values: ['null', 'long'] }, default: {} },
    { name: 'any', type: ['null', 'boolean', 'long', 'string', 'bytes', { type: 'array', items: 'int' }, { type: 'map', values: 'string' }] },
    { name: 'pick', type: ['Color', 'null', 'Md5'], default: 'RED' },
    { name: 'pair', type: ['null', 'Pair'], default: null },
    { name: 'maybe_d', type: ['null', 'double', { type: 'array', items: 'Pair' }], default: null },
    { name: 'note', type: 'string', default: 'défaut ✓' },
    { name: 'big', type: 'long', default: 1_700_000_000_000 },
    { name: 'nothing', type: 'null' },
  ],
});

/** A recursive schema: one function per record makes it work. */
const LINKED = schemaVersion({
  type: 'record',
  name: 'Node',
  namespace: 'test',
  fields: [
    { name: 'value', type: 'string' },
    { name: 'next', type: ['null', 'Node'], default: null },
  ],
});

const repositorySchemas = loadSchemas().all;

describe('compileWriter', () => {
  it('compiles every schema in schemas/ and the test schemas', () => {
    for (const v of [...repositorySchemas, KITCHEN_SINK, LINKED]) expect(compileWriter(v.type), v.file).toBeTypeOf('function');
  });

  for (const v of [...repositorySchemas, KITCHEN_SINK, LINKED]) {
    it(`writes avsc's bytes for random valid ${v.fullName} v${v.version} values`, () => {
      const writer = compileWriter(v.type)!;
      fc.assert(
        fc.property(valueOf(v.type), fc.integer({ min: 0, max: 400 }), (value, size) => {
          const expected = avscBytes(v.type, value);
          expect(expected).not.toBe('invalid');
          // A random starting buffer size exercises the "too small: grow and write again" path.
          expect(compiledBytes(writer, value, size)).toEqual(expected);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('writes at an offset and leaves the bytes before it alone', () => {
    const v = repositorySchemas.find((s) => s.fullName === 'mamori.Event' && s.version === 2)!;
    const writer = compileWriter(v.type)!;
    fc.assert(
      fc.property(valueOf(v.type), fc.integer({ min: 1, max: 20 }), (value, offset) => {
        const buf = Buffer.alloc(offset + 70_000, 0xab);
        const end = writer(buf, value, offset);
        expect(buf.subarray(0, offset).every((x) => x === 0xab)).toBe(true);
        expect(buf.subarray(offset, end).equals(v.type.toBuffer(value))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects exactly the values avsc rejects (one field replaced by anything)', () => {
    for (const v of [...repositorySchemas, KITCHEN_SINK]) {
      const writer = compileWriter(v.type)!;
      const fields = (v.type as unknown as TypeView).fields ?? [];
      fc.assert(
        fc.property(valueOf(v.type), fc.nat(fields.length - 1), fc.anything({ withNullPrototype: true, withBigInt: true }), (value, index, replacement) => {
          const name = fields[index]!.name;
          // avsc looks enum symbols up in a plain object, so it takes `toString` & co. for a symbol (see avro-writer.ts).
          fc.pre(!(typeof replacement === 'string' && replacement in Object.prototype));
          const broken = { ...(value as Record<string, unknown>), [name]: replacement };
          expect(same(compiledBytes(writer, broken), avscBytes(v.type, broken)), `${v.fullName}.${name} = ${fc.stringify(replacement)}`).toBe(true);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('rejects non-string map values, non-records and ints out of range, naming the field', () => {
    const v2 = repositorySchemas.find((s) => s.fullName === 'mamori.Event' && s.version === 2)!;
    const writer = compileWriter(v2.type)!;
    const buf = Buffer.alloc(1024);
    const valid = fc.sample(valueOf(v2.type), { numRuns: 1, seed: 7 })[0] as Record<string, unknown>;
    expect(() => writer(buf, valid, 0)).not.toThrow();
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid, attributes: { uid: 5 } }, 'mamori.Event.attributes[]'],
      [{ ...valid, src_port: 70000.5 }, 'mamori.Event.src_port'],
      [{ ...valid, src_port: 2 ** 31 }, 'mamori.Event.src_port'],
      [{ ...valid, time: 2 ** 53 }, 'mamori.Event.time'],
      // Non-integral, NaN and infinite longs (the integer check is Math.floor(v) === v, avsc's is v % 1 === 0).
      [{ ...valid, time: 1_700_000_000_000.5 }, 'mamori.Event.time'],
      [{ ...valid, bytes_in: 0.5 }, 'mamori.Event.bytes_in'],
      [{ ...valid, time: Number.NaN }, 'mamori.Event.time'],
      [{ ...valid, time: Infinity }, 'mamori.Event.time'],
      [{ ...valid, time: -Infinity }, 'mamori.Event.time'],
      [{ ...valid, time: '1700000000000' }, 'mamori.Event.time'],
      [{ ...valid, src_geo: 'DE' }, 'mamori.Event.src_geo'],
      [{ ...valid, src_geo: true }, 'mamori.Event.src_geo'],
      [{ ...valid, conn_state: undefined, community_id: 7 }, 'mamori.Event.community_id'],
      [{ ...valid, event_id: undefined }, 'mamori.Event.event_id'],
    ];
    for (const [value, path] of cases) {
      expect(() => v2.type.toBuffer(value)).toThrow();
      let error: unknown;
      try {
        writer(buf, value, 0);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AvroWriteError);
      expect((error as AvroWriteError).path).toBe(path);
    }
    // A null record value fails on the property access, as in avsc.
    expect(() => writer(buf, { ...valid, raw: null }, 0)).toThrow(TypeError);
    expect(() => v2.type.toBuffer({ ...valid, raw: null })).toThrow(TypeError);
  });

  it('writes unpaired surrogates as U+FFFD (well-formed UTF-8, as Buffer.from), at any length', () => {
    const type = schemaVersion({ type: 'record', name: 'S', fields: [{ name: 's', type: 'string' }] }).type;
    const writer = compileWriter(type)!;
    for (const s of ['\ud800', 'a\udc00b', `${'x'.repeat(70)}\ud83d`, '\ud83d\ude00\ud83d']) {
      const bytes = compiledBytes(writer, { s }) as Buffer;
      const utf8 = Buffer.from(s, 'utf8');
      expect(bytes.subarray(bytes.length - utf8.length).equals(utf8)).toBe(true);
      expect(type.fromBuffer(bytes)).toEqual({ s: utf8.toString('utf8') });
    }
  });

  it('writes a map with 64 or more entries with a multi-byte count (as avsc)', () => {
    const v2 = repositorySchemas.find((s) => s.fullName === 'mamori.Event' && s.version === 2)!;
    const writer = compileWriter(v2.type)!;
    const base = fc.sample(valueOf(v2.type), { numRuns: 1, seed: 3 })[0] as Record<string, unknown>;
    for (const n of [0, 1, 63, 64, 65, 300]) {
      const attributes = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));
      const value = { ...base, attributes };
      expect(compiledBytes(writer, value, 16)).toEqual(v2.type.toBuffer(value));
    }
  });

  it('leaves schemas it does not compile to avsc (wrapped unions)', () => {
    const wrapped = schemaVersion({
      type: 'record',
      name: 'W',
      fields: [{ name: 'u', type: [{ type: 'record', name: 'A', fields: [{ name: 'a', type: 'int' }] }, { type: 'record', name: 'B', fields: [{ name: 'b', type: 'int' }] }] }],
    });
    expect(wrapped.type.toBuffer({ u: { A: { a: 1 } } }).length).toBeGreaterThan(0);
    expect(compileWriter(wrapped.type)).toBeUndefined();
    expect(compileWriter(avsc.Type.forSchema('string'))).toBeUndefined();
  });
});
