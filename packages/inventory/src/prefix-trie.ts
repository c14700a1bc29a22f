import { parseCidr, parseIp, type Cidr, type IpBytes } from './ip.ts';

interface Node<T> {
  zero: Node<T> | undefined;
  one: Node<T> | undefined;
  /** Set when a prefix ends here. */
  entry: { value: T; prefix: Cidr } | undefined;
}

const node = <T>(): Node<T> => ({ zero: undefined, one: undefined, entry: undefined });

/** What a lookup found: the value of the longest matching prefix, and that prefix. */
export interface PrefixMatch<T> {
  readonly value: T;
  readonly prefix: Cidr;
}

/**
 * Longest-prefix match over IPv4 and IPv6 networks: a binary (radix-2) trie per address family,
 * one level per prefix bit. A lookup walks at most 32 or 128 levels and allocates nothing, so it
 * costs the same with ten or a million prefixes. Overlapping prefixes are fine: the most specific
 * one wins (`10.1.2.0/24` over `10.0.0.0/8`).
 */
export class PrefixTrie<T> {
  private readonly v4: Node<T> = node();
  private readonly v6: Node<T> = node();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the value of a network. Throws on a malformed CIDR (validate first). */
  insert(cidr: Cidr | string, value: T): void {
    const prefix = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    if (typeof prefix === 'string') throw new Error(prefix);
    let at = prefix.version === 4 ? this.v4 : this.v6;
    for (let bit = 0; bit < prefix.prefixLength; bit++) {
      const one = (prefix.bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
      if (one) at = at.one ??= node();
      else at = at.zero ??= node();
    }
    if (!at.entry) this.count++;
    at.entry = { value, prefix };
  }

  /** The most specific network holding `ip`, or undefined (also for text that is not an address). */
  lookup(ip: string | IpBytes): PrefixMatch<T> | undefined {
    const addr = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!addr) return undefined;
    let at: Node<T> | undefined = addr.version === 4 ? this.v4 : this.v6;
    let best = at.entry;
    // A byte at a time, its bits from the top; the walk ends where the trie does (enrichment runs
    // up to four lookups per event: one load per byte instead of one per bit).
    const bytes = addr.bytes;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number;
      for (let shift = 7; shift >= 0; shift--) {
        at = (byte >> shift) & 1 ? at.one : at.zero;
        if (at === undefined) return best;
        if (at.entry !== undefined) best = at.entry;
      }
    }
    return best;
  }

  /** Whether any network holds `ip`. */
  contains(ip: string | IpBytes): boolean {
    return this.lookup(ip) !== undefined;
  }
}
