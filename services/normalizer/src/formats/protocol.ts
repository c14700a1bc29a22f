/**
 * The `protocol` of events: IANA's keyword for the protocol number, in lower case (as OCSF's
 * `protocol_name`): `tcp`, `udp`, `icmp`, `ipv6-icmp`, `sctp`, `gre`, ... Sensors name ICMPv6 four
 * ways: Zeek writes `icmp` for it too (its conn.log has no icmpv6), Suricata `IPv6-ICMP`, NetFlow
 * the number 58, other tools `icmpv6` or `icmp6`. All become `ipv6-icmp`, so one filter or rule finds
 * ICMPv6 whatever the sensor.
 */

/** IANA keywords (lower case) of the protocol numbers that flows commonly carry. */
const BY_NUMBER: ReadonlyMap<number, string> = new Map([
  [1, 'icmp'], [2, 'igmp'], [4, 'ipv4'], [6, 'tcp'], [17, 'udp'], [41, 'ipv6'], [47, 'gre'], [50, 'esp'], [51, 'ah'],
  [58, 'ipv6-icmp'], [88, 'eigrp'], [89, 'ospfigp'], [103, 'pim'], [112, 'vrrp'], [115, 'l2tp'], [132, 'sctp'],
]);

/** Other names sensors use for a protocol, by the name events use. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['icmpv6', 'ipv6-icmp'], ['icmp6', 'ipv6-icmp'], ['ipv6icmp', 'ipv6-icmp'], ['ospf', 'ospfigp'],
]);

const DECIMAL = /^\d{1,3}$/;

/** The name of protocol number `n`: IANA's keyword where it is in the table, else `n` as text. */
export function protocolOfNumber(n: number): string {
  return BY_NUMBER.get(n) ?? String(n);
}

/**
 * The event's name for a protocol a sensor wrote as text (a name in any case, or a decimal number).
 * `ipv6`: the flow is between IPv6 addresses, where `icmp` (Zeek's name for both) means ICMPv6.
 */
export function protocolOfName(text: string, ipv6: boolean): string {
  const lower = text.toLowerCase();
  if (lower === 'tcp' || lower === 'udp') return lower;
  if (lower === 'icmp') return ipv6 ? 'ipv6-icmp' : 'icmp';
  const alias = ALIASES.get(lower);
  if (alias !== undefined) return alias;
  return DECIMAL.test(lower) && Number(lower) <= 255 ? protocolOfNumber(Number(lower)) : lower;
}

/**
 * Whether an address text is IPv6 (not IPv4, nor IPv4 mapped into IPv6 as `::ffff:a.b.c.d`, which
 * carries IPv4 traffic): what {@link protocolOfName}'s `ipv6` asks of a flow's source address.
 */
export function isIpv6Flow(address: string): boolean {
  if (!address.includes(':')) return false;
  return !(address.includes('.') && /^::ffff:/i.test(address));
}
