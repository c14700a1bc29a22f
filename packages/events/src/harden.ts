import avsc from 'avsc';

/**
 * avsc trusts the block counts of arrays and maps: a forged count of 10^9 in a few garbage bytes
 * makes it loop (or allocate) for that long. Every item here takes at least one byte, so a count
 * larger than the bytes left is invalid; these replacements mark the read truncated instead.
 * They live on subclasses (never on avsc's own prototypes) and reach resolvers too, because avsc
 * copies the reader's `_read` onto array and map resolvers.
 */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string;
  skipString(): void;
}
interface Reader {
  _read(tap: Tap): unknown;
  _skip(tap: Tap): void;
}

function truncate(tap: Tap): void {
  tap.pos = tap.buf.length + 1;
}

function readArray(this: { itemsType: Reader }, tap: Tap): unknown[] {
  const items = this.itemsType;
  const out: unknown[] = [];
  let n: number;
  while ((n = tap.readLong())) {
    if (n < 0) {
      n = -n;
      tap.skipLong();
    }
    if (n > tap.buf.length - tap.pos) {
      truncate(tap);
      return out;
    }
    while (n--) out.push(items._read(tap));
  }
  return out;
}

function skipArray(this: { itemsType: Reader }, tap: Tap): void {
  const items = this.itemsType;
  let n: number;
  while ((n = tap.readLong())) {
    if (n < 0) {
      tap.pos += tap.readLong();
      continue;
    }
    if (n > tap.buf.length - tap.pos) return truncate(tap);
    while (n--) items._skip(tap);
  }
}

function readMap(this: { valuesType: Reader }, tap: Tap): Record<string, unknown> {
  const values = this.valuesType;
  const out: Record<string, unknown> = {};
  let n: number;
  while ((n = tap.readLong())) {
    if (n < 0) {
      n = -n;
      tap.skipLong();
    }
    if (n > tap.buf.length - tap.pos) {
      truncate(tap);
      return out;
    }
    while (n--) {
      const key = tap.readString();
      out[key] = values._read(tap);
    }
  }
  return out;
}

function skipMap(this: { valuesType: Reader }, tap: Tap): void {
  const values = this.valuesType;
  let n: number;
  while ((n = tap.readLong())) {
    if (n < 0) {
      tap.pos += tap.readLong();
      continue;
    }
    if (n > tap.buf.length - tap.pos) return truncate(tap);
    while (n--) {
      tap.skipString();
      values._skip(tap);
    }
  }
}

type TypeCtor = new (schema: unknown, opts: unknown) => avsc.Type;
const builtins = avsc.types as unknown as { ArrayType: TypeCtor; MapType: TypeCtor };

// avsc freezes every Type, so the bounded readers live on subclasses chosen through `typeHook`.
class BoundedArrayType extends builtins.ArrayType {}
Object.assign(BoundedArrayType.prototype, { _read: readArray, _skip: skipArray });
class BoundedMapType extends builtins.MapType {}
Object.assign(BoundedMapType.prototype, { _read: readMap, _skip: skipMap });

function typeHook(schema: unknown, opts: unknown): avsc.Type | undefined {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return undefined;
  const kind = (schema as { type?: unknown }).type;
  if (kind === 'array') return new BoundedArrayType(schema, opts);
  if (kind === 'map') return new BoundedMapType(schema, opts);
  return undefined;
}

/** Parses a schema into an avsc Type whose arrays and maps reject forged block counts. */
export function parseHardened(schema: unknown): avsc.Type {
  return avsc.Type.forSchema(schema as avsc.Schema, { typeHook } as unknown as Partial<avsc.ForSchemaOptions>);
}
