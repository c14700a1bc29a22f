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

/**
 * Longest-prefix match over IPv4 and IPv6 networks: a path-compressed binary (PATRICIA) trie per
 * address family. Nodes exist only where a prefix ends or two prefixes part, so a million
 * prefixes take at most two million nodes, and a lookup visits at most 33 (129) of them — in
 * practice a handful — whatever the number of prefixes.
 */
export class PrefixTrie<V> {
  private v4: Node<V> | undefined;
  private v6: Node<V> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Stores `value` for the network, or merges it with the one already there. */
  upsert(cidr: Cidr, make: (existing: V | undefined) => V): void {
    const key = maskWords(cidr.words, cidr.prefix);
    const len = cidr.prefix;
    const v6 = key.length === 4;
    const root = v6 ? this.v6 : this.v4;
    if (!root) {
      const leaf: Node<V> = { key, k0: key[0]!, len, value: make(undefined), zero: undefined, one: undefined };
      if (v6) this.v6 = leaf;
      else this.v4 = leaf;
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
          replacement = { key, k0: key[0]!, len, value: make(undefined), zero: undefined, one: undefined };
          if (bitAt(node.key, len)) replacement.one = node;
          else replacement.zero = node;
        } else {
          const leaf: Node<V> = { key, k0: key[0]!, len, value: make(undefined), zero: undefined, one: undefined };
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
        if (!parent) {
          if (v6) this.v6 = replacement;
          else this.v4 = replacement;
        } else if (parent.one === node) parent.one = replacement;
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
        const leaf: Node<V> = { key, k0: key[0]!, len, value: make(undefined), zero: undefined, one: undefined };
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
    let node = ip.length === 4 ? this.v6 : this.v4;
    let best: Node<V> | undefined;
    while (node) {
      if (commonBits(node.key, ip, node.len) < node.len) break;
      if (node.value !== undefined) best = node;
      if (node.len >= full) break;
      node = bitAt(ip, node.len) ? node.one : node.zero;
    }
    return best ? { value: best.value!, prefix: best.len } : undefined;
  }

  /**
   * Pushes the value of every stored network holding the IPv4 address `ip` (a 32-bit number) onto
   * `out`, least specific first; returns how many. No allocation beyond `out`, no iterator.
   */
  collectV4(ip: number, out: V[]): number {
    let node = this.v4;
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

  /** {@link collectV4} for either family (`ip` as words), up to `maxPrefix`. */
  collect(ip: IpWords, out: V[], maxPrefix = ip.length * 32): number {
    if (ip.length === 1 && maxPrefix >= 32) return this.collectV4(ip[0]!, out);
    let node = ip.length === 4 ? this.v6 : this.v4;
    let found = 0;
    while (node && node.len <= maxPrefix) {
      if (commonBits(node.key, ip, node.len) < node.len) break;
      if (node.value !== undefined) {
        out.push(node.value);
        found++;
      }
      if (node.len >= ip.length * 32) break;
      node = bitAt(ip, node.len) ? node.one : node.zero;
    }
    return found;
  }

  /** The least specific stored network holding `ip` (up to `maxPrefix`), or undefined. */
  first(ip: IpWords, maxPrefix = ip.length * 32): V | undefined {
    let node = ip.length === 4 ? this.v6 : this.v4;
    while (node && node.len <= maxPrefix) {
      if (commonBits(node.key, ip, node.len) < node.len) return undefined;
      if (node.value !== undefined) return node.value;
      if (node.len >= ip.length * 32) return undefined;
      node = bitAt(ip, node.len) ? node.one : node.zero;
    }
    return undefined;
  }

  /** Every stored network holding `ip`, least specific first (for warning-list checks of CIDRs). */
  *covering(ip: IpWords, maxPrefix = ip.length * 32): Generator<{ value: V; prefix: number }> {
    let node = ip.length === 4 ? this.v6 : this.v4;
    while (node && node.len <= maxPrefix) {
      if (commonBits(node.key, ip, node.len) < node.len) return;
      if (node.value !== undefined) yield { value: node.value, prefix: node.len };
      if (node.len >= ip.length * 32) return;
      node = bitAt(ip, node.len) ? node.one : node.zero;
    }
  }
}
