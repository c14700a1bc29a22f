import { ipv4BytesToUint32 } from '@mamori/core';
import { writeAvroLong, writeAvroString, type FieldWriter } from '@mamori/events';
import type { EventHead, KnownAddresses } from '../../enrich/enricher.ts';
import { eventIdPrefix } from '../event-id.ts';
import type { DecodeContext } from '../types.ts';
import { buildEvent, FieldError, idField, type ConnFields } from './decode.ts';

/*
 * The fused Zeek conn path: one flat JSON line scanned straight from the record's bytes, the mapped
 * fields read as JS values (the general path's checks then build the event from them), every other
 * field kept as a byte range of the line and written to the Avro `attributes` map from there. No
 * JSON.parse, no parsed object, no attributes object. Why: JSON.parse alone cost ~40% of parse +
 * normalize + encode, and the attributes map was built only to be encoded.
 *
 * The scan reads the Buffer's bytes in one pass (string contents checked as they are crossed, keys
 * compared four bytes at a time against the key that followed last time) rather than through String
 * builtins on a text copy: on the bench machine a builtin call per field (startsWith, indexOf) and a
 * regex test of the whole line cost more than the bytes they saved reading; dropping them took the
 * path from 7.0-9.1 to 5.5-6.6 µs a line (same process, load 2-5).
 *
 * It takes only what it can read exactly as JSON.parse + `connToEvent` would, and declines anything
 * else (undefined), which the general path then decodes: a record that is not one object on one
 * line (pretty-printed, NDJSON, TSV), non-ASCII bytes, escapes, control characters, nested objects
 * (the `id` object shape), arrays of arrays or objects, duplicate attribute keys, keys that JSON.parse
 * would reorder (array indices) or that an object cannot hold (`__proto__`), numbers it cannot
 * convert exactly, invalid JSON, and any value the event checks refuse (the general path reports
 * those). The differential tests (fast.test.ts) hold it to byte-identical Avro with the general path.
 */

// Slots of the mapped keys: JS values as JSON.parse gives them, undefined when absent.
const TS = 0;
const ORIG_H = 1;
const ORIG_P = 2;
const RESP_H = 3;
const RESP_P = 4;
const ORIG_H_ = 5;
const ORIG_P_ = 6;
const RESP_H_ = 7;
const RESP_P_ = 8;
const PROTO = 9;
const DURATION = 10;
const ORIG_BYTES = 11;
const RESP_BYTES = 12;
const ORIG_PKTS = 13;
const RESP_PKTS = 14;
const CONN_STATE = 15;
const COMMUNITY_ID = 16;
const SLOTS = 17;

/** A key not copied to attributes (as decode.ts's MAPPED), by slot. */
const MAPPED_SLOT: ReadonlyMap<string, number> = new Map([
  ['ts', TS],
  ['id.orig_h', ORIG_H], ['id.orig_p', ORIG_P], ['id.resp_h', RESP_H], ['id.resp_p', RESP_P],
  ['id_orig_h', ORIG_H_], ['id_orig_p', ORIG_P_], ['id_resp_h', RESP_H_], ['id_resp_p', RESP_P_],
  ['proto', PROTO], ['duration', DURATION], ['orig_bytes', ORIG_BYTES], ['resp_bytes', RESP_BYTES],
  ['orig_pkts', ORIG_PKTS], ['resp_pkts', RESP_PKTS], ['conn_state', CONN_STATE], ['community_id', COMMUNITY_ID],
]);

/** Kinds of keys besides mapped slots (≥ 0). */
const ATTRIBUTE = -1;
/** Keys the fused path leaves to the general one: `id` (the nested shape), `__proto__`, array indices. */
const DECLINE = -2;

interface Key {
  /** The key's bytes and its closing quote, as they stand in the line. */
  readonly quoted: Uint8Array;
  /** The first `quoted.length >> 2` groups of 4 bytes of `quoted`, little-endian: compared a group at a time. */
  readonly words: Int32Array;
  /** Slot (≥ 0), ATTRIBUTE or DECLINE. */
  readonly kind: number;
  /** Where the key stands as an Avro string (length, UTF-8 bytes) in `keyBytes`, for attributes. */
  readonly avroStart: number;
  readonly avroEnd: number;
  /** Line stamp of its last occurrence: a second one in a line is a duplicate. */
  seen: number;
  /** The key that followed it last time: Zeek writes its fields in one order, so this is mostly right. */
  next: Key | null;
}

