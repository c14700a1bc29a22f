import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { BeaconingAnalytic, beaconScore } from './beaconing.ts';
import { BruteForceAnalytic, DEFAULT_BRUTE_FORCE_CONFIG } from './brute-force.ts';
import { DnsTunnelingAnalytic, DomainSplitter, shannonEntropy } from './dns-tunneling.ts';
import { FirstSeenAnalytic } from './first-seen.ts';
import { LongConnectionAnalytic } from './long-connection.ts';
import { OutboundVolumeAnalytic } from './outbound-volume.ts';
import type { Analytic } from './types.ts';

const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const H = 3_600_000;
let offset = 0;

/** A deterministic pseudo-random sequence (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function ev(over: Partial<MamoriEvent>): MamoriEvent {
  offset += 1;
  return {
    event_id: `e${offset}`, event_class: 'network_activity', time: T0, ingest_time: T0, org_id: 'org-a', sensor_id: 's1', source_format: 'test',
    src_ip: '10.0.0.5', src_port: 40000, dst_ip: '198.51.100.10', dst_port: 443, protocol: 'tcp', bytes_out: 500, bytes_in: 2000,
    packets_out: 5, packets_in: 5, duration_ms: 1000, conn_state: 'SF', community_id: null, raw: { topic: 't', partition: 0, offset }, attributes: {},
    ...over,
  };
}

function run(a: Analytic, events: MamoriEvent[]): MamoriDetection[] {
  const out = events.flatMap((e) => a.observe(e));
  return [...out, ...a.advance(Number.POSITIVE_INFINITY, T0)];
}

const last = (ds: MamoriDetection[]) => ds.at(-1)!;

describe('BruteForceAnalytic', () => {
  const auth = (src: string, user: string, result: string, time: number, dst = '10.0.9.9') =>
    ev({ event_class: 'authentication', src_ip: src, dst_ip: dst, dst_port: 22, time, auth: { user, domain: null, result, protocol: 'ssh', logon_type: null, service: 'sshd', failure_reason: null, workstation: null, logon_id: null } });

  it('finds brute force on one account and escalates on a success after the failures', () => {
    const events = Array.from({ length: 15 }, (_, i) => auth('203.0.113.5', 'root', 'failure', T0 + i * 2000));
    events.push(auth('203.0.113.5', 'root', 'success', T0 + 40_000));
    const out = run(new BruteForceAnalytic(), events);
    expect(new Set(out.map((d) => d.detection_id)).size).toBe(1);
    expect(out[0]!.attributes['kind']).toBe('brute_force_user');
    expect(out[0]!.count).toBe(10);
    const final = last(out);
    expect(final.count).toBe(15);
    expect(final.severity).toBe('critical');
    expect(final.attributes['success_after_failures']).toBe('true');
    expect(final.summary).toContain('15 failures on one account (threshold 10)');
  });

  it('tells password spraying (few failures on many accounts) from brute force', () => {
    const events = Array.from({ length: 24 }, (_, i) => auth('203.0.113.6', `user${i % 12}`, 'failed', T0 + i * 1000, `10.0.9.${i % 3}`));
    const final = last(run(new BruteForceAnalytic(), events));
    expect(final.attributes['kind']).toBe('password_spray');
    expect(final.techniques).toEqual(['T1110.003']);
    expect(final.attributes['peak_users']).toBe('12');
  });

  it('stays quiet for a user mistyping a password a few times and for failures spread thinner than the window', () => {
    const typos = [auth('10.0.0.7', 'alice', 'failure', T0), auth('10.0.0.7', 'alice', 'failure', T0 + 5000), auth('10.0.0.7', 'alice', 'success', T0 + 9000)];
    const slow = Array.from({ length: 30 }, (_, i) => auth('203.0.113.7', 'admin', 'failure', T0 + i * 120_000));
    expect(run(new BruteForceAnalytic(), [...typos, ...slow])).toEqual([]);
  });

  it('counts Zeek ssh auth_success=false with its attempts, and short login-port connections without auth records', () => {
    const ssh = Array.from({ length: 4 }, (_, i) => ev({ src_ip: '203.0.113.8', dst_ip: '10.0.9.9', dst_port: 22, time: T0 + i * 1000, ssh: { client: null, server: null, auth_success: false, auth_attempts: 6, hassh: null, hassh_server: null, direction: null } }));
    expect(last(run(new BruteForceAnalytic(), ssh)).attributes['failures']).toBe('24');
    const conns = Array.from({ length: 40 }, (_, i) => ev({ src_ip: '203.0.113.9', dst_ip: '10.0.9.9', dst_port: 3389, bytes_out: 1500, duration_ms: 2000, time: T0 + i * 3000 }));
    expect(last(run(new BruteForceAnalytic(), conns)).attributes['kind']).toBe('conn_brute_force');
    const sessions = Array.from({ length: 40 }, (_, i) => ev({ src_ip: '10.0.0.9', dst_ip: '10.0.9.9', dst_port: 22, bytes_out: 80_000, duration_ms: 600_000, time: T0 + i * 3000 }));
    expect(run(new BruteForceAnalytic(), sessions)).toEqual([]);
  });

  it('bounds its sources', () => {
    const a = new BruteForceAnalytic({ ...DEFAULT_BRUTE_FORCE_CONFIG, maxSources: 50 });
    for (let i = 0; i < 500; i++) a.observe(auth(`198.18.${i >> 8}.${i & 255}`, 'x', 'failure', T0 + i));
    expect(a.size()).toBeLessThanOrEqual(50);
  });
});

describe('BeaconingAnalytic', () => {
  it('scores a perfect beacon near 1 and random traffic low (RITA components)', () => {
    const times = Array.from({ length: 288 }, (_, i) => T0 + i * 300_000);
    const perfect = beaconScore(times, times.map(() => 512), 24 * H, 12)!;
    expect(perfect.tsScore).toBe(1);
    expect(perfect.dsScore).toBe(1);
    expect(perfect.score).toBeGreaterThan(0.95);
    const r = rng(7);
    const random: number[] = [];
    let t = T0;
    for (let i = 0; i < 60; i++) random.push((t += Math.floor(-Math.log(1 - r()) * 1_200_000)));
    const noisy = beaconScore(random, random.map(() => Math.floor(r() * 50_000)), 24 * H, 12)!;
    expect(noisy.score).toBeLessThan(0.7);
  });

  it('reports a jittered 60 s beacon over NetFlow-like records with its component scores, once per pair', () => {
    const r = rng(1);
    const events = Array.from({ length: 600 }, (_, i) => ev({ src_ip: '10.0.0.66', dst_ip: '203.0.113.200', time: T0 + i * 60_000 + Math.floor(r() * 4000), bytes_out: 300 + Math.floor(r() * 20), source_format: 'netflow' }));
    const out = run(new BeaconingAnalytic(), events);
    expect(out.length).toBeGreaterThan(0);
    expect(new Set(out.map((d) => d.detection_id)).size).toBe(1);
    const d = last(out);
    expect(Number(d.attributes['score'])).toBeGreaterThanOrEqual(0.8);
    expect(Number(d.attributes['ts_median_s'])).toBeGreaterThan(55);
    expect(d.summary).toMatch(/beacon score 0\.\d+ \(threshold 0.8\)/);
  });

  it('does not report irregular browsing to one site', () => {
    const r = rng(3);
    let t = T0;
    const events = Array.from({ length: 300 }, () => ev({ src_ip: '10.0.0.67', dst_ip: '203.0.113.201', time: (t += Math.floor(-Math.log(1 - r()) * 240_000)), bytes_out: 200 + Math.floor(r() * 30_000) }));
    expect(run(new BeaconingAnalytic(), events)).toEqual([]);
  });
});

describe('DnsTunnelingAnalytic', () => {
  it('splits registered domains with multi-label suffixes', () => {
    const s = new DomainSplitter();
    expect(s.split('a.b.example.co.uk')).toEqual({ sub: 'a.b', parent: 'example.co.uk' });
    expect(s.split('x.evil.com.')).toEqual({ sub: 'x', parent: 'evil.com' });
    expect(s.split('host.foo.duckdns.org')).toEqual({ sub: 'host', parent: 'foo.duckdns.org' });
    expect(s.split('com')).toBeUndefined();
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
  });

  it('finds many long, random subdomains of one parent; ignores ordinary lookups', () => {
    const r = rng(11);
    const hex = () => Array.from({ length: 40 }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
    const dns = (src: string, query: string, time: number, qtype = 'A') => ev({ event_class: 'dns_activity', src_ip: src, dst_ip: '10.0.0.53', dst_port: 53, protocol: 'udp', time, dns: { query, qtype, rcode: 'NOERROR', answers: [], trans_id: null, rejected: null } });
    const tunnel = Array.from({ length: 150 }, (_, i) => dns('10.0.0.70', `${hex()}.${hex().slice(0, 20)}.t.exfil-example.net`, T0 + i * 1000));
    const normal = Array.from({ length: 300 }, (_, i) => dns('10.0.0.71', ['www', 'mail', 'api', 'cdn', 'static'][i % 5] + '.example.com', T0 + i * 1000));
    const out = run(new DnsTunnelingAnalytic(), [...tunnel, ...normal]);
    expect(new Set(out.map((d) => d.src_ip))).toEqual(new Set(['10.0.0.70']));
    const d = last(out);
    expect(d.attributes['parent_domain']).toBe('exfil-example.net');
    expect(d.attributes['reasons']).toBe('high_entropy,long_subdomains');
    expect(Number(d.attributes['unique_subdomains'])).toBe(150);
  });

  it('finds TXT volume to one parent', () => {
    const events = Array.from({ length: 60 }, (_, i) => ev({ src_ip: '10.0.0.72', time: T0 + i * 10_000, dns: { query: `c${i % 5}.txt-example.org`, qtype: 'TXT', rcode: null, answers: [], trans_id: null, rejected: null } }));
    expect(last(run(new DnsTunnelingAnalytic(), events)).attributes['reasons']).toBe('txt_null_volume');
  });
});

describe('LongConnectionAnalytic', () => {
  it('reports connections over the threshold once per pair, high from 8 h', () => {
    const a = new LongConnectionAnalytic();
    const out = run(a, [
      ev({ duration_ms: 2 * H, time: T0 }),
      ev({ duration_ms: 9 * H, time: T0 + 9 * H }),
      ev({ duration_ms: 10 * 60_000, dst_ip: '198.51.100.11' }),
    ]);
    expect(new Set(out.map((d) => d.detection_id)).size).toBe(1);
    expect(last(out).severity).toBe('high');
    expect(last(out).attributes['max_duration_ms']).toBe(String(9 * H));
  });
});

describe('OutboundVolumeAnalytic', () => {
  it('flags a bucket far above the source baseline; ordinary variation and inbound traffic are quiet', () => {
    const r = rng(5);
    const events: MamoriEvent[] = [];
    for (let h = 0; h < 48; h++) {
      for (let k = 0; k < 10; k++) events.push(ev({ direction: 'outbound', src_ip: '10.0.0.80', time: T0 + h * H + k * 60_000, bytes_out: 2_000_000 + Math.floor(r() * 1_000_000) }));
      events.push(ev({ direction: 'inbound', src_ip: '203.0.113.1', time: T0 + h * H, bytes_out: 900_000_000 }));
    }
    events.push(ev({ direction: 'outbound', src_ip: '10.0.0.80', dst_ip: '203.0.113.250', time: T0 + 48 * H + 5000, bytes_out: 800_000_000 }));
    events.push(ev({ direction: 'outbound', src_ip: '10.0.0.80', time: T0 + 49 * H + 5000, bytes_out: 1000 }));
    const out = run(new OutboundVolumeAnalytic(), events);
    expect(out).toHaveLength(1);
    expect(out[0]!.attributes['top_destinations']).toBe('203.0.113.250');
    expect(Number(out[0]!.attributes['ratio'])).toBeGreaterThan(5);
    expect(out[0]!.first_seen).toBe(T0 + 48 * H);
  });
});

describe('FirstSeenAnalytic', () => {
  it('learns a critical asset\'s destinations, then reports a new one once', () => {
    const asset = { name: 'dc01', owner: 'it', criticality: 'critical', network: 'servers' };
    const events = [
      ev({ src_asset: asset, src_ip: '10.0.1.1', dst_ip: '10.0.2.2', time: T0 }),
      ev({ src_asset: asset, src_ip: '10.0.1.1', dst_ip: '10.0.2.3', time: T0 + 3 * 86_400_000 }),
      ev({ src_asset: asset, src_ip: '10.0.1.1', dst_ip: '10.0.2.2', time: T0 + 8 * 86_400_000 }),
      ev({ src_asset: asset, src_ip: '10.0.1.1', dst_ip: '203.0.113.99', time: T0 + 8 * 86_400_000 }),
      ev({ src_asset: asset, src_ip: '10.0.1.1', dst_ip: '203.0.113.99', time: T0 + 9 * 86_400_000 }),
      ev({ src_asset: { ...asset, name: 'laptop', criticality: 'low' }, dst_ip: '203.0.113.98', time: T0 + 9 * 86_400_000 }),
    ];
    const out = run(new FirstSeenAnalytic(), events);
    expect(out).toHaveLength(1);
    expect(out[0]!.entity).toEqual({ type: 'asset', value: 'dc01' });
    expect(out[0]!.attributes['known_destinations']).toBe('2');
  });
});
