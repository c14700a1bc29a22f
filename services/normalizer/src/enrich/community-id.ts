import { createHash } from 'node:crypto';
import { parseIp } from '@mamori/inventory';

/** IANA protocol numbers of the transports Community ID v1 defines ports for. */
const PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, 'ipv6-icmp': 58, icmp6: 58, sctp: 132 };

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
  const proto = PROTOCOLS[flow.protocol.toLowerCase()];
  if (proto === undefined) return null;
  const src = parseIp(flow.srcIp);
  const dst = parseIp(flow.dstIp);
  if (!src || !dst || src.version !== dst.version) return null;
  let sport = flow.srcPort;
  let dport = flow.dstPort;
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
  const buf = Buffer.alloc(2 + a.length * 2 + 2 + 4);
  let at = buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(a, at);
  at += a.length;
  buf.set(b, at);
  at += b.length;
  at = buf.writeUInt8(proto, at);
  at = buf.writeUInt8(0, at);
  at = buf.writeUInt16BE(sport, at);
  buf.writeUInt16BE(dport, at);
  return `1:${createHash('sha1').update(buf).digest('base64')}`;
}
