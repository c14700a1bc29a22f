/**
 * Deterministic event ids: FNV-1a 64 over `<topic>:<partition>:<offset>:<line>`, as 16 hex digits.
 * Computed in four 16-bit limbs (no BigInt) because it runs once per event. Input is hashed per
 * UTF-16 code unit, which equals the byte-wise FNV-1a for ASCII (topics are ASCII).
 */
export type FnvState = [number, number, number, number];

/** The FNV-1a 64 offset basis, 0xcbf29ce484222325, low limb first. */
export function fnvInit(): FnvState {
  return [0x2325, 0x8422, 0x9ce4, 0xcbf2];
}

/** Hashes `text` into a copy of `state`. */
export function fnvUpdate(state: Readonly<FnvState>, text: string): FnvState {
  let [h0, h1, h2, h3] = state;
  for (let i = 0; i < text.length; i++) {
    h0 ^= text.charCodeAt(i);
    // Multiply by the FNV prime 0x100000001b3 = limbs (0x01b3, 0, 0x0100, 0), keeping 64 bits.
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + h0 * 0x100 + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h0, h1, h2, h3];
}

const HEX = Array.from({ length: 65536 }, (_, i) => i.toString(16).padStart(4, '0'));

export function fnvHex(state: Readonly<FnvState>): string {
  return (HEX[state[3]] as string) + (HEX[state[2]] as string) + (HEX[state[1]] as string) + (HEX[state[0]] as string);
}

/** FNV-1a 64 of `text` as 16 hex digits. */
export function fnv1a64Hex(text: string): string {
  return fnvHex(fnvUpdate(fnvInit(), text));
}

/** The prefix state of a raw record; finish with `eventIdAt(prefix, line)`. */
export function eventIdPrefix(topic: string, partition: number, offset: number): FnvState {
  return fnvUpdate(fnvInit(), `${topic}:${partition}:${offset}:`);
}

export function eventIdAt(prefix: Readonly<FnvState>, line: number): string {
  return fnvHex(fnvUpdate(prefix, String(line)));
}

/** event_id of line `line` of the raw record at topic/partition/offset. */
export function eventId(topic: string, partition: number, offset: number, line: number): string {
  return fnv1a64Hex(`${topic}:${partition}:${offset}:${line}`);
}
