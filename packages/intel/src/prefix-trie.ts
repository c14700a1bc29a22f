import { maskWords, type Cidr, type IpWords } from './ip.ts';

interface Node<V> {
  /** Masked to `len` bits. */
  key: IpWords;
  /** `key[0]` as a plain field: an IPv4 walk reads it without touching the typed array (one cache miss less per node). */
  k0: number;
  len: number;
  /** Set when a stored prefix ends here (branch-only nodes have none). */
  value: V | undefined;
  zero: Node<V> | undefined;
  one: Node<V> | undefined;
}

function bitAt(key: IpWords, i: number): number {
  return (key[i >>> 5]! >>> (31 - (i & 31))) & 1;
}

/** Leading bits `a` and `b` share, at most `max`. */
function commonBits(a: IpWords, b: IpWords, max: number): number {
  let n = 0;
  for (let w = 0; n < max && w < a.length; w++) {
    const x = (a[w]! ^ b[w]!) >>> 0;
    if (x === 0) {
      n += 32;
      continue;
    }
    n += Math.clz32(x);
    break;
  }
  return Math.min(n, max);
}

/** IPv4 networks of at least this many bits live in one sub-trie per /16 (an array slot), not below a common root. */
const SPLIT = 16;
/** Bits of the address that pick a cell of the occupancy bitmap (/20 cells: 2^20 bits, 128 KiB). */
const CELL_BITS = 20;

/**
 * Longest-prefix match over IPv4 and IPv6 networks: path-compressed binary (PATRICIA) tries. IPv4
 * networks of /16 and longer (nearly all of a feed) sit in one small trie per /16, found by indexing
 * an array with the address's top 16 bits, so a lookup walks a handful of nodes even with a million
 * networks (one trie over all of them is ~20 nodes deep, each a cache miss); shorter IPv4 networks
 * and IPv6 have one trie each. Nodes exist only where a prefix ends or two prefixes part.
 *
 * In front of the /16 tries sits an occupancy bitmap with one bit per /20 (128 KiB, cache-resident
 * where the tries are not): the bit is set when some stored network of /16 or longer overlaps that
 * /20, so an IPv4 lookup outside every network (most of them) is answered from one bitmap word
 * without touching a trie node. Its density is the share of /20s that hold some network; a feed of
 * a million /24s spread over the whole space would set most bits and the bitmap would only cost
 * its one read.
 */
export class PrefixTrie<V> {
  /** IPv4 networks shorter than /16. */
  private v4: Node<V> | undefined;
  /** IPv4 networks of /16 and longer, by their top 16 bits (allocated on first use). */
  private v4By16: (Node<V> | undefined)[] | undefined;
  private v6: Node<V> | undefined;
  /** One bit per /20 overlapped by a network in `v4By16` (allocated with it), unless disabled. */
  private v4Cells: Uint32Array | undefined;
  private count = 0;

  /** `cellFilter: false` leaves out the occupancy bitmap (for measuring what it saves; results are the same). */
  constructor(private readonly options: { cellFilter?: boolean } = {}) {}

  /** Bytes of the /20 occupancy bitmap (0 while no /16-or-longer IPv4 network is stored). */
  get filterBytes(): number {
    return this.v4Cells?.byteLength ?? 0;
  }

  private markCells(k0: number, len: number): void {
    const cells = (this.v4Cells ??= new Uint32Array(2 ** CELL_BITS / 32));
    const first = k0 >>> (32 - CELL_BITS);
    const n = len >= CELL_BITS ? 1 : 2 ** (CELL_BITS - len);
    for (let c = first; c < first + n; c++) cells[c >>> 5] = cells[c >>> 5]! | (1 << (c & 31));
  }

  get size(): number {
    return this.count;
  }

  private root(v6: boolean, k0: number, len: number): Node<V> | undefined {
    if (v6) return this.v6;
    return len >= SPLIT ? this.v4By16?.[k0 >>> 16] : this.v4;
  }

  private setRoot(v6: boolean, k0: number, len: number, node: Node<V>): void {
    if (v6) this.v6 = node;
    else if (len < SPLIT) this.v4 = node;
    else (this.v4By16 ??= new Array<Node<V> | undefined>(65536).fill(undefined))[k0 >>> 16] = node;
  }

