/**
 * One decoded flow, as the collector writes it (one JSON line) to `telemetry.raw.netflow.flow` and
 * the normalizer's `netflow.flow` format reads it. One direction per record: NetFlow/IPFIX counts
 * the packets and bytes seen from `src_ip` to `dst_ip`.
 */
export interface FlowRecord {
  /** Address of the exporter (the UDP source), as text. */
  exporter: string;
  /** v9 source id, IPFIX observation domain id, v5 `engine_type << 8 | engine_id`. */
  observation_domain: number;
  version: 5 | 9 | 10;
  /** Template that described the record; 0 for v5. */
  template_id: number;
  /** Flow start and end, epoch ms (uptime-relative times converted with the packet header). */
  start_ms: number;
  end_ms: number;
  /** Null when the template carries no address of that side. */
  src_ip: string | null;
  dst_ip: string | null;
  /** 0 when absent; for ICMP/ICMPv6, type and code (as Zeek and Suricata write them; see `icmpPorts`). */
  src_port: number;
  dst_port: number;
  /** IANA protocol number; 0 when absent. */
  protocol: number;
  bytes: number;
  packets: number;
  tcp_flags: number;
  input_if: number;
  output_if: number;
  /** flowDirection (61), when the exporter says. */
  direction?: 'ingress' | 'egress';
  /** 1-in-N packet sampling, from the record, the exporter's options data or the v5 header. */
  sampling_interval?: number;
  /** Every other decoded field: IANA name → value; unknown or enterprise fields as `<pen>.<id>` → hex. */
  fields: Record<string, string | number>;
}

/** Unsigned big-endian integer of 0..8 bytes; above 2^53 the value is rounded (counters stay usable). */
export function readUnsigned(buf: Buffer, off: number, len: number): number {
  if (len === 0) return 0;
  if (len <= 6) return buf.readUIntBE(off, len);
  const hiLen = len - 4;
  return buf.readUIntBE(off, hiLen) * 0x1_0000_0000 + buf.readUInt32BE(off + hiLen);
}

/** Same as readUnsigned but exact: a decimal string when the value exceeds 2^53. */
export function readUnsignedExact(buf: Buffer, off: number, len: number): number | string {
  const n = readUnsigned(buf, off, len);
  if (n <= Number.MAX_SAFE_INTEGER) return n;
  let big = 0n;
  for (let i = 0; i < len; i++) big = (big << 8n) | BigInt(buf[off + i] as number);
  return big.toString();
}

export function ipv4(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952 text form: lower case, longest run of two or more zero groups compressed. */
export function ipv6(buf: Buffer, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(off + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function mac(buf: Buffer, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((buf[off + i] as number).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** NTP timestamp (seconds since 1900 + 2^-32 fractions) to epoch ms. */
export function ntpToMs(buf: Buffer, off: number): number {
  const seconds = buf.readUInt32BE(off);
  const fraction = buf.readUInt32BE(off + 4);
  return (seconds - 2_208_988_800) * 1000 + Math.floor((fraction / 0x1_0000_0000) * 1000);
}
