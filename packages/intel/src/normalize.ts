import { formatCidr, parseCidr } from './ip.ts';
import type { IndicatorKind } from './types.ts';

const HEX = /^[0-9a-f]+$/;
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lower case, no trailing dot; undefined unless every label is a DNS label and there are two or more. */
export function normalizeDomain(text: string): string | undefined {
  let d = text.trim().toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0 || d.length > 253) return undefined;
  const labels = d.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  // An all-numeric last label is an address, not a name.
  if (/^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  return d;
}

/**
 * A URL without scheme, fragment and default port, host lower case: `evil.com/a/b?c=1`. Feeds
 * write `http://`, `hxxp://` or nothing; events carry host and URI apart, so the scheme never helps.
 */
export function normalizeUrl(text: string): string | undefined {
  let t = text.trim();
  t = t.replace(/^hxxp/i, 'http').replace(/\[\.\]/g, '.');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) t = `http://${t}`;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return undefined;
  }
  if (!url.hostname) return undefined;
  const host = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  return `${host.toLowerCase()}${url.pathname}${url.search}`;
}

/** The URL key of an HTTP request as an event records it (Host header and request target). */
export function requestUrlKey(host: string, uri: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return normalizeUrl(uri);
  return normalizeUrl(`http://${host}${uri.startsWith('/') ? uri : `/${uri}`}`);
}

export function normalizeHash(text: string, kind: 'md5' | 'sha1' | 'sha256' | 'ja3'): string | undefined {
  const h = text.trim().toLowerCase();
  const want = kind === 'sha1' ? 40 : kind === 'sha256' ? 64 : 32;
  return h.length === want && HEX.test(h) ? h : undefined;
}

/** Certificate serial numbers appear as `4c:0b:...`, `4C0B...` or with leading zeros: hex digits only, no leading zeros. */
export function normalizeSerial(text: string): string | undefined {
  const s = text.trim().toLowerCase().replace(/[:\s-]/g, '').replace(/^0+(?=.)/, '');
  return s.length > 0 && HEX.test(s) ? s : undefined;
}

export function normalizeIp(text: string): string | undefined {
  const cidr = parseCidr(text.trim());
  return cidr ? formatCidr(cidr) : undefined;
}

/** Normalizes a value of a known kind; undefined when it is not one. */
export function normalizeValue(kind: IndicatorKind, text: string): string | undefined {
  switch (kind) {
    case 'ip':
      return normalizeIp(text);
    case 'domain':
      return normalizeDomain(text);
    case 'url':
      return normalizeUrl(text);
    case 'md5':
    case 'sha1':
    case 'sha256':
    case 'ja3':
      return normalizeHash(text, kind);
    case 'x509':
      return normalizeSerial(text);
  }
}

/** Guesses the kind of a bare value in a plain list: address/CIDR, hash by length, URL, domain. */
export function classifyValue(text: string): { kind: IndicatorKind; value: string } | undefined {
  const t = text.trim();
  const ip = normalizeIp(t);
  if (ip) return { kind: 'ip', value: ip };
  const lower = t.toLowerCase();
  if (HEX.test(lower)) {
    if (lower.length === 32) return { kind: 'md5', value: lower };
    if (lower.length === 40) return { kind: 'sha1', value: lower };
    if (lower.length === 64) return { kind: 'sha256', value: lower };
    return undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t) || t.includes('/')) {
    const url = normalizeUrl(t);
    return url ? { kind: 'url', value: url } : undefined;
  }
  const domain = normalizeDomain(t);
  return domain ? { kind: 'domain', value: domain } : undefined;
}
