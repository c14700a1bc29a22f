import { formatCidr, formatIp, parseCidr, type Cidr } from '@mamori/inventory';
import { normalizeDomain, normalizeUrl } from '@mamori/intel';
import { DECISION_INDICATOR_TYPES, type DecisionIndicatorType } from '@mamori/storage';

/** What a decision acts on, after normalization (the storage package's list: one source of truth). */
export const INDICATOR_TYPES = DECISION_INDICATOR_TYPES;
export type IndicatorType = DecisionIndicatorType;

/** A normalized indicator value: an address or network (`ipv4`/`ipv6`, a CIDR when not a host), a domain, a URL or a file hash. */
export interface IndicatorValue {
  type: IndicatorType;
  /** Canonical text: `198.51.100.7`, `203.0.113.0/24`, `2001:db8::/48`, `evil.example`, a lower-case hash. */
  value: string;
  /** The network, for ipv4/ipv6. */
  cidr?: Cidr;
}

const HASH_LENGTH: Record<'md5' | 'sha1' | 'sha256', number> = { md5: 32, sha1: 40, sha256: 64 };

/** Normalizes `value` as `type`; returns a reason when it is not one. */
export function parseIndicatorValue(type: string, raw: string): IndicatorValue | string {
  const text = raw.trim();
  if (text === '' || text.length > 2048) return 'the indicator value must be 1-2048 characters';
  switch (type) {
    case 'ipv4':
    case 'ipv6': {
      const cidr = parseCidr(text);
      if (typeof cidr === 'string') return cidr;
      if ((cidr.version === 4) !== (type === 'ipv4')) return `${text} is not an ${type} address or network`;
      const max = cidr.version === 4 ? 32 : 128;
      return { type, value: cidr.prefixLength === max ? formatIp(cidr) : formatCidr(cidr), cidr };
    }
    case 'domain': {
      const name = normalizeDomain(text);
      if (!name || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(name) || name.length > 253) return `${text} is not a domain name`;
      return { type, value: name };
    }
    case 'url': {
      if (!/^https?:\/\//i.test(text)) return 'a url indicator must start with http:// or https://';
      try {
        new URL(text);
      } catch {
        return `${text} is not a URL`;
      }
      // normalizeUrl drops the scheme (the intel index matches on host/path); keep the original scheme for export.
      const key = normalizeUrl(text);
      if (!key) return `${text} is not a URL`;
      return { type, value: text.replace(/^([a-z]+:\/\/)([^/?#]+)/i, (_, scheme: string, host: string) => scheme.toLowerCase() + host.toLowerCase()) };
    }
    case 'md5':
    case 'sha1':
    case 'sha256': {
      const hex = text.toLowerCase();
      if (!new RegExp(`^[0-9a-f]{${HASH_LENGTH[type]}}$`).test(hex)) return `${text} is not a ${type} hash`;
      return { type, value: hex };
    }
    default:
      return `type must be one of ${INDICATOR_TYPES.join(', ')}`;
  }
}

/** Guesses the type of a detection's entity value (an address, a network, a domain, a URL or a hash). */
export function indicatorFromEntity(entityType: string, entityValue: string): IndicatorValue | string {
  const v = entityValue.trim();
  if (entityType === 'ip' || entityType === 'src_ip' || entityType === 'dst_ip' || entityType === 'host' || /^[0-9a-f:.]+(\/\d+)?$/i.test(v)) {
    const cidr = parseCidr(v);
    if (typeof cidr !== 'string') return parseIndicatorValue(cidr.version === 4 ? 'ipv4' : 'ipv6', v);
  }
  if (/^https?:\/\//i.test(v)) return parseIndicatorValue('url', v);
  if (/^[0-9a-f]{64}$/i.test(v)) return parseIndicatorValue('sha256', v);
  if (/^[0-9a-f]{40}$/i.test(v)) return parseIndicatorValue('sha1', v);
  if (/^[0-9a-f]{32}$/i.test(v)) return parseIndicatorValue('md5', v);
  const domain = parseIndicatorValue('domain', v);
  if (typeof domain !== 'string') return domain;
  return `the detection's entity (${entityType}) is not an address, domain, URL or hash`;
}
