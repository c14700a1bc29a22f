import { IntelError } from './errors.ts';
import { parseCidr, parseIp, type IpWords } from './ip.ts';
import { normalizeDomain } from './normalize.ts';
import { PrefixTrie } from './prefix-trie.ts';
import { INDICATOR_KINDS, type Indicator, type IndicatorKind } from './types.ts';

/** A MISP warning list file (github.com/MISP/misp-warninglists format). */
export interface MispWarningList {
  name: string;
  type: 'cidr' | 'hostname' | 'string' | 'substring' | 'regex';
  list: string[];
  matching_attributes?: string[];
}

/** MISP attribute types to the indicator kinds they cover. */
const ATTRIBUTE_KINDS: Readonly<Record<string, readonly IndicatorKind[]>> = {
  'ip-src': ['ip'], 'ip-dst': ['ip'], 'ip-src|port': ['ip'], 'ip-dst|port': ['ip'], 'domain|ip': ['ip', 'domain'],
  domain: ['domain'], hostname: ['domain'], url: ['url'], uri: ['url'],
  md5: ['md5'], sha1: ['sha1'], sha256: ['sha256'], 'filename|md5': ['md5'], 'filename|sha1': ['sha1'], 'filename|sha256': ['sha256'],
  'ja3-fingerprint-md5': ['ja3'], 'x509-fingerprint-sha1': ['x509'],
};

interface KindLists {
  networks: PrefixTrie<string>;
  /** Host names: an entry covers itself and every subdomain. */
  hostnames: Map<string, string>;
  strings: Map<string, string>;
  substrings: { text: string; list: string }[];
}

/**
 * Known-benign values (RFC 1918, public resolvers, top sites, common false-positive hashes):
 * indicators they cover are dropped at load time and matches on them are suppressed.
 * `regex` lists are counted in {@link skipped}, not applied (feeds' regular expressions are
 * unbounded work per value).
 */
export class WarningLists {
  private readonly byKind = new Map<IndicatorKind, KindLists>();
  readonly names: string[] = [];
  readonly skipped: string[] = [];

  static fromJson(text: string, where: string): MispWarningList {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (cause) {
      throw new IntelError('INTEL_FEED_INVALID', `${where}: warning list is not JSON`, { cause });
    }
    const d = data as Partial<MispWarningList>;
    if (!d || typeof d.name !== 'string' || typeof d.type !== 'string' || !Array.isArray(d.list)) {
      throw new IntelError('INTEL_FEED_INVALID', `${where}: not a MISP warning list (needs name, type, list)`);
    }
    return d as MispWarningList;
  }

  add(list: MispWarningList): void {
    this.names.push(list.name);
    if (list.type === 'regex') {
      this.skipped.push(list.name);
      return;
    }
    const kinds = new Set<IndicatorKind>();
    for (const attribute of list.matching_attributes ?? []) for (const k of ATTRIBUTE_KINDS[attribute] ?? []) kinds.add(k);
    if (kinds.size === 0) for (const k of INDICATOR_KINDS) kinds.add(k);
    for (const kind of kinds) {
      const lists = this.lists(kind);
      for (const raw of list.list) {
        const entry = String(raw).trim().toLowerCase();
        if (entry === '') continue;
        if (list.type === 'cidr') {
          const cidr = parseCidr(entry);
          if (cidr) lists.networks.upsert(cidr, (old) => old ?? list.name);
        } else if (list.type === 'hostname') {
          const name = normalizeDomain(entry.replace(/^\*?\./, ''));
          if (name && !lists.hostnames.has(name)) lists.hostnames.set(name, list.name);
        } else if (list.type === 'string') {
          if (!lists.strings.has(entry)) lists.strings.set(entry, list.name);
        } else if (list.type === 'substring') {
          lists.substrings.push({ text: entry, list: list.name });
        }
      }
    }
  }

  /** The warning list that marks this indicator benign, or undefined. */
  coversIndicator(indicator: Indicator): string | undefined {
    const lists = this.byKind.get(indicator.kind);
    if (!lists) return undefined;
    const value = indicator.value;
    if (indicator.kind === 'ip') {
      const cidr = parseCidr(value);
      if (cidr) {
        // Only a benign network that holds the whole indicator network suppresses it; a broader
        // indicator (8.0.0.0/8 around 8.8.8.8) stays, and its matches on benign hosts are suppressed.
        const hit = lists.networks.first(cidr.words, cidr.prefix);
        if (hit !== undefined) return hit;
      }
    }
    if (indicator.kind === 'domain') {
      const hit = this.hostnameList(lists, value);
      if (hit) return hit;
    }
    if (indicator.kind === 'url') {
      const host = value.split('/')[0]!.replace(/:\d+$/, '');
      const hit = this.hostnameList(lists, host);
      if (hit) return hit;
    }
    return this.stringList(lists, value);
  }

  /** The warning list holding this observed address, or undefined. */
  coversIp(words: IpWords): string | undefined {
    return this.byKind.get('ip')?.networks.lookup(words)?.value;
  }

  coversIpText(text: string): string | undefined {
    const words = parseIp(text);
    return words ? this.coversIp(words) : undefined;
  }

  /** The warning list holding this observed host name (or a parent of it), or undefined. */
  coversDomain(name: string): string | undefined {
    const lists = this.byKind.get('domain');
    return lists ? (this.hostnameList(lists, name) ?? lists.strings.get(name)) : undefined;
  }

  private hostnameList(lists: KindLists, name: string): string | undefined {
    if (lists.hostnames.size === 0) return undefined;
    let at = 0;
    for (;;) {
      const hit = lists.hostnames.get(at === 0 ? name : name.slice(at));
      if (hit) return hit;
      const dot = name.indexOf('.', at);
      if (dot < 0) return undefined;
      at = dot + 1;
    }
  }

  private stringList(lists: KindLists, value: string): string | undefined {
    const exact = lists.strings.get(value);
    if (exact) return exact;
    for (const s of lists.substrings) if (value.includes(s.text)) return s.list;
    return undefined;
  }

  private lists(kind: IndicatorKind): KindLists {
    let lists = this.byKind.get(kind);
    if (!lists) this.byKind.set(kind, (lists = { networks: new PrefixTrie(), hostnames: new Map(), strings: new Map(), substrings: [] }));
    return lists;
  }
}
