import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipv4ToUint32 } from '@mamori/core';
import type { MamoriEvent } from '@mamori/events';
import { parseInventory } from '@mamori/inventory';
import { afterAll, describe, expect, it } from 'vitest';
import { formatForTopic } from '../normalize.ts';
import { isPublicAddress } from './addresses.ts';
import { communityIdV1 } from './community-id.ts';
import { flowDirection } from './direction.ts';
import { Enricher } from './enricher.ts';
import { GeoLookup } from './geo.ts';
import { buildMmdb } from './mmdb-writer.fixture.ts';
import { RecordNormalizer } from './record-normalizer.ts';
import { resolveSensor } from './sensors.ts';

const inventory = parseInventory(`
organizations: [{ id: acme, name: ACME }, { id: nohome, name: No Home }]
sensors:
  - { id: s-acme, org: acme, site: hq, formats: [zeek.conn] }
  - { id: s-other, org: acme, site: branch, formats: [suricata.eve] }
  - { id: s-nohome, org: nohome, site: x }
home_networks:
  acme: [10.0.0.0/8, "fd00::/8"]
assets:
  - { org: acme, network: 10.0.0.0/16, name: lan, owner: it, criticality: low }
  - { org: acme, network: 10.0.0.5, name: dc01, owner: it-ops, criticality: critical }
`);

function event(src: string, dst: string, extra: Partial<MamoriEvent> = {}): MamoriEvent {
  return {
    event_id: 'e', event_class: 'network_activity', time: 0, ingest_time: 0, org_id: 'acme', sensor_id: 's-acme', source_format: 'zeek.conn',
    src_ip: src, src_port: 1122, dst_ip: dst, dst_port: 3344, protocol: 'tcp', bytes_out: 0, bytes_in: 0, packets_out: 0, packets_in: 0,
    duration_ms: 0, conn_state: null, community_id: null, raw: { topic: 't', partition: 0, offset: 0 }, attributes: {}, ...extra,
  };
}

