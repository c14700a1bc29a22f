import { ipv4ToUint32 } from '@mamori/core';
import { formatWords, parseCidr, parseIp, type IpWords } from './ip.ts';
import { normalizeDomain, normalizeSerial, requestUrlKey } from './normalize.ts';
import { BlockedBloom } from './prefilter.ts';
import { PrefixTrie } from './prefix-trie.ts';
import { isActive, type Indicator, type IndicatorKind } from './types.ts';
import { U32Map } from './u32-map.ts';
import type { WarningLists } from './warning-lists.ts';
/** An indicator that matched an observed value. */
export interface IndicatorMatch {
  indicator: Indicator;
  /** What was observed, as the event had it (an address, a query name, a URL key, a hash). */
  observed: string;
}

/** Counters of what matching suppressed. */
export interface SuppressionStats {
  /** Matches dropped because the observed value is on a warning list. */
  matches: number;
}

function labelCount(name: string): number {
  let n = 1;
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) n++;
  return n;
}

/**
 * What one key holds: the indicator itself when it is the only one (almost always: a million
 * one-element arrays are ~50 MB), an array when a key is listed more than once.
 */
type Slot = Indicator | Indicator[];

const push = (slot: Slot | undefined, indicator: Indicator): Slot => {
  if (slot === undefined) return indicator;
  if (Array.isArray(slot)) {
    slot.push(indicator);
    return slot;
  }
  return [slot, indicator];
};

type ExactKind = Exclude<IndicatorKind, 'ip' | 'domain'>;
/** Exact kinds with a prefilter (certificate serials are rare on events and in feeds). */
type FilteredKind = Exclude<ExactKind, 'x509'>;

/** Options of an {@link IndicatorIndex}. */
export interface IndicatorIndexOptions {
  /**
   * Membership prefilters in front of the big tables (see `prefilter.ts`); `false` leaves them out,
   * which changes no result, only what a lookup that finds nothing costs. @default true
   */
  prefilter?: boolean;
}

/** A Bloom filter over the keys of one table, rebuilt twice as large when it fills up. */
class KeyFilter {
  readonly bloom = new BlockedBloom(1024);
  constructor(private readonly rehash: (bloom: BlockedBloom) => void, private readonly keys: () => number) {}
  /** Sizes the filter for twice the table's keys and adds them all again (called when it is full). */
  rebuild(): void {
    this.bloom.reset(this.keys() * 2);
    this.rehash(this.bloom);
  }
}

/**
 * Every loaded indicator, indexed so that a lookup costs about the same with ten or a million:
 * exact IPv4 addresses in an open-addressing table keyed by the 32-bit number, IPv6 in a hash map,
 * networks in a PATRICIA trie (longest prefix first, every covering network returned), domains in a
 * map keyed by name that a lookup probes once per label boundary (`a.b.evil.com`, `b.evil.com`,
 * `evil.com`, `com`), and one hashed set per kind for URLs, file hashes, JA3 and certificate
 * serials. Only indicators active at the observation time match. The per-event path parses
 * addresses, names and URLs by hand (no `new URL()`, no regular expressions, no iterators).
 */
export class IndicatorIndex {
  private readonly ipv4 = new U32Map<Slot>();
  private readonly ipv6 = new Map<string, Slot>();
  private readonly networks: PrefixTrie<Slot>;
  private readonly domains = new Map<string, Slot>();
  private readonly exact: Record<ExactKind, Map<string, Slot>> = { url: new Map(), md5: new Map(), sha1: new Map(), sha256: new Map(), ja3: new Map(), x509: new Map() };
  /** Reused for the networks of one lookup (matching is synchronous and never re-entered). */
  private readonly scratch: Slot[] = [];
  /** Fewest and most labels of an indexed domain: only suffixes with a label count in between are probed. */
  private domainLabelsMin = Number.POSITIVE_INFINITY;
  private domainLabelsMax = 0;
  private count = 0;
  readonly suppressed: SuppressionStats = { matches: 0 };
  /** Prefilters (undefined when disabled): exact IPv4 by mixed address, domains by reversed-FNV hash, the rest by FNV hash. */
  private readonly ipv4Filter: KeyFilter | undefined;
  private readonly domainFilter: KeyFilter | undefined;
  private readonly exactFilter: Record<FilteredKind, KeyFilter> | undefined;
  /** Label starts and suffix hashes of the name being matched (a name of at most 253 characters has at most 127 labels). */
  private readonly labelStarts = new Int32Array(128);
  private readonly labelHashes = new Uint32Array(128);

  constructor(
    private readonly warnings?: WarningLists,
    options: IndicatorIndexOptions = {},
  ) {
    this.networks = new PrefixTrie<Slot>({ cellFilter: options.prefilter !== false });
    if (options.prefilter === false) return;
    this.ipv4Filter = new KeyFilter((b) => this.ipv4.forEachKey((k) => b.addU32(k)), () => this.ipv4.size);
    this.domainFilter = new KeyFilter((b) => {
      for (const k of this.domains.keys()) b.addReversed(k);
    }, () => this.domains.size);
    const exact = (kind: FilteredKind) =>
      new KeyFilter((b) => {
        for (const k of this.exact[kind].keys()) b.addString(k);
      }, () => this.exact[kind].size);
    this.exactFilter = { url: exact('url'), md5: exact('md5'), sha1: exact('sha1'), sha256: exact('sha256'), ja3: exact('ja3') };
  }