/**
 * The Avro strings of all keys, one after another: the attributes writer copies each key from this
 * one array, where it read a Buffer per key (its length, and a differently backed array each time).
 * Grows by copying (offsets stay valid); starts over with the key table.
 */
let keyBytes = Buffer.alloc(4096);
let keyBytesEnd = 0;

function newKey(text: string, kind: number): Key {
  const quoted = Buffer.from(text + '"', 'latin1');
  const words = new Int32Array(quoted.length >> 2);
  for (let i = 0; i < words.length; i++) words[i] = quoted.readInt32LE(4 * i);
  // An Avro string of `text` takes at most 3 bytes per UTF-16 unit and a 5-byte length.
  const room = keyBytesEnd + 3 * text.length + 5;
  if (room > keyBytes.length) {
    const grown = Buffer.alloc(Math.max(2 * keyBytes.length, room));
    keyBytes.copy(grown, 0, 0, keyBytesEnd);
    keyBytes = grown;
  }
  const avroStart = keyBytesEnd;
  keyBytesEnd = writeAvroString(keyBytes, text, avroStart);
  return { quoted, words, kind, avroStart, avroEnd: keyBytesEnd, seen: 0, next: null };
}

function kindOf(text: string): number {
  const slot = MAPPED_SLOT.get(text);
  if (slot !== undefined) return slot;
  const c = text.charCodeAt(0);
  // Any key starting with a digit (a superset of array indices, which JSON.parse orders first).
  if (text === 'id' || text === '__proto__' || (c >= 48 && c <= 57)) return DECLINE;
  return ATTRIBUTE;
}

/** Distinct keys kept; past this the table starts over (hostile input cannot grow it without bound). */
export const MAX_KEYS = 4096;
let keys = new Map<string, Key>();
let root: Key = newKey('', DECLINE);
let stamp = 0;

/** The key's entry, or null when the table was full: it starts over, and the line is declined. */
function lookup(text: string): Key | null {
  const known = keys.get(text);
  if (known !== undefined) return known;
  if (keys.size >= MAX_KEYS) {
    // A new table and root: no link leads from them to an old key, so one key text never has two
    // Key objects in use (duplicate detection relies on one). The line being scanned may already
    // hold old ones: it goes the general way.
    keys = new Map();
    keyBytes = Buffer.alloc(4096);
    keyBytesEnd = 0;
    root = newKey('', DECLINE);
    return null;
  }
  const key = newKey(text, kindOf(text));
  keys.set(text, key);
  return key;
}

/**
 * Whether the line holds `key` (its bytes and closing quote) at `p`. Four bytes at a time against the
 * key's words (one compare and branch per group instead of per byte; unaligned 32-bit loads through a
 * DataView measured slower here), then the last bytes one by one.
 */
function holdsAt(b: Buffer, p: number, key: Key): boolean {
  const quoted = key.quoted;
  const n = quoted.length;
  if (p + n > b.length) return false;
  const words = key.words;
  const w = words.length;
  let q = p;
  for (let i = 0; i < w; i++, q += 4) {
    if (((b[q] as number) | ((b[q + 1] as number) << 8) | ((b[q + 2] as number) << 16) | ((b[q + 3] as number) << 24)) !== words[i]) return false;
  }
  for (let i = w << 2; i < n; i++) if (b[p + i] !== quoted[i]) return false;
  return true;
}

/**
 * The closing quote of the JSON string whose content starts at `p`, or -1 when the string holds
 * anything but printable ASCII (escapes, control characters, DEL, non-ASCII bytes) or does not close
 * before `end`: the fused path declines those. Every byte inside a string passes this check (keys
 * the prediction matched were checked when first seen); every byte outside one is structure,
 * a number or a literal checked as such, or a space: so the fused path takes printable ASCII only.
 */
function stringEnd(b: Buffer, p: number, end: number): number {
  for (; p < end; p++) {
    const c = b[p] as number;
    if (c === 0x22) return p;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
  }
  return -1;
}

