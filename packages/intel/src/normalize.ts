import { formatCidr, parseCidr } from './ip.ts';
import type { IndicatorKind } from './types.ts';

const HEX = /^[0-9a-f]+$/;

/**
 * Checks `s[0, end)` as a host name: two or more labels of `[A-Za-z0-9_-]`, each 1..63 long and not
 * starting or ending with `-`, the last not all digits (an address, not a name). One pass over the
 * characters, no regular expression, no allocation. Returns -1 when invalid, 1 when valid with
 * upper-case letters, 0 when valid and already lower case.
 */
function scanDomain(s: string, end: number): number {
  let labels = 0;
  let labelStart = 0;
  let digitsOnly = true;
  let upper = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? 46 : s.charCodeAt(i);
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0 || len > 63 || s.charCodeAt(labelStart) === 45 || s.charCodeAt(i - 1) === 45) return -1;
      labels++;
      if (i === end && digitsOnly) return -1;
      labelStart = i + 1;
      digitsOnly = true;
    } else if (c >= 97 && c <= 122) digitsOnly = false;
    else if (c >= 48 && c <= 57) continue;
    else if (c >= 65 && c <= 90) {
      digitsOnly = false;
      upper = 1;
    } else if (c === 45 || c === 95) digitsOnly = false;
    else return -1;
  }
  return labels >= 2 ? upper : -1;
}

/** Lower case, no trailing dot; undefined unless every label is a DNS label and there are two or more. */
export function normalizeDomain(text: string): string | undefined {
  let s = text;
  let n = s.length;
  if (n === 0) return undefined;
  // Whitespace around, or anything beyond ASCII (whose lower case may be ASCII, e.g. the Kelvin sign):
  // take the general path once, then the same scan.
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(n - 1);
  if (first <= 32 || last <= 32 || first >= 127 || last >= 127 || !isAscii(s)) {
    s = s.trim().toLowerCase();
    n = s.length;
  }
  const end = n > 0 && s.charCodeAt(n - 1) === 46 ? n - 1 : n;
  if (end === 0 || end > 253) return undefined;
  const state = scanDomain(s, end);
  if (state < 0) return undefined;
  if (state === 0 && end === n) return s;
  const d = end === n ? s : s.slice(0, end);
  return state === 1 ? d.toLowerCase() : d;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 127) return false;
  return true;
}

/** Characters a path or query may hold for the fast URL path: they pass WHATWG URL serialization unchanged. */
const URL_PLAIN = (() => {
  const t = new Uint8Array(128);
  for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&()*+,;=:@/%") t[c.charCodeAt(0)] = 1;
  return t;
})();

/**
 * The URL key `host[:port]/path?query` of an http(s) URL split into its authority and the rest
 * (path, query, fragment), without `new URL()`: for the plain forms that WHATWG URL serializes
 * unchanged (host of letters, digits, dots and hyphens or a dotted quad, decimal port, path and
 * query of unreserved and sub-delimiter characters, no dot segments) the key is computed here;
 * anything else returns null and the caller takes the WHATWG parser. `undefined` means invalid
 * (a port above 65535), as WHATWG would refuse it.
 */
