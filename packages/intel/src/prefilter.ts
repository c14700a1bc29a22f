/**
 * Cache-resident membership prefilters for the indicator index. With a million indicators the
 * index's tables (tens of MiB) no longer fit in CPU caches, and most lookups (most events match
 * nothing) would pay a cache miss or several on a hash-table probe chain and a key compare only to
 * find nothing. A prefilter answers "certainly absent" for nearly all of them from one cache line
 * of a much smaller array; "maybe present" (every present key, plus a small share of absent ones)
 * falls through to the real lookup, so results never change, only what a miss costs.
 */

/** 32-bit finalizer (MurmurHash3 fmix32): every input bit affects every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over the UTF-16 code units of `s[from, to)`, finalized with {@link mix32}. Strings are
 * hashed here rather than left to V8 because the per-event path probes substrings (a domain's
 * parents, a URL without its query) that would otherwise have to be sliced into new strings first.
 */
export function hashString(s: string, from = 0, to = s.length): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return mix32(h);
}

/**
 * FNV-1a over the code units of `s[from, to)` in reverse order, finalized with {@link mix32}: a
 * domain's parents are its suffixes, and in reverse order a longer suffix extends the state of a
 * shorter one, so one pass from the end of a name hashes every parent (see
 * `IndicatorIndex.matchDomain`, which inlines that pass with {@link FNV_PRIME}).
 */
export function hashReverse(s: string, from = 0, to = s.length): number {
  let h = FNV_OFFSET;
  for (let i = to - 1; i >= from; i--) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return mix32(h);
}

/** Per-word salts of the split-block scheme (odd constants; each picks one bit of a 32-bit word). */
const SALT0 = 0x47b6137b;
const SALT1 = 0x44974d91;
const SALT2 = 0x8824ad5b;
const SALT3 = 0xa2b7289d;
const SALT4 = 0x705495c7;
const SALT5 = 0x2df1424b;
const SALT6 = 0x9efc4947;
const SALT7 = 0x5c6bfb31;

/**
 * A split-block Bloom filter: blocks of eight 32-bit words (32 bytes, half a cache line); a key
 * picks one block with one hash and sets one bit in each of its eight words with a second, so a
 * lookup reads one block whatever the size. At 10 bits per key about 1% of absent keys pass.
 * Keys are 32-bit hashes (see {@link mix32}, {@link hashString}); the filter grows by being rebuilt
 * by its owner: {@link full} says when the keys added exceed what it was sized for.
 */
export class BlockedBloom {
  private words: Uint32Array;
  private blockMask: number;
  private count = 0;
  private capacity: number;

  constructor(expectedKeys = 0, private readonly bitsPerKey = 10) {
    const { words, blockMask, capacity } = BlockedBloom.allocate(expectedKeys, bitsPerKey);
    this.words = words;
    this.blockMask = blockMask;
    this.capacity = capacity;
  }

  private static allocate(expectedKeys: number, bitsPerKey: number): { words: Uint32Array; blockMask: number; capacity: number } {
    let blocks = 1;
    while (blocks * 256 < expectedKeys * bitsPerKey) blocks *= 2;
    return { words: new Uint32Array(blocks * 8), blockMask: blocks - 1, capacity: Math.floor((blocks * 256) / bitsPerKey) };
  }

  /** Keys added since the last reset. */
  get size(): number {
    return this.count;
  }

  /** More keys than the filter was sized for: the owner should {@link reset} it larger and add every key again. */
  get full(): boolean {
    return this.count > this.capacity;
  }

  /** Bytes of the bit array. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Empties the filter, sized for `expectedKeys`. */
  reset(expectedKeys: number): void {
    const { words, blockMask, capacity } = BlockedBloom.allocate(expectedKeys, this.bitsPerKey);
    this.words = words;
    this.blockMask = blockMask;
    this.capacity = capacity;
    this.count = 0;
  }

  // The hashing helpers are methods so that the per-event path calls them on the filter object it
  // already holds: calling imported functions and constants in these loops from the index module
  // profiled as getter frames under tsx and made the filtered path 2-3x slower than the unfiltered one.