/** Buffer#latin1Slice (Node's own, behind toString('latin1')): the text of ASCII bytes without toString's argument handling. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Buffer, start: number, end: number): string }).latin1Slice;

// The line being scanned and what the scan found (one scratch set: decoding is synchronous, and the
// attributes are written before the next record is scanned).
let src: Buffer = Buffer.alloc(0);
/** The (trimmed) line as text: one native copy, for the few values read as JS strings. */
let text = '';
const slots: unknown[] = new Array<unknown>(SLOTS).fill(undefined);
/** Where a mapped slot's string value stands in the line (its last occurrence; read only when the slot holds a string). */
const slotStart = new Int32Array(SLOTS);
const slotEnd = new Int32Array(SLOTS);
const MAX_ATTRIBUTES = 256;
let attrCount = 0;
const attrKeys: Key[] = [];
/** Range of a value written as it stands in the line (ASCII: character and byte offsets agree); start -1: the text is in attrTexts. */
const attrStart = new Int32Array(MAX_ATTRIBUTES);
const attrEnd = new Int32Array(MAX_ATTRIBUTES);
const attrTexts: string[] = [];

/** 10^k, exact for k ≤ 22. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

// Results of scanNumber.
let numValue = 0;
/** The number's text is `'' + numValue` (so it can be copied as the attribute text). */
let numCanonical = false;

/**
 * A JSON number at `p`: its end, or -1 when the text is not one. The value is JSON.parse's: a
 * digit string m below 2^53 is exact, and so is m / 10^k for k ≤ 22 (both operands exactly
 * representable; IEEE division rounds correctly, as JSON.parse does: Clinger's fast path); anything
 * longer or with an exponent goes through Number(), which converts like JSON.parse.
 */
function scanNumber(b: Buffer, p: number): number {
  const start = p;
  const neg = b[p] === 0x2d;
  if (neg) p++;
  let c = b[p] as number;
  let m = 0;
  if (c === 0x30) {
    c = b[++p] as number;
  } else if (c >= 0x31 && c <= 0x39) {
    do {
      m = m * 10 + (c - 0x30);
      c = b[++p] as number;
    } while (c >= 0x30 && c <= 0x39);
  } else {
    return -1;
  }
  let scale = 0;
  if (c === 0x2e) {
    c = b[++p] as number;
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do {
      m = m * 10 + (c - 0x30);
      scale++;
      c = b[++p] as number;
    } while (c >= 0x30 && c <= 0x39);
  }
  let exponent = false;
  if (c === 0x65 || c === 0x45) {
    exponent = true;
    c = b[++p] as number;
    if (c === 0x2b || c === 0x2d) c = b[++p] as number;
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do c = b[++p] as number;
    while (c >= 0x30 && c <= 0x39);
  }
  // m < 2^53: every digit step was exact (monotone rounding cannot bring a larger m below 2^53).
  if (!exponent && m < 9007199254740992 && scale <= 22) {
    const v = scale === 0 ? m : m / (POW10[scale] as number);
    numValue = neg ? -v : v;
    numCanonical = scale === 0 && !(neg && m === 0);
  } else {
    numValue = Number(text.slice(start, p));
    numCanonical = false;
  }
  return p;
}

function skipSpace(b: Buffer, p: number): number {
  while (b[p] === 0x20) p++;
  return p;
}

/** `true`, `false` or `null` at `p` (its first byte already seen): its length, or 0 when it is none of them. */
function literalAt(b: Buffer, p: number, c: number): number {
  if (c === 0x74) return b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65 ? 4 : 0;
  if (c === 0x66) return b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65 ? 5 : 0;
  if (c === 0x6e) return b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c ? 4 : 0;
  return 0;
}

/** An array attribute as `attributeValue` writes it (items joined by commas) into attrTexts[at]; its end, or -1 to decline. */
function scanArray(b: Buffer, p: number, end: number, at: number): number {
  let joined = '';
  p = skipSpace(b, p + 1);
  if (b[p] === 0x5d) {
    attrTexts[at] = joined;
    return p + 1;
  }
  for (let first = true; ; first = false) {
    const c = b[p] as number;
    let item: string;
    let n: number;
    if (c === 0x22) {
      const close = stringEnd(b, p + 1, end);
      if (close < 0) return -1;
      item = text.slice(p + 1, close);
      p = close + 1;
    } else if ((n = literalAt(b, p, c)) > 0) {
      item = n === 5 ? 'false' : c === 0x74 ? 'true' : 'null';
      p += n;
    } else {
      const q = scanNumber(b, p);
      // JSON.stringify writes a non-finite number (1e999) as null: left to the general path.
      if (q < 0 || !Number.isFinite(numValue)) return -1;
      item = '' + numValue;
      p = q;
    }
    joined = first ? item : joined + ',' + item;
    p = skipSpace(b, p);
    const d = b[p];
    if (d === 0x2c) p = skipSpace(b, p + 1);
    else if (d === 0x5d) break;
    else return -1;
  }
  attrTexts[at] = joined;
  return p + 1;
}