function plainUrlKey(authority: string, rest: string, defaultPort: number): string | undefined | null {
  const n = authority.length;
  if (n === 0) return null;
  let colon = -1;
  let upper = false;
  let labelStart = 0;
  let lastLabelDigits = true;
  let lastLabelStart = 0;
  for (let i = 0; i < n; i++) {
    const c = authority.charCodeAt(i);
    if (c === 58) {
      colon = i;
      break;
    }
    if (c === 46) {
      if (i === labelStart) return null; // empty label
      labelStart = i + 1;
      continue;
    }
    if (labelStart === i) {
      lastLabelStart = i;
      lastLabelDigits = true;
    }
    if (c >= 48 && c <= 57) continue;
    lastLabelDigits = false;
    if (c >= 97 && c <= 122) continue;
    if (c >= 65 && c <= 90) upper = true;
    else if (c !== 45) return null;
  }
  const hostEnd = colon >= 0 ? colon : n;
  if (hostEnd === 0) return null;
  const raw = authority.slice(0, hostEnd);
  const host = upper ? raw.toLowerCase() : raw;
  // Hosts WHATWG reads as IPv4 numbers (last label numeric or 0x...) are canonical only as a strict dotted quad.
  const lastEnd = authority.charCodeAt(hostEnd - 1) === 46 ? hostEnd - 1 : hostEnd;
  const c0 = authority.charCodeAt(lastLabelStart);
  const c1 = authority.charCodeAt(lastLabelStart + 1);
  if (lastLabelStart < lastEnd && (lastLabelDigits || (c0 === 48 && (c1 === 120 || c1 === 88)))) {
    if (lastEnd !== hostEnd || !isStrictDottedQuad(host)) return null;
  }
  // Punycode labels are validated by WHATWG (IDNA); leave them to it.
  if (host.includes('xn--')) return null;
  let port = '';
  if (colon >= 0) {
    const p = authority.length - colon - 1;
    if (p > 5) return null;
    let value = 0;
    for (let i = colon + 1; i < n; i++) {
      const c = authority.charCodeAt(i);
      if (c < 48 || c > 57) return null;
      value = value * 10 + (c - 48);
    }
    if (value > 65535) return undefined;
    if (p > 0 && value !== defaultPort) port = `:${value}`;
  }
  // Path and query: cut the fragment; an empty query serializes as none.
  let end = rest.indexOf('#');
  if (end < 0) end = rest.length;
  let query = -1;
  let prev = 47;
  for (let i = 0; i < end; i++) {
    const c = rest.charCodeAt(i);
    if (c === 63 && query < 0) {
      query = i;
      continue;
    }
    if (c >= 128 || URL_PLAIN[c] !== 1) {
      if (query >= 0 && c === 63) continue;
      return null;
    }
    // Dot segments (`.`, `..`, `%2e`) are resolved by WHATWG: only in the path.
    if (query < 0 && prev === 47 && (c === 46 || c === 37)) return null;
    prev = c;
  }
  if (end > 0 && rest.charCodeAt(0) !== 47) return null;
  const pathEnd = query >= 0 ? query : end;
  const path = pathEnd === 0 ? '/' : rest.slice(0, pathEnd);
  const search = query >= 0 && end - query > 1 ? rest.slice(query, end) : '';
  return `${host}${port}${path}${search}`;
}

function isStrictDottedQuad(host: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i === host.length ? 46 : host.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      digits = 0;
      value = 0;
    } else {
      if (c < 48 || c > 57 || (digits === 1 && value === 0)) return false;
      value = value * 10 + (c - 48);
      digits++;
    }
  }
  return parts === 4;
}

/** The WHATWG parser's key (the reference the fast path is tested against); undefined when it refuses. */
export function whatwgUrlKey(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (!parsed.hostname) return undefined;
  const host = parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
  return `${host.toLowerCase()}${parsed.pathname}${parsed.search}`;
}

/** `http://` (7) or `https://` (8) at the start, any case; 0 otherwise. */
function httpSchemeLength(t: string): number {
  if (t.length < 8 || (t.charCodeAt(0) | 32) !== 104 || (t.charCodeAt(1) | 32) !== 116 || (t.charCodeAt(2) | 32) !== 116 || (t.charCodeAt(3) | 32) !== 112) return 0;
  const s = (t.charCodeAt(4) | 32) === 115 ? 5 : 4;
  return t.charCodeAt(s) === 58 && t.charCodeAt(s + 1) === 47 && t.charCodeAt(s + 2) === 47 ? s + 3 : 0;
}

/** The key of an absolute http(s) URL: fast path when plain, WHATWG otherwise. */
function absoluteUrlKey(t: string): string | undefined {
  const start = httpSchemeLength(t);
  if (start > 0) {
    let slash = start;
    while (slash < t.length) {
      const c = t.charCodeAt(slash);
      if (c === 47 || c === 63 || c === 35) break;
      slash++;
    }
    const fast = plainUrlKey(t.slice(start, slash), t.slice(slash), start === 8 ? 443 : 80);
    if (fast !== null) return fast;
  }
  return whatwgUrlKey(t);
}

/**
 * A URL without scheme, fragment and default port, host lower case: `evil.com/a/b?c=1`. Feeds
 * write `http://`, `hxxp://` or nothing; events carry host and URI apart, so the scheme never helps.
 */
export function normalizeUrl(text: string): string | undefined {
  let t = text.trim();
  t = t.replace(/^hxxp/i, 'http').replace(/\[\.\]/g, '.');
  if (!SCHEME.test(t)) t = `http://${t}`;
  return absoluteUrlKey(t);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The URL key of an HTTP request as an event records it (Host header and request target). */
export function requestUrlKey(host: string, uri: string): string | undefined {
  if (uri.charCodeAt(0) !== 47 && SCHEME.test(uri)) return normalizeUrl(uri);
  const rest = uri.charCodeAt(0) === 47 ? uri : `/${uri}`;
  // The whole string is what WHATWG would see; fast only when host and target are plain.
  const fast = plainUrlKey(host, rest, 80);
  if (fast !== null) return fast;
  return normalizeUrl(`http://${host}${rest}`);
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
