/**
 * `matchEvent` without closures, spreads or iterators must report what the straightforward version
 * reported (kept here as the reference): same fields, indicators and order, for every event shape.
 */
import type { MamoriEvent } from '@mamori/events';
import { IndicatorIndex, parseCidr, type Indicator, type IndicatorMatch } from '@mamori/intel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchEvent } from '@mamori/detector';

function referenceMatchEvent(index: IndicatorIndex, event: MamoriEvent): { field: string; match: IndicatorMatch }[] {
  const out: { field: string; match: IndicatorMatch }[] = [];
  const add = (field: string, matches: IndicatorMatch[]) => {
    for (const match of matches) out.push({ field, match });
  };
  const t = event.time;
  if (event.src_ip) add('src_ip', index.matchIp(event.src_ip, t));
  if (event.dst_ip) add('dst_ip', index.matchIp(event.dst_ip, t));
  if (event.dns?.query) add('dns.query', index.matchDomain(event.dns.query, t));
  for (const answer of event.dns?.answers ?? []) if (parseCidr(answer)) add('dns.answers', index.matchIp(answer, t));
  if (event.http?.host) {
    add('http.host', index.matchDomain(event.http.host.replace(/:\d+$/, ''), t));
    if (event.http.uri) add('http.url', index.matchUrl(event.http.host, event.http.uri, t));
  }
  if (event.tls) {
    if (event.tls.sni) add('tls.sni', index.matchDomain(event.tls.sni, t));
    if (event.tls.ja3) add('tls.ja3', index.matchValue('ja3', event.tls.ja3, t));
    if (event.tls.fingerprint_sha1) add('tls.fingerprint_sha1', index.matchValue('sha1', event.tls.fingerprint_sha1, t));
    if (event.tls.serial) add('tls.serial', index.matchCertificate(event.tls.serial, event.tls.issuer, t));
  }
  const hashes = { ...(event.file?.hashes ?? {}), ...(event.process?.hashes ?? {}) };
  for (const [name, value] of Object.entries(hashes)) {
    const kind = name.toLowerCase().replace(/[-_]/g, '');
    if (kind === 'md5' || kind === 'sha1' || kind === 'sha256') add(`file.hashes.${kind}`, index.matchValue(kind, value, t));
  }
  return out;
}

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ind = (kind: Indicator['kind'], value: string, extra: Partial<Indicator> = {}): Indicator => ({ kind, value, source: 'f', id: `${kind}:${value}`, confidence: 70, validFrom: 0, validUntil: Infinity, ...extra });

describe('matchEvent', () => {
  const index = new IndicatorIndex();
  for (const i of [
    ind('ip', '203.0.113.7'), ind('ip', '203.0.113.0/24'), ind('ip', '10.0.0.0/8'), ind('ip', '2001:db8::/32'), ind('ip', '198.51.100.1', { validUntil: 10 }),
    ind('domain', 'evil.example'), ind('domain', 'c2.evil.example'), ind('url', 'evil.example/gate.php'), ind('url', 'evil.example:8080/x?a=1'),
    ind('md5', MD5), ind('sha1', SHA1), ind('sha256', SHA256), ind('ja3', MD5), ind('x509', '4c0b'), ind('x509', 'abcd', { issuer: 'CN=Evil CA' }),
  ]) index.add(i);

  const ip = fc.constantFrom('203.0.113.7', '203.0.113.9', '10.1.2.3', '192.0.2.1', '2001:db8::5', '::ffff:203.0.113.7', '198.51.100.1', '', 'not-an-ip');
  const name = fc.constantFrom('evil.example', 'a.c2.EVIL.example.', 'good.example', 'evil.example:8080', 'evil.example:', '[::1]:80', '');
  const hashes = fc.dictionary(fc.constantFrom('md5', 'MD5', 'sha1', 'SHA-1', 'sha_256', 'sha256', 'ssdeep', 'imphash'), fc.constantFrom(MD5, SHA1, SHA256, MD5.toUpperCase(), 'zz'), { maxKeys: 4 });
  const event = fc.record({
    src: ip, dst: ip, time: fc.integer({ min: 0, max: 20 }),
    dns: fc.option(fc.record({ query: name, answers: fc.array(fc.oneof(ip, name), { maxLength: 3 }) })),
    http: fc.option(fc.record({ host: name, uri: fc.constantFrom('/gate.php', '/x?a=1', 'gate.php', '/x', 'http://evil.example/gate.php', '') })),
    tls: fc.option(fc.record({ sni: name, ja3: fc.constantFrom(MD5, '', 'x'), sha1: fc.constantFrom(SHA1, ''), serial: fc.constantFrom('4C:0B', '00:ab:cd', '', 'ff'), issuer: fc.constantFrom('CN=Evil CA', 'CN = evil ca', 'CN=Other') })),
    file: fc.option(hashes), process: fc.option(hashes),
  });

  it('reports exactly what the straightforward version reports (property)', () => {
    fc.assert(
      fc.property(event, (e) => {
        const ev = {
          event_id: 'e', time: e.time, org_id: 'o', src_ip: e.src, dst_ip: e.dst, raw: { topic: 't', partition: 0, offset: 0 }, attributes: {},
          ...(e.dns ? { dns: { query: e.dns.query, qtype: 'A', rcode: null, answers: e.dns.answers, trans_id: null, rejected: null } } : {}),
          ...(e.http ? { http: { method: 'GET', host: e.http.host, uri: e.http.uri, user_agent: null, referrer: null, status_code: 200, request_body_bytes: null, response_body_bytes: null, content_type: null, version: null } } : {}),
          ...(e.tls ? { tls: { sni: e.tls.sni, ja3: e.tls.ja3, fingerprint_sha1: e.tls.sha1, serial: e.tls.serial, issuer: e.tls.issuer } } : {}),
          ...(e.file ? { file: { hashes: e.file } } : {}),
          ...(e.process ? { process: { hashes: e.process } } : {}),
        } as unknown as MamoriEvent;
        expect(matchEvent(index, ev)).toEqual(referenceMatchEvent(index, ev));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds sightings in every field it reads', () => {
    const ev = {
      event_id: 'e', time: 5, org_id: 'o', src_ip: '10.1.2.3', dst_ip: '203.0.113.7', raw: { topic: 't', partition: 0, offset: 0 }, attributes: {},
      dns: { query: 'a.c2.evil.example', answers: ['203.0.113.9'] },
      http: { host: 'evil.example:8080', uri: '/x?a=1' },
      tls: { sni: 'evil.example', ja3: MD5, fingerprint_sha1: SHA1, serial: '4C:0B', issuer: null },
      file: { hashes: { 'SHA-256': SHA256 } },
    } as unknown as MamoriEvent;
    const fields = matchEvent(index, ev).map((m) => `${m.field}=${m.match.indicator.value}`);
    expect(fields).toEqual([
      'src_ip=10.0.0.0/8', 'dst_ip=203.0.113.7', 'dst_ip=203.0.113.0/24', 'dns.query=c2.evil.example', 'dns.query=evil.example', 'dns.answers=203.0.113.0/24',
      'http.host=evil.example', 'http.url=evil.example:8080/x?a=1', 'tls.sni=evil.example', 'tls.ja3=' + MD5, 'tls.fingerprint_sha1=' + SHA1, 'tls.serial=4c0b', 'file.hashes.sha256=' + SHA256,
    ]);
  });
});
