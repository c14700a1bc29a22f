import { WarningLists, type MispWarningList } from '@mamori/intel';
import { formatCidr, parseIp, type Inventory } from '@mamori/inventory';
import type { IndicatorValue } from './indicator-value.ts';
import { NetworkIndex, addressText, familyPrefix, isV4, networkText, parseNetwork, type NetworkRange } from './network-range.ts';

/** Why a block (or share) was refused; `rule` is stable and documented in docs/response.md. */
export interface GuardRailRefusal {
  rule: 'home_network' | 'reserved_range' | 'reserved_domain' | 'warning_list' | 'too_broad';
  /** What matched: the range, the home network owner, the warning list name. */
  matched: string;
  message: string;
}

/**
 * Ranges that are never a legitimate block target: every entry of the IANA IPv4 and IPv6
 * Special-Purpose Address Registries (RFC 6890; iana.org/assignments/iana-ipv4-special-registry and
 * iana-ipv6-special-registry), whether globally reachable or not, plus multicast and IPv4-compatible
 * IPv6. Globally reachable entries are infrastructure anycast (AS112, AMT, PCP/TURN), identifiers that
 * are not routed (ORCHIDv2, DETs), or another host written in translation or tunnel form (NAT64,
 * 6to4, Teredo): block that host's own address instead. `::ffff:0:0/96` (IPv4-mapped) is not listed:
 * it is the IPv4 space itself, and every IPv4 entry below covers its mapped form.
 */
const RESERVED: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network" (RFC 791)'],
  ['10.0.0.0/8', 'private-use (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space, carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback (RFC 1122)'],
  ['169.254.0.0/16', 'link-local (RFC 3927)'],
  ['172.16.0.0/12', 'private-use (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (RFC 6890)'],
  ['192.0.0.0/29', 'IPv4 service continuity prefix (RFC 7335)'],
  ['192.0.0.8/32', 'IPv4 dummy address (RFC 7600)'],
  ['192.0.0.9/32', 'Port Control Protocol anycast (RFC 7723)'],
  ['192.0.0.10/32', 'TURN anycast (RFC 8155)'],
  ['192.0.0.170/32', 'NAT64/DNS64 discovery (RFC 7050)'],
  ['192.0.0.171/32', 'NAT64/DNS64 discovery (RFC 7050)'],
  ['192.0.2.0/24', 'documentation TEST-NET-1 (RFC 5737)'],
  ['192.31.196.0/24', 'AS112-v4 (RFC 7535)'],
  ['192.52.193.0/24', 'AMT (RFC 7450)'],
  ['192.88.99.0/24', 'deprecated 6to4 relay anycast (RFC 7526)'],
  ['192.168.0.0/16', 'private-use (RFC 1918)'],
  ['192.175.48.0/24', 'direct delegation AS112 service (RFC 7534)'],
  ['198.18.0.0/15', 'benchmarking (RFC 2544)'],
  ['198.51.100.0/24', 'documentation TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0/24', 'documentation TEST-NET-3 (RFC 5737)'],
  ['224.0.0.0/4', 'multicast (RFC 5771)'],
  ['240.0.0.0/4', 'reserved (RFC 1112)'],
  ['255.255.255.255/32', 'limited broadcast (RFC 919)'],
  ['::/128', 'unspecified (RFC 4291)'],
  ['::1/128', 'loopback (RFC 4291)'],
  ['::/96', 'IPv4-compatible IPv6, deprecated (RFC 4291)'],
  ['64:ff9b::/96', 'IPv4/IPv6 translation, NAT64 well-known prefix (RFC 6052): block the IPv4 address it carries'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation (RFC 8215)'],
  ['100::/64', 'discard-only (RFC 6666)'],
  ['100:0:0:1::/64', 'dummy IPv6 prefix (IANA special-purpose registry)'],
  ['2001::/23', 'IETF protocol assignments (RFC 2928)'],
  ['2001::/32', 'Teredo (RFC 4380): block the IPv4 address it carries'],
  ['2001:1::1/128', 'Port Control Protocol anycast (RFC 7723)'],
  ['2001:1::2/128', 'TURN anycast (RFC 8155)'],
  ['2001:1::3/128', 'DNS-SD service registration protocol anycast (RFC 9665)'],
  ['2001:2::/48', 'benchmarking (RFC 5180)'],
  ['2001:3::/32', 'AMT (RFC 7450)'],
  ['2001:4:112::/48', 'AS112-v6 (RFC 7535)'],
  ['2001:10::/28', 'deprecated ORCHID (RFC 4843)'],
  ['2001:20::/28', 'ORCHIDv2 (RFC 7343)'],
  ['2001:30::/28', 'drone remote ID entity tags (RFC 9374)'],
  ['2001:db8::/32', 'documentation (RFC 3849)'],
  ['2002::/16', '6to4 (RFC 3056): block the IPv4 address it carries'],
  ['2620:4f:8000::/48', 'direct delegation AS112 service (RFC 7534)'],
  ['3fff::/20', 'documentation (RFC 9637)'],
  ['5f00::/16', 'segment routing SIDs (RFC 9602)'],
  ['fc00::/7', 'unique local (RFC 4193)'],
  ['fe80::/10', 'link-local unicast (RFC 4291)'],
  ['ff00::/8', 'multicast (RFC 4291)'],
];

/** Special-use domain names (RFC 2606, RFC 6761, RFC 6762, RFC 8375, RFC 9476). */
const RESERVED_DOMAINS = ['localhost', 'local', 'test', 'invalid', 'example', 'example.com', 'example.net', 'example.org', 'home.arpa', 'alt', 'internal', 'onion', 'arpa'];

