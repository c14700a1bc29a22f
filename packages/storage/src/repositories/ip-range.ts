import { isIP } from 'node:net';
import { StorageError } from '../errors.ts';

/** An inclusive address range as IPv6 text (IPv4 as IPv4-mapped), ready for `toIPv6({x:String})`. */
export interface IpRange {
  lo: string;
  hi: string;
}

function v4ToBig(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBig(ip: string): bigint {
  let text = ip;
  // A trailing dotted quad (::ffff:10.0.0.1) becomes two hex groups.
  const quad = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (quad?.[1] !== undefined) {
    const v = v4ToBig(quad[1]);
    text = `${text.slice(0, quad.index)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigToV6(value: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i -= 1) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

const MAPPED = 0xffffn << 32n;

/**
 * An address or CIDR (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`) as the inclusive range
 * of the IPv6 column (IPv4 is stored IPv4-mapped, so `10.0.0.0/8` is `::ffff:10.0.0.0/104`). Range
 * predicates on `src_ip`, the second column of the events sort key, use the primary index.
 */
export function ipRange(name: string, text: string): IpRange {
  if (typeof text !== 'string') throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be an IP address or CIDR`);
  const [address = '', prefixText, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined || address.includes('%')) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} ${JSON.stringify(text)} is not an IP address or CIDR`);
  }
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefixText !== undefined && (!/^\d{1,3}$/.test(prefixText) || prefix > bits)) {
    throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} ${JSON.stringify(text)} has a bad prefix length (0-${bits})`);
  }
  const value = family === 4 ? MAPPED | v4ToBig(address) : v6ToBig(address);
  const hostBits = BigInt(bits - prefix);
  const mask = (1n << hostBits) - 1n;
  return { lo: bigToV6(value & ~mask), hi: bigToV6(value | mask) };
}
