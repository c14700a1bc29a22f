/** IPv4/IPv6 parsing and CIDR membership, without allocation on the hot path beyond one array. */
import { ipv4ToUint32 } from '@mamori/core';

/** Parses an IPv4 or IPv6 address to 16 bytes (IPv4 as ::ffff:a.b.c.d); undefined if invalid. */
export function parseIp(text: string): Uint8Array | undefined {
  const s = text.trim();
  if (s.includes(':')) return parseV6(s);
  const v4 = parseV4(s);
  if (!v4) return undefined;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

/**
 * Dotted-quad IPv4 by Mamori's one rule (`ipv4ToUint32`: four parts 0–255, no leading zeros, which
 * some parsers read as octal: the same text must not be one address here and another, or none,
 * elsewhere in the pipeline), as its four bytes.
 */
function parseV4(s: string): Uint8Array | undefined {
  const v = ipv4ToUint32(s);
  if (v < 0) return undefined;
  const out = new Uint8Array(4);
  out[0] = v >>> 24;
  out[1] = (v >>> 16) & 0xff;
  out[2] = (v >>> 8) & 0xff;
  out[3] = v & 0xff;
  return out;
}

function parseV6(input: string): Uint8Array | undefined {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const out = new Uint8Array(16);
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = parseV4(s.slice(lastColon + 1));
    if (!tail) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if (halves.length === 1 && head.length !== 8) return undefined;
  if (head.length + rest.length > (halves.length === 2 ? 7 : 8)) return undefined;
  const put = (groups: string[], at: number): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      const n = parseInt(g, 16);
      out[(at + i) * 2] = n >> 8;
      out[(at + i) * 2 + 1] = n & 0xff;
    }
    return true;
  };
  if (!put(head, 0) || !put(rest, 8 - rest.length)) return undefined;
  if (tail) out.set(tail, 12);
  return out;
}

/** Compiles `network/prefix` (IPv4 or IPv6) to a membership test over address text. */
export function compileCidr(spec: string): ((ip: string) => boolean) | undefined {
  const [addr, prefixText] = spec.trim().split('/');
  if (addr === undefined) return undefined;
  const net = parseIp(addr);
  if (!net) return undefined;
  const isV4 = !addr.includes(':');
  let prefix = prefixText === undefined ? (isV4 ? 32 : 128) : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (isV4 ? 32 : 128)) return undefined;
  if (isV4) prefix += 96;
  const full = prefix >> 3;
  const bits = prefix & 7;
  const mask = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  return (ip: string) => {
    const a = parseIp(ip);
    if (!a) return false;
    for (let i = 0; i < full; i++) if (a[i] !== net[i]) return false;
    if (bits !== 0 && ((a[full]! ^ net[full]!) & mask) !== 0) return false;
    return true;
  };
}