describe('Community ID v1 (the spec\'s published vectors)', () => {
  const cases: [string, string, number, string, number, number, string][] = [
    ['tcp', '1.2.3.4', 1122, '5.6.7.8', 3344, 0, '1:wCb3OG7yAFWelaUydu0D+125CLM='],
    ['udp', '1.2.3.4', 1122, '5.6.7.8', 3344, 0, '1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg='],
    ['icmp', '1.2.3.4', 8, '5.6.7.8', 0, 0, '1:crodRHL2FEsHjbv3UkRrfbs4bZ0='],
    ['icmpv6', 'fe80:0001:0203:0405:0607:0809:0A0B:0C0D', 128, 'fe80:1011:1213:1415:1617:1819:1A1B:1C1D', 0, 0, '1:0bf7hyMJUwt3fMED7z8LIfRpBeo='],
    ['tcp', '1.2.3.4', 1122, '5.6.7.8', 3344, 1, '1:HhA1B+6CoLbiKPEs5nhNYN4XWfk='],
    ['udp', '1.2.3.4', 1122, '5.6.7.8', 3344, 1, '1:OShq+iKDAMVouh/4bMxB9Sz4amw='],
    ['icmp', '1.2.3.4', 8, '5.6.7.8', 0, 1, '1:9pr4ZGTICiuZoIh90RRYE2RyXpU='],
    ['icmpv6', 'fe80:0001:0203:0405:0607:0809:0A0B:0C0D', 128, 'fe80:1011:1213:1415:1617:1819:1A1B:1C1D', 0, 1, '1:IO27GQzPuCtNnwFvjWALMHu5tJE='],
  ];
  it.each(cases)('%s %s:%d -> %s:%d seed %d', (protocol, srcIp, srcPort, dstIp, dstPort, seed, expected) => {
    expect(communityIdV1({ protocol, srcIp, srcPort, dstIp, dstPort }, seed)).toBe(expected);
  });

  it('hashes both directions alike (tcp reversed, icmp echo reply)', () => {
    expect(communityIdV1({ protocol: 'tcp', srcIp: '5.6.7.8', srcPort: 3344, dstIp: '1.2.3.4', dstPort: 1122 })).toBe('1:wCb3OG7yAFWelaUydu0D+125CLM=');
    expect(communityIdV1({ protocol: 'icmp', srcIp: '5.6.7.8', srcPort: 0, dstIp: '1.2.3.4', dstPort: 0 })).toBe('1:crodRHL2FEsHjbv3UkRrfbs4bZ0=');
    expect(communityIdV1({ protocol: 'icmpv6', srcIp: 'fe80:1011:1213:1415:1617:1819:1A1B:1C1D', srcPort: 129, dstIp: 'fe80:1:203:405:607:809:a0b:c0d', dstPort: 0 })).toBe('1:0bf7hyMJUwt3fMED7z8LIfRpBeo=');
  });

  it('hashes Zeek\'s `icmp` between IPv6 addresses as ICMPv6 (the spec vector), and IPv4-mapped addresses as IPv4', () => {
    expect(communityIdV1({ protocol: 'icmp', srcIp: 'fe80:0001:0203:0405:0607:0809:0A0B:0C0D', srcPort: 128, dstIp: 'fe80:1011:1213:1415:1617:1819:1A1B:1C1D', dstPort: 0 })).toBe('1:0bf7hyMJUwt3fMED7z8LIfRpBeo=');
    expect(communityIdV1({ protocol: 'icmp', srcIp: '::ffff:1.2.3.4', srcPort: 8, dstIp: '::ffff:5.6.7.8', dstPort: 0 })).toBe('1:crodRHL2FEsHjbv3UkRrfbs4bZ0=');
  });

  it('gives null for protocols without ports, mixed families and bad ports', () => {
    expect(communityIdV1({ protocol: 'gre', srcIp: '1.2.3.4', srcPort: 0, dstIp: '5.6.7.8', dstPort: 0 })).toBeNull();
    expect(communityIdV1({ protocol: 'tcp', srcIp: '1.2.3.4', srcPort: 1, dstIp: '::1', dstPort: 2 })).toBeNull();
    expect(communityIdV1({ protocol: 'tcp', srcIp: '1.2.3.4', srcPort: 70000, dstIp: '5.6.7.8', dstPort: 2 })).toBeNull();
    expect(communityIdV1({ protocol: 'sctp', srcIp: '1.2.3.4', srcPort: 1122, dstIp: '5.6.7.8', dstPort: 3344 })).toMatch(/^1:[A-Za-z0-9+/]{27}=$/);
  });

  it('gives null for protocol names that are Object.prototype members (they once hashed as protocol 0)', () => {
    for (const protocol of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(communityIdV1({ protocol, srcIp: '1.2.3.4', srcPort: 1, dstIp: '5.6.7.8', dstPort: 2 }), protocol).toBeNull();
    }
  });
});

describe('direction', () => {
  it.each([
    [true, true, 'internal'],
    [true, false, 'outbound'],
    [false, true, 'inbound'],
    [false, false, 'external'],
  ] as const)('src home %s, dst home %s = %s', (src, dst, expected) => {
    expect(flowDirection(src, dst)).toBe(expected);
  });

  it('is computed from the organization\'s home networks, and unknown without them', () => {
    const enricher = new Enricher({ inventory: () => inventory });
    const dir = (src: string, dst: string, org = 'acme') => {
      const e = event(src, dst, { org_id: org });
      enricher.enrich(e, 'hq');
      return e.direction;
    };
    expect(dir('10.1.1.1', '10.2.2.2')).toBe('internal');
    expect(dir('10.1.1.1', '8.8.8.8')).toBe('outbound');
    expect(dir('203.0.113.9', '10.0.0.5')).toBe('inbound');
    expect(dir('8.8.8.8', '1.1.1.1')).toBe('external');
    expect(dir('fd00::1', '2001:db8::1')).toBe('outbound');
    expect(dir('10.1.1.1', '10.2.2.2', 'nohome')).toBe('');
  });
});

