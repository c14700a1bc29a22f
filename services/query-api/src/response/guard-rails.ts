import { parseCidr, parseIp, type Cidr, type Inventory } from '@mamori/inventory';
import type { WarningLists } from '@mamori/intel';
import type { IndicatorValue } from './indicator-value.ts';

/** Why a block (or share) was refused; `rule` is stable and documented in docs/response.md. */
export interface GuardRailRefusal {
  rule: 'home_network' | 'reserved_range' | 'reserved_domain' | 'warning_list' | 'too_broad';
  /** What matched: the range, the home network owner, the warning list name. */
  matched: string;
  message: string;
}

/** Special-purpose ranges that are never a legitimate block target (IANA special-purpose registries). */
const RESERVED: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network" (RFC 791)'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback (RFC 1122)'],
  ['169.254.0.0/16', 'link-local (RFC 3927)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0/24', 'documentation TEST-NET-1 (RFC 5737)'],
  ['192.88.99.0/24', '6to4 relay anycast (RFC 7526)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (RFC 2544)'],
  ['198.51.100.0/24', 'documentation TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0/24', 'documentation TEST-NET-3 (RFC 5737)'],
  ['224.0.0.0/4', 'multicast (RFC 5771)'],
  ['240.0.0.0/4', 'reserved (RFC 1112), including broadcast'],
  ['::/128', 'unspecified (RFC 4291)'],
  ['::1/128', 'loopback (RFC 4291)'],
  ['::ffff:0:0/96', 'IPv4-mapped (RFC 4291)'],
  ['64:ff9b:1::/48', 'local-use NAT64 (RFC 8215)'],
  ['100::/64', 'discard-only (RFC 6666)'],
  ['2001:db8::/32', 'documentation (RFC 3849)'],
  ['3fff::/20', 'documentation (RFC 9637)'],
  ['fc00::/7', 'unique local (RFC 4193)'],
  ['fe80::/10', 'link-local (RFC 4291)'],
  ['ff00::/8', 'multicast (RFC 4291)'],
];

/** Special-use domain names (RFC 2606, RFC 6761, RFC 6762, RFC 8375, RFC 9476). */
const RESERVED_DOMAINS = ['localhost', 'local', 'test', 'invalid', 'example', 'example.com', 'example.net', 'example.org', 'home.arpa', 'alt', 'internal', 'onion', 'arpa'];

/** Blocks wider than this are refused (`too_broad`): IPv4 /16, IPv6 /32. */
export const MIN_PREFIX = { 4: 16, 6: 32 } as const;

interface Range {
  version: 4 | 6;
  first: bigint;
  last: bigint;
}

function toRange(cidr: Cidr): Range {
  const bits = cidr.version === 4 ? 32 : 128;
  let n = 0n;
  for (const b of cidr.bytes) n = (n << 8n) | BigInt(b);
  const hostBits = BigInt(bits - cidr.prefixLength);
  const first = (n >> hostBits) << hostBits;
  return { version: cidr.version, first, last: first + (1n << hostBits) - 1n };
}

function rangeToText(value: bigint, version: 4 | 6): string {
  const bytes = version === 4 ? 4 : 16;
  const parts: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) parts.push(Number((value >> BigInt(i * 8)) & 0xffn));
  if (version === 4) return parts.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((parts[i]! << 8) | parts[i + 1]!).toString(16));
  return words.join(':');
}

const RESERVED_RANGES = RESERVED.map(([text, why]) => {
  const cidr = parseCidr(text);
  if (typeof cidr === 'string') throw new Error(cidr);
  return { text, why, range: toRange(cidr) };
});

/** What the guard rails consult: the inventory (home networks) and the warning lists. */
export interface GuardRailSources {
  inventory: () => Inventory | undefined;
  warningLists: WarningLists | undefined;
}

