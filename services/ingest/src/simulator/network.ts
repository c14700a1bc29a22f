/** IPv4 helpers and the shape of the simulated network. */

export interface Cidr {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let value = 0;
  for (const part of parts) {
    const n = Number(part);
    if (!/^\d{1,3}$/.test(part) || n > 255) throw new Error(`not an IPv4 address: ${ip}`);
    value = value * 256 + n;
  }
  return value;
}

export function intToIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

export function parseCidr(text: string): Cidr {
  const [ip, bits] = text.split('/');
  const prefix = Number(bits);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
    throw new Error(`homeCidr must be an IPv4 CIDR with a prefix between /8 and /30, got ${JSON.stringify(text)}`);
  }
  const size = 2 ** (32 - prefix);
  const base = Math.floor(ipv4ToInt(ip) / size) * size;
  return { base, prefix, size };
}

export function inCidr(cidr: Cidr, ip: string): boolean {
  if (ip.includes(':')) return false;
  const value = ipv4ToInt(ip);
  return value >= cidr.base && value < cidr.base + cidr.size;
}

/** An internal service every client uses. */
export interface InternalService {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly proto: 'tcp' | 'udp';
  /** Zeek's `service` value, when Zeek would recognise it. */
  readonly service: string | undefined;
}

/** An external destination clients visit regularly. */
export interface ExternalSite {
  readonly ip: string;
  readonly port: 443 | 80;
}

/** The simulated network, exposed so that tests and demos know who is who. */
export interface SimulatedNetwork {
  readonly homeCidr: string;
  readonly clients: readonly string[];
  readonly servers: Readonly<Record<'dns' | 'ldap' | 'kerberos' | 'smb' | 'intranet' | 'ntp', string>>;
  readonly externalResolvers: readonly string[];
  readonly externalSites: readonly ExternalSite[];
}