/** Scans the record as one flat JSON object on one line; false to decline. */
function scan(b: Buffer): boolean {
  if (b[0] !== 0x7b) return false;
  // Trailing line breaks and blanks: the general path trims them (and skips the blank line after).
  let end = b.length;
  for (let c = b[end - 1]; c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09; c = b[end - 1]) end--;
  text = latin1Slice.call(b, 0, end);
  for (let i = 0; i < SLOTS; i++) slots[i] = undefined;
  attrCount = 0;
  src = b;
  const line = ++stamp;
  let p = skipSpace(b, 1);
  let prev = root;
  for (;;) {
    if (b[p] !== 0x22) return false;
    p++;
    let key = prev.next;
    if (key !== null && holdsAt(b, p, key)) {
      p += key.quoted.length;
    } else {
      const close = stringEnd(b, p, end);
      if (close < 0) return false;
      key = lookup(text.slice(p, close));
      if (key === null) return false;
      prev.next = key;
      p = close + 1;
    }
    const kind = key.kind;
    if (kind === DECLINE) return false;
    // A repeated mapped key: JSON.parse keeps the last value, as the slot does. A repeated
    // attribute key keeps its first position with the last value: left to the general path.
    if (key.seen === line && kind === ATTRIBUTE) return false;
    key.seen = line;
    prev = key;
    p = skipSpace(b, p);
    if (b[p] !== 0x3a) return false;
    p = skipSpace(b, p + 1);
    const c = b[p] as number;
    let n: number;
    if (kind >= 0) {
      if (c === 0x22) {
        const close = stringEnd(b, p + 1, end);
        if (close < 0) return false;
        slots[kind] = text.slice(p + 1, close);
        slotStart[kind] = p + 1;
        slotEnd[kind] = close;
        p = close + 1;
      } else if ((n = literalAt(b, p, c)) > 0) {
        slots[kind] = n === 5 ? false : c === 0x74 ? true : null;
        p += n;
      } else {
        // Arrays and objects in mapped fields are invalid events: the general path reports them.
        const q = scanNumber(b, p);
        if (q < 0) return false;
        slots[kind] = numValue;
        p = q;
      }
    } else {
      const at = attrCount;
      if (at >= MAX_ATTRIBUTES) return false;
      attrKeys[at] = key;
      let kept = true;
      if (c === 0x22) {
        const close = stringEnd(b, p + 1, end);
        if (close < 0) return false;
        attrStart[at] = p + 1;
        attrEnd[at] = close;
        p = close + 1;
      } else if ((n = literalAt(b, p, c)) > 0) {
        // null (Zeek's unset) is no attribute; true and false are written as they stand.
        if (c === 0x6e) kept = false;
        attrStart[at] = p;
        p += n;
        attrEnd[at] = p;
      } else if (c === 0x5b) {
        const q = scanArray(b, p, end, at);
        if (q < 0) return false;
        attrStart[at] = -1;
        p = q;
      } else {
        const q = scanNumber(b, p);
        if (q < 0) return false;
        if (numCanonical) {
          attrStart[at] = p;
          attrEnd[at] = q;
        } else {
          // `'' + value`, as attributeValue writes numbers ("1.50" is "1.5", 1e999 "Infinity").
          attrTexts[at] = '' + numValue;
          attrStart[at] = -1;
        }
        p = q;
      }
      if (kept) attrCount = at + 1;
    }
    p = skipSpace(b, p);
    const d = b[p];
    if (d === 0x2c) {
      p = skipSpace(b, p + 1);
      continue;
    }
    // The closing brace must end the (trimmed) line.
    return d === 0x7d && p + 1 === end;
  }
}

