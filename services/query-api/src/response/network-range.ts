import { parseCidr } from '@mamori/intel';

/**
 * IPv4 and IPv6 networks in one 128-bit space, for overlap checks. IPv4 `a.b.c.d/n` is the
 * IPv4-mapped network `::ffff:a.b.c.d/(96+n)` (RFC 4291 §2.5.5.2), so an address written either way
 * is the same number and one comparison covers both families.
 */
export interface NetworkRange {
  /** First address (host bits cleared), in the 128-bit space. */
  lo: bigint;
  /** Last address. */
  hi: bigint;
  /** Prefix length in the 128-bit space (an IPv4 /24 is 120). */
  prefix: number;
}

const MAPPED = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;

/**
 * Parses an address or `address/prefix` (IPv4, IPv6, IPv4-mapped or with a dotted-quad tail) into
 * its range; host bits beyond the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`, as warning
 * lists write them). Undefined when it is not one.
 */
export function parseNetwork(text: string): NetworkRange | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  // The intel package's parser (strict dotted quads, IPv6 with a dotted tail, IPv4-mapped folded to
  // IPv4 with its prefix counted over 128 bits); here its words become one number in the 128-bit space.
  const cidr = parseCidr(text);
  if (!cidr) return undefined;
  let value = 0n;
  for (const word of cidr.words) value = (value << 32n) | BigInt(word);
  return cidr.words.length === 1 ? rangeOf(MAPPED | value, cidr.prefix + 96) : rangeOf(value, cidr.prefix);
}

/** The network of `prefix` bits holding `value`. */
export function rangeOf(value: bigint, prefix: number): NetworkRange {
  const hostBits = BigInt(128 - prefix);
  const lo = ((value & ALL) >> hostBits) << hostBits;
  return { lo, hi: lo + (1n << hostBits) - 1n, prefix };
}

/** Whether the range lies in the IPv4-mapped block, i.e. is an IPv4 network. */
export function isV4(range: NetworkRange): boolean {
  return range.prefix >= 96 && range.lo >> 32n === 0xffffn;
}

/** The prefix length in the range's own family (an IPv4 /24 is 24, not 120). */
export function familyPrefix(range: NetworkRange): number {
  return isV4(range) ? range.prefix - 96 : range.prefix;
}

/** Canonical text of an address of the 128-bit space: dotted quad for IPv4, RFC 5952 for IPv6. */
export function addressText(value: bigint): string {
  if (value >> 32n === 0xffffn) {
    const parts: number[] = [];
    for (let i = 3; i >= 0; i--) parts.push(Number((value >> BigInt(i * 8)) & 0xffn));
    return parts.join('.');
  }
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Canonical text of a range: an address for a host, else `address/prefix` in its family. */
export function networkText(range: NetworkRange): string {
  const full = range.prefix === 128;
  if (isV4(range)) return full ? addressText(range.lo) : `${addressText(range.lo)}/${range.prefix - 96}`;
  return full ? addressText(range.lo) : `${addressText(range.lo)}/${range.prefix}`;
}

/** Whether two ranges share an address. For networks this is: one contains the other. */
export function overlaps(a: NetworkRange, b: NetworkRange): boolean {
  return a.lo <= b.hi && b.lo <= a.hi;
}

/** A labelled network of a {@link NetworkIndex}. */
export interface LabelledNetwork<L> {
  range: NetworkRange;
  label: L;
}

/**
 * Answers "which stored network overlaps this one?" for any prefix length in either family, in
 * O(distinct prefix lengths + log n): a network overlapping the query either holds it (found by
 * masking the query to each stored prefix length and one hash lookup) or starts inside it (found
 * by binary search over the stored networks' first addresses). Networks are CIDR-aligned, so these
 * two cases are all the ways two of them can overlap.
 */
export class NetworkIndex<L> {
  private readonly byPrefix = new Map<number, Map<bigint, LabelledNetwork<L>>>();
  /** Ascending prefix lengths present (most specific holder is found last). */
  private prefixes: number[] = [];
  private readonly sorted: LabelledNetwork<L>[] = [];
  private dirty = false;

  get size(): number {
    return this.sorted.length;
  }

  /** Adds a network; the first label added for a network is kept. */
  add(range: NetworkRange, label: L): void {
    let map = this.byPrefix.get(range.prefix);
    if (!map) {
      this.byPrefix.set(range.prefix, (map = new Map()));
      this.prefixes = [...this.byPrefix.keys()].sort((a, b) => a - b);
    }
    if (map.has(range.lo)) return;
    const entry = { range, label };
    map.set(range.lo, entry);
    this.sorted.push(entry);
    this.dirty = true;
  }

  /**
   * A stored network overlapping `query`, or undefined: the most specific one holding it if any,
   * else the lowest-addressed one inside it.
   */
  overlapping(query: NetworkRange): LabelledNetwork<L> | undefined {
    let holder: LabelledNetwork<L> | undefined;
    for (const p of this.prefixes) {
      if (p > query.prefix) break;
      const hit = this.byPrefix.get(p)!.get(rangeOf(query.lo, p).lo);
      if (hit) holder = hit;
    }
    if (holder) return holder;
    if (this.dirty) {
      this.sorted.sort((a, b) => (a.range.lo < b.range.lo ? -1 : a.range.lo > b.range.lo ? 1 : a.range.prefix - b.range.prefix));
      this.dirty = false;
    }
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]!.range.lo < query.lo) lo = mid + 1;
      else hi = mid;
    }
    const first = this.sorted[lo];
    return first !== undefined && first.range.lo <= query.hi ? first : undefined;
  }
}