  /** Adds a 32-bit integer key (an IPv4 address). */
  addU32(key: number): void {
    this.add(mix32(key));
  }

  mayContainU32(key: number): boolean {
    return this.mayContain(mix32(key));
  }

  /** Adds a string key hashed with {@link hashString}. */
  addString(key: string): void {
    this.add(hashString(key));
  }

  mayContainString(key: string): boolean {
    return this.mayContain(hashString(key));
  }

  /** Adds a string key hashed with {@link hashReverse} (domains). */
  addReversed(key: string): void {
    this.add(hashReverse(key));
  }

  /**
   * The {@link hashReverse} hash of every suffix of `name` that starts at a label (`b.c`, `a.b.c` for
   * `a.b.c`: entry m - 1 is the suffix of m labels, `starts[m - 1]` where it begins), in one pass from
   * the end; returns the label count. At most `starts.length` labels are hashed.
   */
  hashSuffixes(name: string, starts: Int32Array, hashes: Uint32Array): number {
    const max = starts.length - 1;
    let n = 0;
    let h = FNV_OFFSET;
    for (let i = name.length - 1; i >= 0; i--) {
      const c = name.charCodeAt(i);
      if (c === 46 && n < max) {
        starts[n] = i + 1;
        hashes[n] = mix32(h);
        n++;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    starts[n] = 0;
    hashes[n] = mix32(h);
    return n + 1;
  }

  /**
   * {@link hashString} of `key` into `out[0]` and of its part before the first `?` into `out[1]` (one
   * pass: that is a state of the same hash); returns the index of that `?`, or -1.
   */
  hashUrl(key: string, out: Uint32Array): number {
    let h = FNV_OFFSET;
    let q = -1;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c === 63 && q < 0) {
        q = i;
        out[1] = mix32(h);
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    out[0] = mix32(h);
    return q;
  }

  /** Adds a key given as a 32-bit hash (already mixed: its low bits pick the block). */
  add(hash: number): void {
    const w = this.words;
    const b = (hash & this.blockMask) << 3;
    const k = mix32(hash ^ 0x9e3779b9);
    w[b] = w[b]! | (1 << (Math.imul(k, SALT0) >>> 27));
    w[b + 1] = w[b + 1]! | (1 << (Math.imul(k, SALT1) >>> 27));
    w[b + 2] = w[b + 2]! | (1 << (Math.imul(k, SALT2) >>> 27));
    w[b + 3] = w[b + 3]! | (1 << (Math.imul(k, SALT3) >>> 27));
    w[b + 4] = w[b + 4]! | (1 << (Math.imul(k, SALT4) >>> 27));
    w[b + 5] = w[b + 5]! | (1 << (Math.imul(k, SALT5) >>> 27));
    w[b + 6] = w[b + 6]! | (1 << (Math.imul(k, SALT6) >>> 27));
    w[b + 7] = w[b + 7]! | (1 << (Math.imul(k, SALT7) >>> 27));
    this.count++;
  }

  /** False only when the key was certainly never added. */
  mayContain(hash: number): boolean {
    const w = this.words;
    const b = (hash & this.blockMask) << 3;
    const k = mix32(hash ^ 0x9e3779b9);
    return (
      (w[b]! & (1 << (Math.imul(k, SALT0) >>> 27))) !== 0 &&
      (w[b + 1]! & (1 << (Math.imul(k, SALT1) >>> 27))) !== 0 &&
      (w[b + 2]! & (1 << (Math.imul(k, SALT2) >>> 27))) !== 0 &&
      (w[b + 3]! & (1 << (Math.imul(k, SALT3) >>> 27))) !== 0 &&
      (w[b + 4]! & (1 << (Math.imul(k, SALT4) >>> 27))) !== 0 &&
      (w[b + 5]! & (1 << (Math.imul(k, SALT5) >>> 27))) !== 0 &&
      (w[b + 6]! & (1 << (Math.imul(k, SALT6) >>> 27))) !== 0 &&
      (w[b + 7]! & (1 << (Math.imul(k, SALT7) >>> 27))) !== 0
    );
  }
}