const fields: ConnFields = {
  ts: undefined, origH: undefined, origP: undefined, respH: undefined, respP: undefined, proto: undefined, duration: undefined,
  origBytes: undefined, respBytes: undefined, origPkts: undefined, respPkts: undefined, connState: undefined, communityId: undefined,
  origV4: -1, respV4: -1,
};

/** The addresses of the last event {@link fuseZeekConn} returned, as IPv4 values (-1: not IPv4), for enrichment. */
export const fusedAddresses: KnownAddresses = { src: -1, dst: -1 };

/** The IPv4 value of the address in `slot` (read from the line's bytes), or -1 when it holds no IPv4 text. */
function addressV4(slot: number): number {
  return typeof slots[slot] === 'string' ? ipv4BytesToUint32(src, slotStart[slot] as number, slotEnd[slot] as number) : -1;
}

/**
 * The event of a one-line Zeek conn JSON record without its attributes (write them with
 * {@link writeFusedAttributes} before the next call), or undefined when the fused path declines the
 * record and the general path must decode it.
 */
export function fuseZeekConn(bytes: Buffer, ctx: DecodeContext): (EventHead & { attributes: undefined }) | undefined {
  if (!scan(bytes)) return undefined;
  const f = fields;
  f.ts = slots[TS];
  f.origH = idField(slots[ORIG_H], slots[ORIG_H_], undefined, 'orig_h');
  f.origP = idField(slots[ORIG_P], slots[ORIG_P_], undefined, 'orig_p');
  f.respH = idField(slots[RESP_H], slots[RESP_H_], undefined, 'resp_h');
  f.respP = idField(slots[RESP_P], slots[RESP_P_], undefined, 'resp_p');
  f.proto = slots[PROTO];
  f.duration = slots[DURATION];
  f.origBytes = slots[ORIG_BYTES];
  f.respBytes = slots[RESP_BYTES];
  f.origPkts = slots[ORIG_PKTS];
  f.respPkts = slots[RESP_PKTS];
  f.connState = slots[CONN_STATE];
  f.communityId = slots[COMMUNITY_ID];
  // The slots idField picked, read as IPv4 from the bytes once: the event check and enrichment
  // (fusedAddresses) then skip parsing the text again.
  const origV4 = (f.origV4 = addressV4(slots[ORIG_H] !== undefined ? ORIG_H : ORIG_H_));
  const respV4 = (f.respV4 = addressV4(slots[RESP_H] !== undefined ? RESP_H : RESP_H_));
  fusedAddresses.src = origV4;
  fusedAddresses.dst = respV4;
  try {
    return buildEvent(f, undefined, ctx, eventIdPrefix(ctx.topic, ctx.partition, ctx.offset), 0);
  } catch (error) {
    // The general path reports the bad field (FIELD_INVALID) with its own message.
    if (error instanceof FieldError) return undefined;
    throw error;
  }
}

/**
 * The attributes of the last record {@link fuseZeekConn} took, as the Avro map `attributes`
 * (one block of every entry in the line's order, then the empty block): the bytes the compiled
 * writer gives for the map `connToEvent` builds. Stores past the buffer's end are dropped.
 */
export const writeFusedAttributes: FieldWriter = (b, pos) => {
  let p = pos;
  const n = attrCount;
  if (n > 0) {
    p = writeAvroLong(b, n, p);
    const line = src;
    const names = keyBytes;
    for (let i = 0; i < n; i++) {
      const key = attrKeys[i] as Key;
      const keyEnd = key.avroEnd;
      for (let j = key.avroStart; j < keyEnd; j++) b[p++] = names[j] as number;
      const start = attrStart[i] as number;
      if (start < 0) {
        p = writeAvroString(b, attrTexts[i] as string, p);
        continue;
      }
      const end = attrEnd[i] as number;
      const len = end - start;
      // ASCII: the length in bytes is the length in characters.
      if (len < 64) b[p++] = len << 1;
      else p = writeAvroLong(b, len, p);
      if (len < 32) {
        for (let j = start; j < end; j++) b[p++] = line[j] as number;
      } else {
        if (p + len <= b.length) line.copy(b, p, start, end);
        p += len;
      }
    }
  }
  b[p++] = 0;
  return p;
};