  /** Stores `value` for the network, or merges it with the one already there. */
  upsert(cidr: Cidr, make: (existing: V | undefined) => V): void {
    const key = maskWords(cidr.words, cidr.prefix);
    const len = cidr.prefix;
    const v6 = key.length === 4;
    const k0 = key[0]!;
    if (!v6 && len >= SPLIT && this.options.cellFilter !== false) this.markCells(k0, len);
    const root = this.root(v6, k0, len);
    if (!root) {
      this.setRoot(v6, k0, len, { key, k0, len, value: make(undefined), zero: undefined, one: undefined });
      this.count++;
      return;
    }
    let node: Node<V> = root;
    let parent: Node<V> | undefined;
    for (;;) {
      const cp = commonBits(node.key, key, Math.min(node.len, len));
      if (cp < node.len) {
        // The new prefix parts from this node's path above it: split here.
        let replacement: Node<V>;
        if (cp === len) {
          replacement = { key, k0, len, value: make(undefined), zero: undefined, one: undefined };
          if (bitAt(node.key, len)) replacement.one = node;
          else replacement.zero = node;
        } else {
          const leaf: Node<V> = { key, k0, len, value: make(undefined), zero: undefined, one: undefined };
          const branch = maskWords(key, cp);
          replacement = { key: branch, k0: branch[0]!, len: cp, value: undefined, zero: undefined, one: undefined };
          if (bitAt(key, cp)) {
            replacement.one = leaf;
            replacement.zero = node;
          } else {
            replacement.zero = leaf;
            replacement.one = node;
          }
        }
        this.count++;
        if (!parent) this.setRoot(v6, k0, len, replacement);
        else if (parent.one === node) parent.one = replacement;
        else parent.zero = replacement;
        return;
      }
      if (node.len === len) {
        if (node.value === undefined) this.count++;
        node.value = make(node.value);
        return;
      }
      const bit = bitAt(key, node.len);
      const child: Node<V> | undefined = bit ? node.one : node.zero;
      if (!child) {
        const leaf: Node<V> = { key, k0, len, value: make(undefined), zero: undefined, one: undefined };
        if (bit) node.one = leaf;
        else node.zero = leaf;
        this.count++;
        return;
      }
      parent = node;
      node = child;
    }
  }

  /** The value of the most specific stored network holding `ip`, with its prefix length. */
  lookup(ip: IpWords): { value: V; prefix: number } | undefined {
    const full = ip.length * 32;
    let best: Node<V> | undefined;
    for (let r = 0; r < 2; r++) {
      let node = ip.length === 4 ? (r === 0 ? this.v6 : undefined) : r === 0 ? this.v4 : this.v4By16?.[ip[0]! >>> 16];
      while (node) {
        if (commonBits(node.key, ip, node.len) < node.len) break;
        if (node.value !== undefined) best = node;
        if (node.len >= full) break;
        node = bitAt(ip, node.len) ? node.one : node.zero;
      }
    }
    return best ? { value: best.value!, prefix: best.len } : undefined;
  }

  /**
   * Pushes the value of every stored network holding the IPv4 address `ip` (a 32-bit number) onto
   * `out`, least specific first; returns how many. No allocation beyond `out`, no iterator.
   */
  collectV4(ip: number, out: V[]): number {
    let found = this.v4 === undefined ? 0 : this.walkV4(this.v4, ip, out);
    const cells = this.v4Cells;
    if (cells !== undefined) {
      const c = ip >>> (32 - CELL_BITS);
      if ((cells[c >>> 5]! & (1 << (c & 31))) === 0) return found;
    }
    if (this.v4By16 !== undefined) found += this.walkV4(this.v4By16[ip >>> 16], ip, out);
    return found;
  }

  private walkV4(start: Node<V> | undefined, ip: number, out: V[]): number {
    let node = start;
    let found = 0;
    while (node) {
      const len = node.len;
      // `>>> 32` would shift by 0: a /0 holds every address.
      if (len > 0 && ((node.k0 ^ ip) >>> (32 - len)) !== 0) break;
      if (node.value !== undefined) {
        out.push(node.value);
        found++;
      }
      if (len >= 32) break;
      node = (ip >>> (31 - len)) & 1 ? node.one : node.zero;
    }
    return found;
  }

  /** The roots to walk for `ip`, least specific first. */
  private roots(ip: IpWords): (Node<V> | undefined)[] {
    return ip.length === 4 ? [this.v6] : [this.v4, this.v4By16?.[ip[0]! >>> 16]];
  }

  /** {@link collectV4} for either family (`ip` as words), up to `maxPrefix`. */
  collect(ip: IpWords, out: V[], maxPrefix = ip.length * 32): number {
    if (ip.length === 1 && maxPrefix >= 32) return this.collectV4(ip[0]!, out);
    let found = 0;
    for (const root of this.roots(ip)) {
      let node = root;
      while (node && node.len <= maxPrefix) {
        if (commonBits(node.key, ip, node.len) < node.len) break;
        if (node.value !== undefined) {
          out.push(node.value);
          found++;
        }
        if (node.len >= ip.length * 32) break;
        node = bitAt(ip, node.len) ? node.one : node.zero;
      }
    }
    return found;
  }

  /** The least specific stored network holding `ip` (up to `maxPrefix`), or undefined. */
  first(ip: IpWords, maxPrefix = ip.length * 32): V | undefined {
    for (const hit of this.covering(ip, maxPrefix)) return hit.value;
    return undefined;
  }

  /** Every stored network holding `ip`, least specific first (for warning-list checks of CIDRs). */
  *covering(ip: IpWords, maxPrefix = ip.length * 32): Generator<{ value: V; prefix: number }> {
    for (const root of this.roots(ip)) {
      let node = root;
      while (node && node.len <= maxPrefix) {
        if (commonBits(node.key, ip, node.len) < node.len) break;
        if (node.value !== undefined) yield { value: node.value, prefix: node.len };
        if (node.len >= ip.length * 32) break;
        node = bitAt(ip, node.len) ? node.one : node.zero;
      }
    }
  }
}
