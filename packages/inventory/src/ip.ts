/**
 * IP address and CIDR parsing into bytes, for prefix lookups. IPv4-mapped IPv6 addresses
 * (`::ffff:10.0.0.1`) are treated as the IPv4 address they carry, so a sensor that logs either form
 * finds the same asset.
 */

import { ipv4ToUint32 } from '@mamori/core';

/** An address as network-order bytes: 4 for IPv4, 16 for IPv6. */
export interface IpBytes {
  readonly version: 4 | 6;
  readonly bytes: Uint8Array;
}

/** A network: address bytes (host bits cleared) and prefix length. */
export interface Cidr extends IpBytes {
  readonly prefixLength: number;
}

/** Dotted-quad IPv4 into `out` at `at` (the strict rule of {@link ipv4ToUint32}); nothing written when it is not one. */
function parseIPv4(text: string, out: Uint8Array, at: number): boolean {
  const n = ipv4ToUint32(text);
  if (n < 0) return false;
  writeUint32(n, out, at);
  return true;
}

function writeUint32(n: number, out: Uint8Array, at: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** An IPv4 address already read as its value (`ipv4ToUint32`, ≥ 0) into `v4`'s bytes, as {@link parseIpInto} would. */
export function ipv4Into(n: number, v4: { readonly version: 4; readonly bytes: Uint8Array }): IpBytes {
  writeUint32(n, v4.bytes, 0);
  return v4;
}

function parseIPv6(text: string): Uint8Array | undefined {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45) return undefined;
  const out = new Uint8Array(16);
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  // An embedded IPv4 address takes the last 32 bits.
  const last = (halves.length === 2 ? tail : head).at(-1);
  let v4: Uint8Array | undefined;
  if (last !== undefined && last.includes('.')) {
    v4 = new Uint8Array(4);
    if (!parseIPv4(last, v4, 0)) return undefined;
    (halves.length === 2 ? tail : head).pop();
  }
  const words = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 ? words !== 8 : words > 7) return undefined;
  const write = (list: string[], from: number): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      const n = parseInt(g, 16);
      out[(from + i) * 2] = n >> 8;
      out[(from + i) * 2 + 1] = n & 0xff;
    }
    return true;
  };
  if (!write(head, 0)) return undefined;
  const tailStart = 8 - (v4 ? 2 : 0) - tail.length;
  if (!write(tail, tailStart)) return undefined;
  if (v4) out.set(v4, 12);
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4); undefined when it is not one. */
export function parseIp(text: string): IpBytes | undefined {
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    if (!bytes) return undefined;
    if (isV4Mapped(bytes)) return { version: 4, bytes: bytes.slice(12) };
    return { version: 6, bytes };
  }
  const bytes = new Uint8Array(4);
  return parseIPv4(text, bytes, 0) ? { version: 4, bytes } : undefined;
}

/**
 * As {@link parseIp}, but an IPv4 address is written into `v4.bytes` (4 bytes) and `v4` itself is
 * returned instead of a new object and array; IPv6 goes through parseIp. For callers that look an
 * address up and drop it: enrichment parses two per event, and two Uint8Arrays and two objects per
 * event were a visible share of its allocation. The result is valid until the next call with `v4`.
 */
export function parseIpInto(text: string, v4: { readonly version: 4; readonly bytes: Uint8Array }): IpBytes | undefined {
  if (text.includes(':')) return parseIp(text);
  return parseIPv4(text, v4.bytes, 0) ? v4 : undefined;
}

/**
 * Parses `addr/len` or a bare address (a host route: /32 or /128). Host bits set beyond the prefix
 * are refused (`10.0.0.1/8` is almost always a typo for a host or for `10.0.0.0/8`).
 * Returns the network or a reason.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let ip: IpBytes | undefined;
  let version: 4 | 6;
  let bytes: Uint8Array;
  if (addrText.includes(':')) {
    // Keep IPv4-mapped networks in IPv6 space when a prefix is given for them.
    const raw = parseIPv6(addrText);
    if (!raw) return `${JSON.stringify(addrText)} is not an IP address`;
    ip = isV4Mapped(raw) && slash < 0 ? { version: 4, bytes: raw.slice(12) } : { version: 6, bytes: raw };
  } else {
    ip = parseIp(addrText);
    if (!ip) return `${JSON.stringify(addrText)} is not an IP address`;
  }
  version = ip.version;
  bytes = ip.bytes;
  const max = version === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return `prefix length ${JSON.stringify(lenText)} must be 0-${max}`;
    prefixLength = Number(lenText);
  }
  for (let bit = prefixLength; bit < max; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return `${text} has host bits set beyond /${prefixLength}`;
  }
  return { version, bytes, prefixLength };
}

/** `addr/len` in canonical form (IPv6 compressed, lower case). */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr)}/${cidr.prefixLength}`;
}

/** Canonical text of an address (RFC 5952 for IPv6). */
export function formatIp(ip: IpBytes): string {
  const b = ip.bytes;
  if (ip.version === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}