describe('Enricher', () => {
  it('adds site, assets (most specific) and a community id when missing', () => {
    const e = event('10.0.0.5', '10.0.9.9');
    new Enricher({ inventory: () => inventory }).enrich(e, 'hq');
    expect(e.site_id).toBe('hq');
    expect(e.src_asset).toEqual({ name: 'dc01', owner: 'it-ops', criticality: 'critical', network: '10.0.0.5/32' });
    expect(e.dst_asset).toEqual({ name: 'lan', owner: 'it', criticality: 'low', network: '10.0.0.0/16' });
    expect(e.community_id).toMatch(/^1:/);
  });

  it('keeps a community id the sensor wrote, and leaves assets and direction alone without an inventory', () => {
    const e = event('10.0.0.5', '8.8.8.8', { community_id: '1:from-sensor' });
    new Enricher({ inventory: () => undefined }).enrich(e, '');
    expect(e.community_id).toBe('1:from-sensor');
    expect(e.src_asset).toBeUndefined();
    expect(e.direction).toBeUndefined();
  });

  it('parses each address once and finds what the lookups by text find', () => {
    // Every pairing of v4, v6, v4-mapped, invalid and empty addresses, several protocols and seeds:
    // the enriched fields equal those of the public lookups given the address text.
    const addresses = ['10.0.0.5', '10.0.9.9', '8.8.8.8', '::ffff:10.0.0.5', 'fd00::1', '2001:db8::1', '010.0.0.1', 'x', '', '10.0.0.5 '];
    const protocols = ['tcp', 'UDP', 'icmp', 'icmp6', 'gre', 'constructor'];
    let hashed = 0;
    for (const seed of [0, 7]) {
      const enricher = new Enricher({ inventory: () => inventory, communityIdSeed: seed });
      for (const src of addresses) {
        for (const dst of addresses) {
          for (const protocol of protocols) {
            const e = event(src, dst, { protocol, src_port: 8, dst_port: 0 });
            enricher.enrich(e, 'hq');
            const home = (ip: string) => inventory.isHome('acme', ip);
            const asset = (ip: string) => inventory.asset('acme', ip);
            const id = communityIdV1({ protocol, srcIp: src, srcPort: 8, dstIp: dst, dstPort: 0 }, seed);
            expect(e.direction, `${src} ${dst}`).toBe(flowDirection(home(src), home(dst)));
            expect(e.src_asset?.network ?? null, src).toBe(asset(src)?.network ?? null);
            expect(e.dst_asset?.network ?? null, dst).toBe(asset(dst)?.network ?? null);
            expect(e.community_id, `${protocol} ${src} ${dst} ${seed}`).toBe(id);
            if (id !== null) hashed++;
          }
        }
      }
    }
    expect(hashed).toBeGreaterThan(100);
  });

  it('uses the IPv4 values a decoder hands over (KnownAddresses) as it would the parsed text, and parses the text where one is -1', () => {
    const v4 = (ip: string) => ipv4ToUint32(ip);
    const pairs: [string, string][] = [['10.0.0.5', '10.0.9.9'], ['10.0.0.5', '8.8.8.8'], ['8.8.8.8', '10.0.0.5'], ['10.0.0.5', 'fd00::1'], ['::ffff:10.0.0.5', '10.0.9.9']];
    for (const [src, dst] of pairs) {
      const byText = event(src, dst);
      const known = event(src, dst);
      const enricher = new Enricher({ inventory: () => inventory, communityIdSeed: 3 });
      enricher.enrich(byText, 'hq');
      enricher.enrich(known, 'hq', { src: v4(src), dst: v4(dst) });
      expect(known, `${src} ${dst}`).toEqual(byText);
    }
    // The values are what counts when given: a different address there gives that address's context.
    const e = event('10.0.9.9', '8.8.8.8');
    new Enricher({ inventory: () => inventory }).enrich(e, 'hq', { src: v4('10.0.0.5'), dst: -1 });
    expect(e.src_asset?.name).toBe('dc01');
    expect(e.community_id).toBe(communityIdV1({ protocol: 'tcp', srcIp: '10.0.0.5', srcPort: 1122, dstIp: '8.8.8.8', dstPort: 3344 }));
  });
});