  /** Bytes of the prefilters' bit arrays (the /20 network bitmap included). */
  get prefilterBytes(): number {
    let n = this.networks.filterBytes;
    if (this.ipv4Filter) n += this.ipv4Filter.bloom.bytes;
    if (this.domainFilter) n += this.domainFilter.bloom.bytes;
    if (this.exactFilter) for (const f of Object.values(this.exactFilter)) n += f.bloom.bytes;
    return n;
  }

  private addIPv4(v4: number, indicator: Indicator): void {
    const old = this.ipv4.get(v4);
    this.ipv4.set(v4, push(old, indicator));
    if (old === undefined) this.ipv4Filter?.bloom.addU32(v4);
    if (this.ipv4Filter?.bloom.full) this.ipv4Filter.rebuild();
  }

  get size(): number {
    return this.count;
  }

  add(indicator: Indicator): void {
    this.count++;
    switch (indicator.kind) {
      case 'ip': {
        const v4 = ipv4ToUint32(indicator.value);
        if (v4 >= 0) {
          this.addIPv4(v4, indicator);
          return;
        }
        const cidr = parseCidr(indicator.value);
        if (!cidr) return;
        const full = cidr.words.length * 32;
        if (cidr.prefix === full && full === 32) this.addIPv4(cidr.words[0]!, indicator);
        else if (cidr.prefix === full) {
          const key = formatWords(cidr.words);
          this.ipv6.set(key, push(this.ipv6.get(key), indicator));
        } else this.networks.upsert(cidr, (old) => push(old, indicator));
        return;
      }
      case 'domain': {
        const labels = labelCount(indicator.value);
        if (labels < this.domainLabelsMin) this.domainLabelsMin = labels;
        if (labels > this.domainLabelsMax) this.domainLabelsMax = labels;
        const old = this.domains.get(indicator.value);
        this.domains.set(indicator.value, push(old, indicator));
        if (old === undefined && this.domainFilter) {
          this.domainFilter.bloom.addReversed(indicator.value);
          if (this.domainFilter.bloom.full) this.domainFilter.rebuild();
        }
        return;
      }
      default: {
        const kind = indicator.kind;
        const map = this.exact[kind];
        const old = map.get(indicator.value);
        map.set(indicator.value, push(old, indicator));
        if (old === undefined && kind !== 'x509' && this.exactFilter) {
          const f = this.exactFilter[kind];
          f.bloom.addString(indicator.value);
          if (f.bloom.full) f.rebuild();
        }
      }
    }
  }

  /** Indicators (exact, then networks from most to least specific) holding the address at `time`. */
  matchIp(text: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    if (!text) return out;
    const v4 = ipv4ToUint32(text);
    if (v4 >= 0) return this.matchIPv4(v4, text, time, out);
    if (text.indexOf(':') < 0) return out;
    const words = parseIp(text);
    if (!words) return out;
    return this.matchIpWords(words, text, time, out);
  }

  /** {@link matchIp} for an IPv4 address as a 32-bit number. */
  matchIPv4(ip: number, observed: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const before = out.length;
    const filter = this.ipv4Filter;
    const exact = this.ipv4.size > 0 && (filter === undefined || filter.bloom.mayContainU32(ip)) ? this.ipv4.get(ip) : undefined;
    if (exact) this.collect(exact, observed, time, out);
    if (this.networks.size > 0) {
      const nets = this.scratch;
      this.networks.collectV4(ip, nets);
      for (let i = nets.length - 1; i >= 0; i--) this.collect(nets[i]!, observed, time, out);
      nets.length = 0;
    }
    if (out.length > before && this.warnings?.coversIp(Uint32Array.of(ip))) {
      this.suppressed.matches += out.length - before;
      out.length = before;
    }
    return out;
  }

  matchIpWords(words: IpWords, observed: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    if (words.length === 1) return this.matchIPv4(words[0]!, observed, time, out);
    const before = out.length;
    const exact = this.ipv6.size > 0 ? this.ipv6.get(formatWords(words)) : undefined;
    if (exact) this.collect(exact, observed, time, out);
    if (this.networks.size > 0) {
      const nets = this.scratch;
      this.networks.collect(words, nets);
      for (let i = nets.length - 1; i >= 0; i--) this.collect(nets[i]!, observed, time, out);
      nets.length = 0;
    }
    if (out.length > before && this.warnings?.coversIp(words)) {
      this.suppressed.matches += out.length - before;
      out.length = before;
    }
    return out;
  }

