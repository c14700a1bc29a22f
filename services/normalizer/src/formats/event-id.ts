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

// The running hash of the functions below. Module-level limbs instead of a returned tuple: the hot
// path (one id per event) then allocates nothing but the id string.
let h0 = 0;
let h1 = 0;
let h2 = 0;
let h3 = 0;

function load(state: Readonly<FnvState>): void {
  h0 = state[0];
  h1 = state[1];
  h2 = state[2];
  h3 = state[3];
}

/** One code unit into the running hash. */
function step(c: number): void {
  h0 ^= c;
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

function stepText(text: string): void {
  for (let i = 0; i < text.length; i++) step(text.charCodeAt(i));
}

/** Digits of the number being hashed, least significant first (at most 10 below 2^31). */
const digits = new Int32Array(10);

/** Hashes the decimal digits of `n` as `String(n)` would write them. */
function stepNumber(n: number): void {
  // Non-negative integers below 2^31 with int32 arithmetic (`% 10` and `/ 10` on int32 compile to
  // multiplications; the float division and Math.floor per digit cost more than the hash step);
  // anything else through String().
  if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) {
    let k = 0;
    let m = n | 0;
    do {
      digits[k++] = m % 10;
      m = (m / 10) | 0;
    } while (m !== 0);
    while (k > 0) step(48 + (digits[--k] as number));
  } else {
    stepText(String(n));
  }
}

/** Hashes `text` into a copy of `state`. */
export function fnvUpdate(state: Readonly<FnvState>, text: string): FnvState {
  load(state);
  stepText(text);
  return [h0, h1, h2, h3];
}

const HEX = Array.from({ length: 65536 }, (_, i) => i.toString(16).padStart(4, '0'));

/** Char codes of '0'..'9', 'a'..'f'. */
const HEX_DIGIT = Array.from('0123456789abcdef', (d) => d.charCodeAt(0));

function limbChars(limb: number, k: number): number {
  return HEX_DIGIT[(limb >>> k) & 15] as number;
}

/** The running hash as 16 hex digits: one flat string (no chain of concatenations to flatten later). */
function hexOfRunning(): string {
  return String.fromCharCode(
    limbChars(h3, 12), limbChars(h3, 8), limbChars(h3, 4), limbChars(h3, 0),
    limbChars(h2, 12), limbChars(h2, 8), limbChars(h2, 4), limbChars(h2, 0),
    limbChars(h1, 12), limbChars(h1, 8), limbChars(h1, 4), limbChars(h1, 0),
    limbChars(h0, 12), limbChars(h0, 8), limbChars(h0, 4), limbChars(h0, 0),
  );
}

export function fnvHex(state: Readonly<FnvState>): string {
  return (HEX[state[3]] as string) + (HEX[state[2]] as string) + (HEX[state[1]] as string) + (HEX[state[0]] as string);
}

/** FNV-1a 64 of `text` as 16 hex digits. */
export function fnv1a64Hex(text: string): string {
  return fnvHex(fnvUpdate(fnvInit(), text));
}

/** `<topic>:` hashed, per topic (a process sees a handful of raw topics; the cache is bounded anyway). */
const topicStates = new Map<string, FnvState>();
const MAX_CACHED_TOPICS = 256;

/** The prefix state of a raw record; finish with `eventIdAt(prefix, line)`. */
export function eventIdPrefix(topic: string, partition: number, offset: number): FnvState {
  let topicState = topicStates.get(topic);
  if (topicState === undefined) {
    topicState = fnvUpdate(fnvInit(), `${topic}:`);
    if (topicStates.size >= MAX_CACHED_TOPICS) topicStates.clear();
    topicStates.set(topic, topicState);
  }
  load(topicState);
  stepNumber(partition);
  step(58); // ':'
  stepNumber(offset);
  step(58);
  return [h0, h1, h2, h3];
}

export function eventIdAt(prefix: Readonly<FnvState>, line: number): string {
  load(prefix);
  stepNumber(line);
  return hexOfRunning();
}

/** event_id of line `line` of the raw record at topic/partition/offset. */
export function eventId(topic: string, partition: number, offset: number, line: number): string {
  return fnv1a64Hex(`${topic}:${partition}:${offset}:${line}`);
}
