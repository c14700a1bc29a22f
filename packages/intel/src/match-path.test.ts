/**
 * The per-event path (hand-written domain, URL and address parsing, the open-addressing IPv4
 * table, iterator-free trie walks) must give exactly what the straightforward implementations
 * give: the regex/`new URL()` normalizers kept here as references, and a linear scan over all
 * indicators as the reference index.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndicatorIndex, type IndicatorMatch } from './indicator-index.ts';
import { maskWords, parseCidr, parseIp } from './ip.ts';
import { normalizeDomain, normalizeUrl, requestUrlKey, whatwgUrlKey } from './normalize.ts';
import type { Indicator } from './types.ts';
import { U32Map } from './u32-map.ts';
import { WarningLists } from './warning-lists.ts';

// ---- reference normalizers (the previous implementations) ----
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
function refNormalizeDomain(text: string): string | undefined {
  let d = text.trim().toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0 || d.length > 253) return undefined;
  const labels = d.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  return d;
}
function refNormalizeUrl(text: string): string | undefined {
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
function refRequestUrlKey(host: string, uri: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return refNormalizeUrl(uri);
  return refNormalizeUrl(`http://${host}${uri.startsWith('/') ? uri : `/${uri}`}`);
}

// ---- generators: mostly plausible values, with the characters that change parsing mixed in ----
const pieces = (alphabet: string[], max: number) => fc.array(fc.constantFrom(...alphabet), { maxLength: max }).map((a) => a.join(''));
const hostChars = ['a', 'b', 'z', 'E', 'X', '0', '1', '9', '.', '.', '-', '_', 'xn--', '0x', '255', '256', '08', ':', ':80', ':8080', ':0', ':99999', ' ', '\t', '%', '%41', '[', ']', '@', 'K', 'İ', 'ß', 'é', '\u00a0', '/', '\\', '?', '#', 'com', 'evil', 'www'];
const pathChars = ['/', '/', 'a', 'B', '0', '.', '..', '%2e', '%2E', '%', '%zz', '?', '?', '#', '=', '&', '+', "'", '"', ' ', '\t', '\n', '<', '>', '`', '{', '}', '^', '|', '\\', '[', ']', '~', '!', '$', '(', ')', '*', ',', ';', ':', '@', 'é', '\u0000', 'index.html', 'x=1'];
const host = fc.oneof(pieces(hostChars, 10), fc.domain(), fc.ipV4(), fc.ipV4Extended(), fc.tuple(fc.domain(), fc.integer({ min: 0, max: 70000 })).map(([d, p]) => `${d}:${p}`));
const uri = fc.oneof(pieces(pathChars, 12), fc.webPath(), fc.tuple(fc.webPath(), fc.webQueryParameters(), fc.webFragments()).map(([p, q, f]) => `${p}?${q}#${f}`));

describe('hand-written normalizers agree with the references', () => {
  it('normalizeDomain equals the regex version (property)', () => {
    const name = fc.oneof(pieces(hostChars, 12), fc.domain(), fc.domain().map((d) => d.toUpperCase()), fc.domain().map((d) => ` ${d}. `), fc.string({ maxLength: 20 }));
    fc.assert(fc.property(name, (t) => {
      expect(normalizeDomain(t)).toBe(refNormalizeDomain(t));
    }), { numRuns: 5000 });
    for (const t of ['a'.repeat(63) + '.com', 'a'.repeat(64) + '.com', `${'a.'.repeat(126)}bc`, `${'a.'.repeat(126)}bcd`, 'evil.com.', 'evil.com..', '-a.com', 'a-.com', 'a.123', '1.a', 'Kelvin.\u212A', '\u212Aa.com', 'İ.com']) {
      expect(normalizeDomain(t)).toBe(refNormalizeDomain(t));
    }
  });

  it('requestUrlKey equals the WHATWG-URL version (property)', () => {
    fc.assert(fc.property(host, uri, (h, u) => {
      expect(requestUrlKey(h, u)).toBe(refRequestUrlKey(h, u));
    }), { numRuns: 5000 });
    for (const [h, u] of [['Evil.COM:80', '/a?'], ['evil.com:0080', '/a'], ['evil.com:', '/x#y'], ['1.2.3.4', '/'], ['1.2.3.4.', '/'], ['01.2.3.4', '/'], ['0x7f.1', '/'], ['a.0x', '/'], ['a..b', '/'], ['evil.com', ''], ['evil.com', 'x/y'], ['evil.com', '/a/./b'], ['evil.com', '/a/../b'], ['evil.com', '/a?b?c#d'], ['evil.com', 'http://Other.ORG:443/z?q'], ['evil.com', 'HTTPS://other.org:443/z']]) {
      expect(requestUrlKey(h!, u!)).toBe(refRequestUrlKey(h!, u!));
    }
  });

  it('normalizeUrl (feeds) equals the WHATWG-URL version (property)', () => {
    const url = fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.tuple(fc.constantFrom('', 'http://', 'https://', 'hxxp://', 'HXXPS://', 'ftp://'), host, uri).map(([s, h, u]) => `${s}${h}${u}`), fc.string({ maxLength: 30 }));
    fc.assert(fc.property(url, (t) => {
      expect(normalizeUrl(t)).toBe(refNormalizeUrl(t));
    }), { numRuns: 5000 });
    expect(whatwgUrlKey('http://evil.com:8080/a?b')).toBe('evil.com:8080/a?b');
  });
});

describe('the common request forms never reach new URL()', () => {
  it('computes plain keys by hand', () => {
    const cases: [string, string, string][] = [
      ['Evil.Example.com', '/a/b.php?id=1&x=y', 'evil.example.com/a/b.php?id=1&x=y'],
      ['evil.example.com:8080', '/gate.php', 'evil.example.com:8080/gate.php'],
      ['evil.example.com:80', '/', 'evil.example.com/'],
      ['203.0.113.7', '/x?', '203.0.113.7/x'],
      ['cdn-1.example.net', '/static/app.js#frag', 'cdn-1.example.net/static/app.js'],
    ];
    const real = globalThis.URL;
    try {
      globalThis.URL = class {
        constructor() {
          throw new Error('new URL() on the per-event path');
        }
      } as unknown as typeof URL;
      for (const [h, u, want] of cases) expect(requestUrlKey(h, u)).toBe(want);
      expect(normalizeUrl('hxxp://Evil.example.com/a?b=1')).toBe('evil.example.com/a?b=1');
    } finally {
      globalThis.URL = real;
    }
    for (const [h, u, want] of cases) expect(refRequestUrlKey(h, u)).toBe(want);
  });
});

describe('U32Map', () => {
  it('behaves like a Map over 32-bit keys (property, growth included)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 40 })), fc.nat()), { maxLength: 300 }), (ops) => {
        const mine = new U32Map<number>();
        const ref = new Map<number, number>();
        for (const [k, v] of ops) {
          mine.set(k, v);
          ref.set(k, v);
        }
        expect(mine.size).toBe(ref.size);
        for (const [k] of ops) expect(mine.get(k)).toBe(ref.get(k));
        for (const [k] of ops) expect(mine.get((k + 1) >>> 0)).toBe(ref.get((k + 1) >>> 0));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- reference index: a linear scan over every indicator ----
function contains(net: string, words: Uint32Array): number {
  const c = parseCidr(net);
  if (!c || c.words.length !== words.length) return -1;
  const m = maskWords(words, c.prefix);
  return m.every((w, i) => w === c.words[i]) ? c.prefix : -1;
}
const active = (i: Indicator, t: number) => i.validFrom <= t && t < i.validUntil;

class ScanIndex {
  constructor(
    private readonly all: Indicator[],
    private readonly warnings: WarningLists,
  ) {}
  ip(text: string, t: number): IndicatorMatch[] {
    const words = text ? parseIp(text) : undefined;
    if (!words) return [];
    const full = words.length * 32;
    const hits = this.all.filter((i) => i.kind === 'ip').map((i) => ({ i, p: contains(i.value, words) })).filter((h) => h.p >= 0);
    // Exact addresses first, then networks from most to least specific, feed order within one.
    const ordered = [...hits.filter((h) => h.p === full), ...hits.filter((h) => h.p < full).sort((a, b) => b.p - a.p)];
    const out = ordered.filter((h) => active(h.i, t)).map((h) => ({ indicator: h.i, observed: text }));
    return out.length > 0 && this.warnings.coversIp(words) ? [] : out;
  }
  domain(name: string, t: number): IndicatorMatch[] {
    const d = refNormalizeDomain(name);
    if (!d) return [];
    const out: IndicatorMatch[] = [];
    const labels = d.split('.');
    for (let k = 0; k < labels.length; k++) {
      const suffix = labels.slice(k).join('.');
      for (const i of this.all) if (i.kind === 'domain' && i.value === suffix && active(i, t)) out.push({ indicator: i, observed: d });
    }
    return out.length > 0 && this.warnings.coversDomain(d) ? [] : out;
  }
  url(h: string, u: string, t: number): IndicatorMatch[] {
    const key = refRequestUrlKey(h, u);
    if (!key) return [];
    const q = key.indexOf('?');
    const keys = q > 0 ? [key, key.slice(0, q)] : [key];
    return keys.flatMap((k) => this.all.filter((i) => i.kind === 'url' && i.value === k && active(i, t)).map((i) => ({ indicator: i, observed: key })));
  }
}

describe('IndicatorIndex agrees with a linear scan (property)', () => {
  const ipValue = fc.oneof(
    fc.tuple(fc.constantFrom(10, 192, 203), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })).map(([a, b, c, d]) => `${a}.${b}.${c}.${d}`),
    fc.tuple(fc.constantFrom(10, 192, 203, 0), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 32 })).map(([a, b, p]) => parseCidr(`${a}.${b}.0.0/${p}`)!).map((c) => `${[c.words[0]! >>> 24, (c.words[0]! >>> 16) & 255, (c.words[0]! >>> 8) & 255, c.words[0]! & 255].join('.')}/${c.prefix}`),
    fc.constantFrom('2001:db8::1', '2001:db8::/32', '2001:db8:1::/48', '::/0', '2001:db8::2'),
  );
  const label = fc.constantFrom('evil', 'a', 'b', 'c2', 'com', 'net', 'example');
  const domainValue = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join('.'));
  // Indicators as the index may be handed them (a one-label value never comes from a feed parser, but add() takes it).
  const indicatorDomain = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));
  const urlValue = fc.tuple(domainValue, fc.constantFrom('/', '/a', '/a/b', '/a?x=1', '/index.html')).map(([d, p]) => `${d}${p}`);
  const indicator = fc
    .tuple(fc.oneof(ipValue.map((v) => ({ kind: 'ip' as const, value: v })), indicatorDomain.map((v) => ({ kind: 'domain' as const, value: v })), urlValue.map((v) => ({ kind: 'url' as const, value: v }))), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 5, max: 40 }), fc.nat())
    .map(([kv, from, until, n]): Indicator => ({ ...kv, source: 'f', id: `id${n}`, confidence: 50, validFrom: from, validUntil: n % 4 === 0 ? Infinity : until }));
  const probe = fc.tuple(ipValue.map((v) => v.split('/')[0]!), fc.oneof(domainValue, domainValue.map((d) => `X.${d.toUpperCase()}.`)), fc.constantFrom('/', '/a', '/a/b?x=1', '/a?x=1', 'index.html', '/a/../a'), fc.integer({ min: 0, max: 45 }));

  it('matches the same indicators in the same order, with warning lists suppressing alike', () => {
    fc.assert(
      fc.property(fc.array(indicator, { maxLength: 60 }), fc.array(probe, { maxLength: 30 }), fc.boolean(), (all, probes, withWarnings) => {
        const warnings = new WarningLists();
        if (withWarnings) {
          warnings.add({ name: 'benign-nets', type: 'cidr', list: ['10.1.0.0/16', '2001:db8::2'] });
          warnings.add({ name: 'benign-names', type: 'hostname', list: ['c2.net'] });
        }
        const index = new IndicatorIndex(warnings);
        for (const i of all) index.add(i);
        const ref = new ScanIndex(all, warnings);
        for (const [ip, name, path, t] of probes) {
          expect(index.matchIp(ip, t)).toEqual(ref.ip(ip, t));
          expect(index.matchDomain(name, t)).toEqual(ref.domain(name, t));
          expect(index.matchUrl(name, path, t)).toEqual(ref.url(name, path, t));
        }
      }),
      { numRuns: 400 },
    );
  });
});