/** Blocks wider than this are refused (`too_broad`): IPv4 /16, IPv6 /32. */
export const MIN_PREFIX = { 4: 16, 6: 32 } as const;

const RESERVED_INDEX = new NetworkIndex<string>();
for (const [text, why] of RESERVED) {
  const range = parseNetwork(text);
  if (!range) throw new Error(`bad reserved range ${text}`);
  RESERVED_INDEX.add(range, `${text}\u001f${why}`);
}

/** What the guard rails consult: the inventory (home networks) and the warning lists. */
export interface GuardRailSources {
  inventory: () => Inventory | undefined;
  /** Host-name and string lists (domains, URL hosts). */
  warningLists: WarningLists | undefined;
  /** The networks of the `cidr` warning lists that apply to addresses, labelled with the list name. */
  warningNetworks: NetworkIndex<string> | undefined;
}

/** MISP attribute types that make a `cidr` list apply to addresses (as in @mamori/intel). */
const IP_ATTRIBUTES = new Set(['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'domain|ip']);

/**
 * The guard rails' view of MISP warning lists: every list in a WarningLists (names and domains),
 * and the networks of the `cidr` lists that apply to addresses (no `matching_attributes`, or an
 * address attribute) in a {@link NetworkIndex}, so a network of any size is checked by overlap.
 * Entries that are not networks are skipped, as @mamori/intel skips them.
 */
export function warningListSources(lists: readonly MispWarningList[]): Pick<GuardRailSources, 'warningLists' | 'warningNetworks'> {
  const all = new WarningLists();
  const networks = new NetworkIndex<string>();
  for (const list of lists) {
    all.add(list);
    const attributes = list.matching_attributes ?? [];
    if (list.type !== 'cidr' || (attributes.length > 0 && !attributes.some((a) => IP_ATTRIBUTES.has(a)))) continue;
    for (const raw of list.list) {
      const range = parseNetwork(String(raw).trim().toLowerCase());
      if (range) networks.add(range, list.name);
    }
  }
  return { warningLists: all, warningNetworks: networks };
}

/**
 * Refuses a block (or a share) of anything that would hurt the organization or the Internet: its own
 * home networks, special-purpose ranges, special-use domains, values on a MISP warning list (public
 * resolvers, top sites, cloud ranges), and networks wider than {@link MIN_PREFIX}.
 * Returns undefined when the target passes.
 */
export function checkGuardRails(org: string, indicator: IndicatorValue, sources: GuardRailSources): GuardRailRefusal | undefined {
  if (indicator.type === 'ipv4' || indicator.type === 'ipv6') {
    const range = parseNetwork(indicator.value);
    if (range) return checkNetwork(org, range, indicator.value, sources);
  }
  if (indicator.type === 'domain') return checkDomain(indicator.value, sources.warningLists);
  if (indicator.type === 'url') {
    const host = new URL(indicator.value).hostname.replace(/^\[|\]$/g, '');
    const range = parseNetwork(host);
    if (range) return checkNetwork(org, range, host, sources);
    return checkDomain(host, sources.warningLists);
  }
  return undefined; // hashes: nothing in the network can be cut off by blocking a file
}

/**
 * Checks a network of any size in either family by exact overlap (one contains the other) against
 * the special-purpose ranges, the organization's home networks and the warning lists' networks.
 * IPv4-mapped IPv6 (`::ffff:10.0.0.0/104`) is the IPv4 network it carries.
 */
function checkNetwork(org: string, range: NetworkRange, text: string, sources: GuardRailSources): GuardRailRefusal | undefined {
  const reserved = RESERVED_INDEX.overlapping(range);
  if (reserved) {
    const [cidr = '', why = ''] = reserved.label.split('\u001f');
    return { rule: 'reserved_range', matched: cidr, message: `${text} overlaps ${cidr}, ${why}` };
  }
  const v4 = isV4(range);
  const min = MIN_PREFIX[v4 ? 4 : 6];
  const prefix = familyPrefix(range);
  if (prefix < min) {
    return { rule: 'too_broad', matched: `/${prefix}`, message: `${text} is wider than /${min}; block narrower networks` };
  }
  const inventory = sources.inventory();
  if (inventory) {
    const home = homeIndex(inventory, org).overlapping(range);
    if (home) {
      const network = networkText(home.range);
      // Name the asset at the first shared address, when the inventory knows one.
      const shared = addressText(home.range.lo > range.lo ? home.range.lo : range.lo);
      const asset = inventory.assetMatch(org, shared);
      const matched = asset ? `${network} (${asset.value.name})` : network;
      return { rule: 'home_network', matched, message: `${text} overlaps home network ${matched} of organization ${org} (inventory)` };
    }
  }
  const listed = sources.warningNetworks?.overlapping(range);
  if (listed) {
    return { rule: 'warning_list', matched: listed.label, message: `${text} overlaps ${networkText(listed.range)} on the warning list "${listed.label}"` };
  }
  return undefined;
}

const homeIndexes = new WeakMap<Inventory, Map<string, NetworkIndex<true>>>();

/** The organization's home networks as an index, built once per loaded inventory. */
function homeIndex(inventory: Inventory, org: string): NetworkIndex<true> {
  let byOrg = homeIndexes.get(inventory);
  if (!byOrg) homeIndexes.set(inventory, (byOrg = new Map()));
  let index = byOrg.get(org);
  if (!index) {
    index = new NetworkIndex<true>();
    for (const cidr of inventory.homeNetworks(org)) {
      const range = parseNetwork(formatCidr(cidr));
      if (range) index.add(range, true);
    }
    byOrg.set(org, index);
  }
  return index;
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