describe('GeoIP from MaxMind-format databases', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-geo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const city = join(dir, 'city.mmdb');
  const asn = join(dir, 'asn.mmdb');
  writeFileSync(city, buildMmdb([
    { network: '81.2.69.0/24', data: { country: { iso_code: 'GB', names: { en: 'United Kingdom' } }, city: { names: { en: 'London' } } } },
    { network: '2a02:cf40::/29', data: { country: { iso_code: 'NO' } } },
    { network: '10.0.0.0/8', data: { country: { iso_code: 'XX' } } },
  ], 'GeoLite2-City'));
  writeFileSync(asn, buildMmdb([{ network: '81.2.69.0/24', data: { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } }], 'GeoLite2-ASN'));

  it('looks up country, city and ASN of public IPv4 and IPv6 addresses', () => {
    const geo = GeoLookup.open({ cityDb: city, asnDb: asn })!;
    expect(geo.lookup('81.2.69.160')).toEqual({ country_code: 'GB', city: 'London', asn: 20712, as_org: 'Andrews & Arnold Ltd' });
    expect(geo.lookup('2a02:cf40::1')).toEqual({ country_code: 'NO', city: null, asn: null, as_org: null });
    expect(geo.lookup('82.0.0.1')).toBeNull();
  });

  it('never looks up private or special addresses', () => {
    const geo = GeoLookup.open({ cityDb: city })!;
    expect(geo.lookup('10.1.2.3')).toBeNull(); // in the database, but private
    for (const ip of ['10.0.0.1', '192.168.1.1', '172.16.0.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', 'fe80::1', 'fd00::1', '::1', '224.0.0.1', '2001:db8::1']) {
      expect(isPublicAddress(ip)).toBe(false);
    }
    expect(isPublicAddress('81.2.69.160')).toBe(true);
    expect(isPublicAddress('2a02:cf40::1')).toBe(true);
  });

  it('is cleanly absent when unconfigured and refuses a file that is not a database', () => {
    expect(GeoLookup.open({})).toBeUndefined();
    const bad = join(dir, 'bad.mmdb');
    writeFileSync(bad, 'not a database');
    expect(() => GeoLookup.open({ cityDb: bad })).toThrow(/MAMORI_GEOIP_CITY_DB=.*bad\.mmdb is not a readable MaxMind database/);
  });

  it('fills src_geo and dst_geo through the enricher', () => {
    const e = event('10.0.0.5', '81.2.69.160');
    new Enricher({ inventory: () => inventory, geo: GeoLookup.open({ cityDb: city, asnDb: asn }) }).enrich(e, 'hq');
    expect(e.src_geo).toBeNull();
    expect(e.dst_geo?.country_code).toBe('GB');
  });
});

describe('sensor registry check', () => {
  const policy = (allowUnregistered: boolean, inv = inventory) => ({ inventory: () => inv, allowUnregistered, defaultOrg: 'default' });

  it('takes organization and site from the registered sensor', () => {
    expect(resolveSensor(policy(false), 's-acme', 'zeek.conn')).toEqual({ ok: true, orgId: 'acme', siteId: 'hq', registered: true });
  });

  it('refuses unregistered sensors unless allowed, and formats the sensor may not send', () => {
    expect(resolveSensor(policy(false), 'ghost', 'zeek.conn')).toMatchObject({ ok: false, code: 'SENSOR_UNREGISTERED' });
    expect(resolveSensor(policy(true), 'ghost', 'zeek.conn')).toEqual({ ok: true, orgId: 'default', siteId: '', registered: false });
    expect(resolveSensor(policy(false), 's-other', 'zeek.conn')).toMatchObject({ ok: false, code: 'SENSOR_FORMAT_NOT_ALLOWED' });
  });

  it('normalizes and enriches a record end to end, and rejects a whole record of an unknown sensor', () => {
    const format = formatForTopic('telemetry.raw.zeek.conn')!;
    const records = new RecordNormalizer(policy(false), new Enricher({ inventory: () => inventory }));
    const line = Buffer.from('{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":1122,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp"}');
    const source = { topic: 'telemetry.raw.zeek.conn', partition: 0, offset: 1, ingestTime: 0 };
    const ok = records.normalize(format, line, { ...source, sensorId: 's-acme' });
    expect(ok.events).toHaveLength(1);
    expect(ok.events[0]).toMatchObject({ org_id: 'acme', site_id: 'hq', direction: 'outbound', src_asset: { name: 'dc01' } });
    expect(ok.events[0]!.community_id).toMatch(/^1:/);
    const rejected = records.normalize(format, line, { ...source, sensorId: 'ghost' });
    expect(rejected.events).toEqual([]);
    expect(rejected.rejected?.code).toBe('SENSOR_UNREGISTERED');
  });
});