/**
 * Refuses a block (or a share) of anything that would hurt the organization or the Internet: its own
 * home networks, special-purpose ranges, special-use domains, values on a MISP warning list (public
 * resolvers, top sites, cloud ranges), and networks wider than {@link MIN_PREFIX}.
 * Returns undefined when the target passes.
 */
export function checkGuardRails(org: string, indicator: IndicatorValue, sources: GuardRailSources): GuardRailRefusal | undefined {
  const inventory = sources.inventory();
  const lists = sources.warningLists;
  if (indicator.cidr) return checkNetwork(org, indicator.cidr, indicator.value, inventory, lists);
  if (indicator.type === 'domain') return checkDomain(indicator.value, lists);
  if (indicator.type === 'url') {
    const host = new URL(indicator.value).hostname.replace(/^\[|\]$/g, '');
    const ip = parseCidr(host);
    if (typeof ip !== 'string') return checkNetwork(org, ip, host, inventory, lists);
    return checkDomain(host, lists);
  }
  return undefined; // hashes: nothing in the network can be cut off by blocking a file
}

function checkNetwork(org: string, cidr: Cidr, text: string, inventory: Inventory | undefined, lists: WarningLists | undefined): GuardRailRefusal | undefined {
  const range = toRange(cidr);
  for (const r of RESERVED_RANGES) {
    if (r.range.version === range.version && r.range.first <= range.last && range.first <= r.range.last) {
      return { rule: 'reserved_range', matched: r.text, message: `${text} overlaps ${r.text}, ${r.why}` };
    }
  }
  const min = MIN_PREFIX[cidr.version];
  if (cidr.prefixLength < min) {
    return { rule: 'too_broad', matched: `/${cidr.prefixLength}`, message: `${text} is wider than /${min}; block narrower networks` };
  }
  if (inventory) {
    const home = homeOverlap(org, range, inventory);
    if (home) return { rule: 'home_network', matched: home, message: `${text} is in a home network of organization ${org} (${home}, inventory)` };
  }
  if (lists) {
    // Every address of a small network, the ends of a large one.
    const probes = range.last - range.first < 65_536n ? addresses(range) : [range.first, range.last];
    for (const a of probes) {
      const hit = lists.coversIpText(rangeToText(a, range.version));
      if (hit) return { rule: 'warning_list', matched: hit, message: `${text} is on the warning list "${hit}"` };
    }
  }
  return undefined;
}

function* addresses(range: Range): Generator<bigint> {
  for (let a = range.first; a <= range.last; a++) yield a;
}

/**
 * The inventory answers point lookups only, so a network is checked address by address when it is
 * small (IPv4 up to /16: at most 65,536 trie walks) and by its two ends otherwise (IPv6, where a home
 * network strictly inside a /32..../64 block goes unnoticed; documented).
 */
function homeOverlap(org: string, range: Range, inventory: Inventory): string | undefined {
  const probes = range.last - range.first < 65_536n ? addresses(range) : [range.first, range.last];
  for (const a of probes) {
    const text = rangeToText(a, range.version);
    if (inventory.isHome(org, text)) {
      const asset = inventory.assetMatch(org, text);
      return asset ? `${text} (${asset.value.name})` : text;
    }
  }
  return undefined;
}

function checkDomain(name: string, lists: WarningLists | undefined): GuardRailRefusal | undefined {
  const lower = name.toLowerCase();
  for (const reserved of RESERVED_DOMAINS) {
    if (lower === reserved || lower.endsWith(`.${reserved}`)) {
      return { rule: 'reserved_domain', matched: reserved, message: `${name} is under the special-use domain ${reserved}` };
    }
  }
  const hit = lists?.coversDomain(lower);
  if (hit) return { rule: 'warning_list', matched: hit, message: `${name} is on the warning list "${hit}"` };
  return undefined;
}

/** Whether `text` parses as an address (for callers that accept bare IPs). */
export function isAddress(text: string): boolean {
  return parseIp(text) !== undefined;
}