  /** Indicators for the name or any parent domain of it (a feed's `evil.com` matches `a.b.evil.com`). */
  matchDomain(name: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    if (this.domains.size === 0) return out;
    const d = normalizeDomain(name);
    if (!d) return out;
    const before = out.length;
    if (this.domainFilter !== undefined) this.probeDomainFiltered(d, this.domainFilter.bloom, time, out);
    else this.probeDomain(d, time, out);
    if (out.length > before && this.warnings?.coversDomain(d)) {
      this.suppressed.matches += out.length - before;
      out.length = before;
    }
    return out;
  }

  /**
   * One pass from the end of the name hashes every parent domain (reversed FNV-1a: a longer suffix
   * extends a shorter one's state); a suffix is sliced and looked up only when the prefilter may
   * hold it, so a name that matches nothing allocates nothing and touches one filter block per
   * probed label count. Same suffixes in the same order as {@link probeDomain}.
   */
  private probeDomainFiltered(d: string, bloom: BlockedBloom, time: number, out: IndicatorMatch[]): void {
    const starts = this.labelStarts;
    const hashes = this.labelHashes;
    const n = bloom.hashSuffixes(d, starts, hashes);
    // Entry m - 1 is the suffix of m labels; probe the longest first, down to the shortest indexed.
    for (let m = Math.min(n, this.domainLabelsMax); m >= this.domainLabelsMin; m--) {
      if (!bloom.mayContain(hashes[m - 1]!)) continue;
      const at = starts[m - 1]!;
      const hit = this.domains.get(at === 0 ? d : d.slice(at));
      if (hit) this.collect(hit, d, time, out);
    }
  }

  private probeDomain(d: string, time: number, out: IndicatorMatch[]): void {
    // Walk the label boundaries of the name itself; probe only suffixes as long as some indexed domain.
    let labels = labelCount(d);
    let at = 0;
    while (labels > this.domainLabelsMax) {
      at = d.indexOf('.', at) + 1;
      labels--;
    }
    while (labels >= this.domainLabelsMin) {
      const hit = this.domains.get(at === 0 ? d : d.slice(at));
      if (hit) this.collect(hit, d, time, out);
      const dot = d.indexOf('.', at);
      if (dot < 0) break;
      at = dot + 1;
      labels--;
    }
  }

  /** An HTTP request (Host header and request target) against URL indicators. */
  matchUrl(host: string, uri: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const urls = this.exact.url;
    if (urls.size === 0) return out;
    const key = requestUrlKey(host, uri);
    if (!key) return out;
    const filter = this.exactFilter?.url.bloom;
    if (filter !== undefined) {
      // One FNV-1a pass hashes the key and its part before the first `?`.
      const hashes = this.labelHashes;
      const q = filter.hashUrl(key, hashes);
      if (filter.mayContain(hashes[0]!)) {
        const hit = urls.get(key);
        if (hit) this.collect(hit, key, time, out);
      }
      if (q > 0 && filter.mayContain(hashes[1]!)) {
        const bare = urls.get(key.slice(0, q));
        if (bare) this.collect(bare, key, time, out);
      }
      return out;
    }
    const hit = urls.get(key);
    if (hit) this.collect(hit, key, time, out);
    // Feeds often list a URL without its query string.
    const q = key.indexOf('?');
    if (q > 0) {
      const bare = urls.get(key.slice(0, q));
      if (bare) this.collect(bare, key, time, out);
    }
    return out;
  }

  /** A file hash (kind by length), JA3 or certificate fingerprint. */
  matchValue(kind: 'md5' | 'sha1' | 'sha256' | 'ja3', value: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const map = this.exact[kind];
    if (map.size === 0) return out;
    const key = value.toLowerCase();
    const filter = this.exactFilter?.[kind].bloom;
    if (filter !== undefined && !filter.mayContainString(key)) return out;
    const hit = map.get(key);
    if (hit) this.collect(hit, value, time, out);
    return out;
  }

  /** A certificate by serial; indicators that name an issuer also need it to match (case-insensitive). */
  matchCertificate(serial: string, issuer: string | null, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    if (this.exact.x509.size === 0) return out;
    const s = normalizeSerial(serial);
    if (!s) return out;
    const hit = this.exact.x509.get(s);
    if (!hit) return out;
    const iss = issuer?.replace(/\s+/g, '').toLowerCase();
    for (const indicator of Array.isArray(hit) ? hit : [hit]) {
      if (indicator.issuer && indicator.issuer.replace(/\s+/g, '').toLowerCase() !== iss) continue;
      if (isActive(indicator, time)) out.push({ indicator, observed: serial });
    }
    return out;
  }

  private collect(slot: Slot, observed: string, time: number, out: IndicatorMatch[]): void {
    if (!Array.isArray(slot)) {
      if (slot.validFrom <= time && time < slot.validUntil) out.push({ indicator: slot, observed });
      return;
    }
    for (let i = 0; i < slot.length; i++) {
      const indicator = slot[i]!;
      if (indicator.validFrom <= time && time < indicator.validUntil) out.push({ indicator, observed });
    }
  }
}
