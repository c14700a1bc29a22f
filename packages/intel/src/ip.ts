import { isIPv6 } from 'node:net';
import { ipv4ToUint32 } from '@mamori/core';

/** An address as 32-bit words, most significant first: 1 word for IPv4, 4 for IPv6. */
export type IpWords = Uint32Array;

/** IPv6 text (also with an embedded IPv4 tail or a zone) to four words, or undefined. */
export function parseIPv6(text: string): IpWords | undefined {
  const zone = text.indexOf('%');
  const t = zone >= 0 ? text.slice(0, zone) : text;
  if (!isIPv6(t)) return undefined;
  let hex = t;
  const lastColon = t.lastIndexOf(':');
  if (t.indexOf('.', lastColon) > 0) {
    const v4 = ipv4ToUint32(t.slice(lastColon + 1));
    if (v4 < 0) return undefined;
    hex = `${t.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const [left = '', right] = hex.split('::');
  const l = left === '' ? [] : left.split(':');
  const r = right === undefined || right === '' ? [] : right.split(':');
  if (right === undefined && l.length !== 8) return undefined;
  const groups = [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r].map((g) => parseInt(g, 16));
  const out = new Uint32Array(4);
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return out;
}

/** Any address to words; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is folded to IPv4. */
export function parseIp(text: string): IpWords | undefined {
  const v4 = ipv4ToUint32(text);
  if (v4 >= 0) return Uint32Array.of(v4);
  if (!text.includes(':')) return undefined;
  const v6 = parseIPv6(text);
  if (v6 && v6[0] === 0 && v6[1] === 0 && v6[2] === 0xffff) return Uint32Array.of(v6[3]!);
  return v6;
}

/** A network: words masked to the prefix length. */
export interface Cidr {
  words: IpWords;
  prefix: number;
}

/** `a.b.c.d/n`, `x::/n` or a bare address (full length); host bits are cleared. Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash >= 0 ? text.slice(0, slash) : text;
  let words = parseIp(address);
  if (!words) return undefined;
  // An IPv4-mapped IPv6 network (`::ffff:1.2.3.0/120`) counts its prefix over 128 bits: /96 and longer is
  // the IPv4 network it carries (prefix - 96), shorter reaches beyond the mapped range and stays IPv6.
  const mapped = words.length === 1 && address.includes(':');
  const bits = mapped ? 128 : words.length * 32;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > bits) return undefined;
  }
  if (mapped) {
    if (prefix >= 96) prefix -= 96;
    else words = Uint32Array.of(0, 0, 0xffff, words[0]!);
  }
  return { words: maskWords(words, prefix), prefix };
}

export function maskWords(words: IpWords, prefix: number): IpWords {
  const out = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const keep = Math.max(0, Math.min(32, prefix - i * 32));
    out[i] = keep === 0 ? 0 : keep === 32 ? words[i]! : (words[i]! & (~0 << (32 - keep))) >>> 0;
  }
  return out;
}

export function formatWords(words: IpWords): string {
  if (words.length === 1) {
    const v = words[0]!;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: string[] = [];
  for (const w of words) groups.push((w >>> 16).toString(16), (w & 0xffff).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  if (bestAt < 0) return groups.join(':');
  return `${groups.slice(0, bestAt).join(':')}::${groups.slice(bestAt + bestLen).join(':')}`;
}

/** Canonical text: `10.0.0.0/8`, `2001:db8::/32`, or the bare address for a full-length prefix. */
export function formatCidr(cidr: Cidr): string {
  const bits = cidr.words.length * 32;
  return cidr.prefix === bits ? formatWords(cidr.words) : `${formatWords(cidr.words)}/${cidr.prefix}`;
}
