/**
 * What an indicator matches on. `ip` covers exact addresses and CIDR networks of both families;
 * `x509` is a certificate serial number, optionally tied to an issuer.
 */
export type IndicatorKind = 'ip' | 'domain' | 'url' | 'md5' | 'sha1' | 'sha256' | 'ja3' | 'x509';

export const INDICATOR_KINDS: readonly IndicatorKind[] = ['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'ja3', 'x509'];

/** One normalized indicator of compromise, whatever feed it came from. */
export interface Indicator {
  kind: IndicatorKind;
  /**
   * Normalized value: addresses and CIDRs canonical (`10.0.0.0/8`, exact addresses without a
   * prefix), domains lower case without a trailing dot, hashes lower-case hex, URLs as
   * `host[:port]/path?query` with a lower-case host, x509 serials lower-case hex without separators.
   */
  value: string;
  /** Feed name (configured), e.g. `apt1-stix`. */
  source: string;
  /** Id within the source: the STIX indicator id, the MISP attribute uuid, or `<file>:<line>`. */
  id: string;
  /** 0..100 (STIX confidence scale). */
  confidence: number;
  /** Epoch ms; the indicator is inactive before it. */
  validFrom: number;
  /** Epoch ms; the indicator is inactive from it on (expired). `Infinity` when open-ended. */
  validUntil: number;
  /** Human label (STIX name, MISP event info), optional. */
  name?: string;
  /** For `x509`: the issuer the serial must come with (STIX `issuer AND serial_number`). */
  issuer?: string;
}

/**
 * An indicator built as one object literal with a fixed field order: a million indicators built
 * with object spread (`{ ...base, kind, value }`) took ~380 bytes each on the heap, as literals ~115.
 */
export function makeIndicator(kind: IndicatorKind, value: string, source: string, id: string, confidence: number, validFrom: number, validUntil: number, name?: string, issuer?: string): Indicator {
  const indicator: Indicator = { kind, value, source, id, confidence, validFrom, validUntil };
  if (name !== undefined) indicator.name = name;
  if (issuer !== undefined) indicator.issuer = issuer;
  return indicator;
}

/** An indicator that could not be used, and why (reported, never silently dropped). */
export interface Unsupported {
  source: string;
  id: string;
  /** The pattern or value as the feed gave it. */
  text: string;
  reason: string;
}

/** What one feed parse produced. */
export interface ParsedFeed {
  indicators: Indicator[];
  unsupported: Unsupported[];
}

/** True when the indicator is in force at `time` (epoch ms). */
export function isActive(indicator: Indicator, time: number): boolean {
  return indicator.validFrom <= time && time < indicator.validUntil;
}
