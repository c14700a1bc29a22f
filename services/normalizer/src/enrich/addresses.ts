import { PrefixTrie, parseIp } from '@mamori/inventory';

/**
 * Special-purpose ranges (IANA IPv4/IPv6 special-purpose registries): private, loopback,
 * link-local, shared (CGNAT), documentation, multicast, reserved. GeoIP is looked up only for
 * addresses outside them; a private address has no location worth reporting.
 */
const SPECIAL = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::/128', '::1/128', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32', '3fff::/20', 'fc00::/7', 'fe80::/10', 'ff00::/8',
];

const special = new PrefixTrie<true>();
for (const cidr of SPECIAL) special.insert(cidr, true);

/** Whether `ip` is a routable public address (false for special-purpose ranges and non-addresses). */
export function isPublicAddress(ip: string): boolean {
  const addr = parseIp(ip);
  return addr !== undefined && !special.contains(addr);
}
