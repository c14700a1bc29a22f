import { formatWords, parseCidr, parseIp, type IpWords } from './ip.ts';
import { normalizeDomain, normalizeSerial, requestUrlKey } from './normalize.ts';
import { PrefixTrie } from './prefix-trie.ts';
import { isActive, type Indicator } from './types.ts';
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

const push = (list: Indicator[] | undefined, indicator: Indicator): Indicator[] => {
  if (!list) return [indicator];
  list.push(indicator);
  return list;
};

/**
 * Every loaded indicator, indexed so that a lookup costs about the same with ten or a million:
 * exact addresses in hash maps (IPv4 keyed by its 32-bit number), networks in a PATRICIA trie
 * (longest prefix first, every covering network returned), domains in a map keyed by name that a
 * lookup probes once per label boundary (`a.b.evil.com`, `b.evil.com`, `evil.com`, `com`), and
 * hashed sets for URLs, file hashes, JA3 and certificate serials. Only indicators active at the
 * observation time match.
 */
export class IndicatorIndex {
  private readonly ipv4 = new Map<number, Indicator[]>();
  private readonly ipv6 = new Map<string, Indicator[]>();
  private readonly networks = new PrefixTrie<Indicator[]>();
  private readonly domains = new Map<string, Indicator[]>();
  private readonly exact = new Map<string, Indicator[]>();
  private count = 0;
  readonly suppressed: SuppressionStats = { matches: 0 };

  constructor(private readonly warnings?: WarningLists) {}

  get size(): number {
    return this.count;
  }

  add(indicator: Indicator): void {
    this.count++;
    switch (indicator.kind) {
      case 'ip': {
        const cidr = parseCidr(indicator.value);
        if (!cidr) return;
        const full = cidr.words.length * 32;
        if (cidr.prefix === full && full === 32) this.ipv4.set(cidr.words[0]!, push(this.ipv4.get(cidr.words[0]!), indicator));
        else if (cidr.prefix === full) {
          const key = formatWords(cidr.words);
          this.ipv6.set(key, push(this.ipv6.get(key), indicator));
        } else this.networks.upsert(cidr, (old) => push(old, indicator));
        return;
      }
      case 'domain':
        this.domains.set(indicator.value, push(this.domains.get(indicator.value), indicator));
        return;
      default: {
        const key = `${indicator.kind}:${indicator.value}`;
        this.exact.set(key, push(this.exact.get(key), indicator));
      }
    }
  }

  /** Indicators (exact, then networks from most to least specific) holding the address at `time`. */
  matchIp(text: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    if (!text) return out;
    const words = parseIp(text);
    if (!words) return out;
    return this.matchIpWords(words, text, time, out);
  }

  matchIpWords(words: IpWords, observed: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const before = out.length;
    const exact = words.length === 1 ? this.ipv4.get(words[0]!) : this.ipv6.size > 0 ? this.ipv6.get(formatWords(words)) : undefined;
    if (exact) this.collect(exact, observed, time, out);
    if (this.networks.size > 0) {
      const nets: Indicator[][] = [];
      for (const hit of this.networks.covering(words)) nets.push(hit.value);
      for (let i = nets.length - 1; i >= 0; i--) this.collect(nets[i]!, observed, time, out);
    }
    if (out.length > before && this.warnings?.coversIp(words)) {
      this.suppressed.matches += out.length - before;
      out.length = before;
    }
    return out;
  }

  /** Indicators for the name or any parent domain of it (a feed's `evil.com` matches `a.b.evil.com`). */
  matchDomain(name: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const d = normalizeDomain(name);
    if (!d) return out;
    const before = out.length;
    let at = 0;
    for (;;) {
      const hit = this.domains.get(at === 0 ? d : d.slice(at));
      if (hit) this.collect(hit, d, time, out);
      const dot = d.indexOf('.', at);
      if (dot < 0) break;
      at = dot + 1;
    }
    if (out.length > before && this.warnings?.coversDomain(d)) {
      this.suppressed.matches += out.length - before;
      out.length = before;
    }
    return out;
  }

  /** An HTTP request (Host header and request target) against URL indicators. */
  matchUrl(host: string, uri: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const key = requestUrlKey(host, uri);
    if (!key) return out;
    const hit = this.exact.get(`url:${key}`);
    if (hit) this.collect(hit, key, time, out);
    // Feeds often list a URL without its query string.
    const q = key.indexOf('?');
    if (q > 0) {
      const bare = this.exact.get(`url:${key.slice(0, q)}`);
      if (bare) this.collect(bare, key, time, out);
    }
    return out;
  }

  /** A file hash (kind by length), JA3 or certificate fingerprint. */
  matchValue(kind: 'md5' | 'sha1' | 'sha256' | 'ja3', value: string, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const hit = this.exact.get(`${kind}:${value.toLowerCase()}`);
    if (hit) this.collect(hit, value, time, out);
    return out;
  }

  /** A certificate by serial; indicators that name an issuer also need it to match (case-insensitive). */
  matchCertificate(serial: string, issuer: string | null, time: number, out: IndicatorMatch[] = []): IndicatorMatch[] {
    const s = normalizeSerial(serial);
    if (!s) return out;
    const hit = this.exact.get(`x509:${s}`);
    if (!hit) return out;
    const iss = issuer?.replace(/\s+/g, '').toLowerCase();
    for (const indicator of hit) {
      if (indicator.issuer && indicator.issuer.replace(/\s+/g, '').toLowerCase() !== iss) continue;
      if (isActive(indicator, time)) out.push({ indicator, observed: serial });
    }
    return out;
  }

  private collect(list: readonly Indicator[], observed: string, time: number, out: IndicatorMatch[]): void {
    for (const indicator of list) if (isActive(indicator, time)) out.push({ indicator, observed });
  }
}
