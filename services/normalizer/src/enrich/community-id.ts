import crypto from 'node:crypto';
import { parseIp, type IpBytes } from '@mamori/inventory';

/**
 * IANA protocol numbers of the transports Community ID v1 defines ports for. A Map: a plain object
 * also answered `constructor` and `__proto__` (a sensor's protocol text), which then hashed as 0.
 */
const PROTOCOLS: ReadonlyMap<string, number> = new Map([['icmp', 1], ['tcp', 6], ['udp', 17], ['icmpv6', 58], ['ipv6-icmp', 58], ['icmp6', 58], ['sctp', 132]]);

/**
 * SHA-1 as base64: Node's one-shot `crypto.hash` (Node ≥ 20.12) where it exists, else a Hash object.
 * Per event the one-shot costs about half (no Hash object, one native call).
 */
const sha1Base64: (data: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha1', data, 'base64')
    : (data) => crypto.createHash('sha1').update(data).digest('base64');

/** The hashed tuple of an IPv4 flow and of an IPv6 one, reused (hashed before the next call). */
const TUPLE4 = new Uint8Array(2 + 4 * 2 + 2 + 4);
const TUPLE6 = new Uint8Array(2 + 16 * 2 + 2 + 4);

// ICMP types whose "port" pair is request/reply: the counterpart type stands in for the destination
// port, so both directions of an exchange hash alike (community-id spec, ICMP handling).
const ICMP4_PAIRS: ReadonlyMap<number, number> = new Map([
  [8, 0], [0, 8], [13, 14], [14, 13], [15, 16], [16, 15], [10, 9], [9, 10], [17, 18], [18, 17],
]);
const ICMP6_PAIRS: ReadonlyMap<number, number> = new Map([
  [128, 129], [129, 128], [130, 131], [131, 130], [133, 134], [134, 133], [135, 136], [136, 135], [139, 140], [140, 139], [144, 145], [145, 144],
]);

/** A flow as Community ID sees it. For ICMP, `srcPort` is the type and `dstPort` the code. */
export interface FlowTuple {
  readonly protocol: string;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Community ID v1 of a flow: `1:` + base64(SHA-1(seed (16-bit BE) · src addr · dst addr · proto ·
 * 0 · src port (BE) · dst port (BE))), with the endpoints ordered (smaller address first, then
 * smaller port) so both directions hash alike. Only tcp, udp, icmp, icmpv6 and sctp are hashed;
 * anything else, mismatched address families or out-of-range ports give null.
 */
export function communityIdV1(flow: FlowTuple, seed = 0): string | null {
  if (!PROTOCOLS.has(flow.protocol.toLowerCase())) return null;
  return communityIdOf(flow.protocol, parseIp(flow.srcIp), flow.srcPort, parseIp(flow.dstIp), flow.dstPort, seed);
}

/** {@link communityIdV1} of addresses already parsed (undefined: not an address); the enricher parses each once per event. */
export function communityIdOf(protocol: string, src: IpBytes | undefined, srcPort: number, dst: IpBytes | undefined, dstPort: number, seed = 0): string | null {
  // Decoders write the protocol in lower case: the exact text first, case-folded only when that misses.
  let proto = PROTOCOLS.get(protocol) ?? PROTOCOLS.get(protocol.toLowerCase());
  if (proto === undefined) return null;
  if (!src || !dst || src.version !== dst.version) return null;
  // Zeek's conn.log says `icmp` for ICMPv6 too (its transport_proto has no icmpv6): over IPv6 it is 58,
  // as Zeek's own community_id, Suricata (`IPv6-ICMP`) and NetFlow (58) hash it.
  if (proto === 1 && src.version === 6) proto = 58;
  let sport = srcPort;
  let dport = dstPort;
  if (!Number.isInteger(sport) || !Number.isInteger(dport) || sport < 0 || dport < 0 || sport > 65535 || dport > 65535) return null;
  let oneWay = false;
  if (proto === 1 || proto === 58) {
    const counterpart = (proto === 1 ? ICMP4_PAIRS : ICMP6_PAIRS).get(sport);
    if (counterpart === undefined) oneWay = true;
    else dport = counterpart;
  }
  let a = src.bytes;
  let b = dst.bytes;
  if (!oneWay) {
    const order = compare(a, b);
    if (order > 0 || (order === 0 && sport > dport)) {
      [a, b] = [b, a];
      [sport, dport] = [dport, sport];
    }
  }
  const n = a.length;
  const tuple = n === 4 ? TUPLE4 : TUPLE6;
  tuple[0] = (seed >>> 8) & 0xff;
  tuple[1] = seed & 0xff;
  for (let i = 0; i < n; i++) {
    tuple[2 + i] = a[i] as number;
    tuple[2 + n + i] = b[i] as number;
  }
  let at = 2 + 2 * n;
  tuple[at++] = proto;
  tuple[at++] = 0;
  tuple[at++] = sport >>> 8;
  tuple[at++] = sport & 0xff;
  tuple[at++] = dport >>> 8;
  tuple[at] = dport & 0xff;
  return `1:${sha1Base64(tuple)}`;
}
