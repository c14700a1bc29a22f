import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { IndicatorIndex, type Indicator } from '@mamori/intel';
import { afterAll, describe, expect, it } from 'vitest';
import { BeaconingAnalytic } from './beaconing.ts';
import { BruteForceAnalytic } from './brute-force.ts';
import { DnsTunnelingAnalytic } from './dns-tunneling.ts';
import { FirstSeenAnalytic } from './first-seen.ts';
import { DEFAULT_INTEL_MATCH_CONFIG, IntelMatchAnalytic } from './intel.ts';
import { LongConnectionAnalytic } from './long-connection.ts';
import { OutboundVolumeAnalytic } from './outbound-volume.ts';
import { PortScanAnalytic } from './port-scan.ts';
import { DEFAULT_SIGMA_ANALYTIC_CONFIG, SigmaAnalytic, SigmaRulePacks } from './sigma.ts';
import type { StatefulAnalytic } from './types.ts';

/**
 * Every stateful analytic exports its changed entities, and a fresh instance that imports them (as
 * the changelog restore does: the latest value per entity, through JSON) continues exactly like the
 * instance that never stopped: the same detections with the same ids, counts, evidence and
 * versions, including the episodes that straddle the cut.
 */
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const H = 3_600_000;
const LATENESS = 5_000;
let offset = 0;

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

const byTime = (events: MamoriEvent[]): MamoriEvent[] => events.sort((a, b) => a.time - b.time);

function portScans(): MamoriEvent[] {
  const r = rng(1);
  const events: MamoriEvent[] = [];
  // Horizontal scan (two bursts with a pause shorter than the episode gap), vertical scan, a scan that ends and restarts later, noise.
  for (let i = 0; i < 80; i++) events.push(ev({ src_ip: '203.0.113.10', dst_ip: `10.0.${i % 4}.${i}`, dst_port: 22, conn_state: 'S0', bytes_out: 0, bytes_in: 0, time: T0 + i * 1500 + (i >= 40 ? 60_000 : 0) }));
  for (let i = 0; i < 50; i++) events.push(ev({ src_ip: '203.0.113.11', dst_ip: '10.0.9.9', dst_port: 1000 + i, conn_state: 'REJ', time: T0 + 30_000 + i * 700 }));
  for (let i = 0; i < 30; i++) events.push(ev({ src_ip: '203.0.113.12', dst_ip: `10.0.5.${i}`, dst_port: 445, conn_state: 'S0', time: T0 + i * 1000 + (i >= 25 ? 400_000 : 0) }));
  // Slow scans that reach the threshold only after many probes (whatever the cut, probes on both sides).
  for (let s = 0; s < 4; s++) for (let i = 0; i < 26; i++) events.push(ev({ src_ip: `203.0.113.${20 + s}`, dst_ip: `10.0.6.${i}`, dst_port: 3389, conn_state: 'S0', time: T0 + s * 110_000 + i * 2_200 }));
  for (let i = 0; i < 200; i++) events.push(ev({ src_ip: `10.0.0.${i % 20}`, dst_ip: '198.51.100.1', time: T0 + Math.floor(r() * 500_000) }));
  return byTime(events);
}

function bruteForce(): MamoriEvent[] {
  const auth = (src: string, user: string, result: string, time: number, dst = '10.0.9.9') =>
    ev({ event_class: 'authentication', src_ip: src, dst_ip: dst, dst_port: 22, time, auth: { user, domain: null, result, protocol: 'ssh', logon_type: null, service: 'sshd', failure_reason: null, workstation: null, logon_id: null } });
  const events: MamoriEvent[] = [];
  for (let i = 0; i < 40; i++) events.push(auth('203.0.113.5', 'root', 'failure', T0 + i * 2000));
  events.push(auth('203.0.113.5', 'root', 'success', T0 + 85_000));
  for (let i = 0; i < 40; i++) events.push(auth('203.0.113.5', 'admin', 'failure', T0 + 90_000 + i * 70_000));
  // Slow guessing: the account threshold is crossed only after many failures.
  for (let s = 0; s < 4; s++) for (let i = 0; i < 12; i++) events.push(auth(`203.0.113.${30 + s}`, 'svc', 'failure', T0 + s * 600_000 + i * 45_000));
  for (let i = 0; i < 36; i++) events.push(auth('203.0.113.6', `user${i % 12}`, 'failed', T0 + i * 1500, `10.0.9.${i % 3}`));
  for (let i = 0; i < 45; i++) events.push(ev({ src_ip: '203.0.113.9', dst_ip: '10.0.9.9', dst_port: 3389, bytes_out: 1500, duration_ms: 2000, time: T0 + i * 3000 }));
  return byTime(events);
}

function beacons(): MamoriEvent[] {
  const r = rng(3);
  const events: MamoriEvent[] = [];
  for (let i = 0; i < 300; i++) events.push(ev({ src_ip: '10.0.0.40', dst_ip: '198.51.100.77', time: T0 + i * 60_000 + Math.floor(r() * 2000), bytes_out: 512 + Math.floor(r() * 8) }));
  for (let i = 0; i < 200; i++) events.push(ev({ src_ip: '10.0.0.41', dst_ip: '198.51.100.78', time: T0 + Math.floor(r() * 5 * H), bytes_out: Math.floor(r() * 50_000) }));
  return byTime(events);
}

function dnsTunnel(): MamoriEvent[] {
  const r = rng(4);
  const hex = () => Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
  const dns = (src: string, query: string, time: number, qtype = 'A') =>
    ev({ event_class: 'dns_activity', src_ip: src, dst_ip: '10.0.0.53', dst_port: 53, protocol: 'udp', time, dns: { query, qtype, rcode: 'NOERROR', answers: [], trans_id: null, rejected: null } });
  const events: MamoriEvent[] = [];
  for (let i = 0; i < 400; i++) events.push(dns('10.0.0.70', `${hex()}.${hex().slice(0, 20)}.t.exfil-example.net`, T0 + i * 1000));
  for (let i = 0; i < 80; i++) events.push(dns('10.0.0.72', `c${i % 5}.txt-example.org`, T0 + i * 10_000, 'TXT'));
  for (let i = 0; i < 200; i++) events.push(dns('10.0.0.71', ['www', 'mail', 'api'][i % 3] + '.example.com', T0 + i * 1000));
  return byTime(events);
}

function longConnections(): MamoriEvent[] {
  const events: MamoriEvent[] = [];
  for (let i = 0; i < 6; i++) events.push(ev({ src_ip: '10.0.0.50', dst_ip: '198.51.100.90', duration_ms: (2 + i) * H, time: T0 + i * 4 * H }));
  for (let i = 0; i < 4; i++) events.push(ev({ src_ip: '10.0.0.51', dst_ip: '198.51.100.91', duration_ms: 9 * H, time: T0 + i * 10 * H }));
  return byTime(events);
}

function outboundVolume(): MamoriEvent[] {
  const r = rng(5);
  const events: MamoriEvent[] = [];
  for (let h = 0; h < 60; h++) {
    for (let k = 0; k < 6; k++) events.push(ev({ direction: 'outbound', src_ip: '10.0.0.80', time: T0 + h * H + k * 60_000, bytes_out: 2_000_000 + Math.floor(r() * 1_000_000) }));
    if (h === 30 || h === 50) events.push(ev({ direction: 'outbound', src_ip: '10.0.0.80', dst_ip: '203.0.113.250', time: T0 + h * H + 30 * 60_000, bytes_out: 900_000_000 }));
  }
  return byTime(events);
}

function firstSeen(): MamoriEvent[] {
  const asset = { name: 'dc01', owner: 'it', criticality: 'critical', network: 'servers' };
  const events: MamoriEvent[] = [];
  for (let d = 0; d < 14; d++) for (let k = 0; k < 5; k++) events.push(ev({ src_asset: asset, src_ip: '10.0.1.1', dst_ip: `10.0.2.${(d < 7 ? k : k + d) % 30}`, time: T0 + d * 86_400_000 + k * 1000 }));
  return byTime(events);
}

const indicator = (kind: Indicator['kind'], value: string): Indicator => ({ kind, value, source: 'feed', id: `${kind}:${value}`, confidence: 90, validFrom: 0, validUntil: Infinity });
const INTEL_INDEX = new IndicatorIndex();
for (const i of [indicator('ip', '198.51.100.66'), indicator('ip', '203.0.113.0/24'), indicator('domain', 'evil-example.net')]) INTEL_INDEX.add(i);

function intelHits(): MamoriEvent[] {
  const r = rng(6);
  const events: MamoriEvent[] = [];
  // Repeated sightings of the same (indicator, entity) pairs, some beyond the 10-minute dedup window (a new detection), noise in between.
  for (let i = 0; i < 60; i++) events.push(ev({ src_ip: `10.0.0.${60 + (i % 3)}`, dst_ip: '198.51.100.66', time: T0 + i * 45_000 + Math.floor(r() * 5_000) }));
  for (let i = 0; i < 30; i++) events.push(ev({ src_ip: `203.0.113.${i % 4}`, dst_ip: '10.0.0.90', dst_port: 22, time: T0 + Math.floor(r() * 3_000_000) }));
  for (let i = 0; i < 40; i++) {
    events.push(ev({ event_class: 'dns_activity', src_ip: '10.0.0.64', dst_ip: '10.0.0.53', dst_port: 53, protocol: 'udp', time: T0 + i * 70_000, dns: { query: `c${i % 3}.evil-example.net`, qtype: 'A', rcode: 'NOERROR', answers: [], trans_id: null, rejected: null } }));
  }
  for (let i = 0; i < 200; i++) events.push(ev({ src_ip: `10.0.0.${i % 30}`, dst_ip: '198.51.100.1', time: T0 + Math.floor(r() * 3_000_000) }));
  return byTime(events);
}

const rulesDir = mkdtempSync(join(tmpdir(), 'mamori-snapshot-sigma-'));
afterAll(() => rmSync(rulesDir, { recursive: true, force: true }));
writeFileSync(
  join(rulesDir, 'rejected.yml'),
  'title: Rejected connection\nid: 0c6d4d7e-0000-4000-8000-0000000000c1\nstatus: test\nlevel: low\ntags: [attack.discovery]\nlogsource: {product: zeek, service: conn}\ndetection:\n  sel: {conn_state: REJ}\n  condition: sel\n',
);
const SIGMA_PACKS = new SigmaRulePacks([rulesDir]);

function sigmaHits(): MamoriEvent[] {
  const r = rng(7);
  const events: MamoriEvent[] = [];
  // Bursts of rejected connections per source with pauses shorter and longer than the 2-minute suppression gap.
  for (let s = 0; s < 4; s++) {
    for (let i = 0; i < 30; i++) {
      events.push(ev({ source_format: 'zeek.conn', src_ip: `198.51.100.${30 + s}`, dst_ip: '10.0.0.5', dst_port: 22, conn_state: 'REJ', time: T0 + s * 20_000 + i * 9_000 + (i >= 15 ? (s % 2 === 0 ? 60_000 : 200_000) : 0) }));
    }
  }
  for (let i = 0; i < 200; i++) events.push(ev({ source_format: 'zeek.conn', src_ip: `10.0.0.${i % 30}`, dst_ip: '198.51.100.1', time: T0 + Math.floor(r() * 700_000) }));
  return byTime(events);
}

/** What a detection says, minus the wall-clock `detected_at`. */
const view = (d: MamoriDetection) => ({ ...d, detected_at: 0 });

/** Feeds events as the detector stage does: watermark before each event, advance after each batch of `batch` (25). */
function feed(a: StatefulAnalytic, events: readonly MamoriEvent[], clock: { max: number }, onBatch: () => void = () => {}, batch = 25): MamoriDetection[] {
  const out: MamoriDetection[] = [];
  events.forEach((e, i) => {
    out.push(...a.observe(e, clock.max - LATENESS));
    clock.max = Math.max(clock.max, e.time);
    if (i % batch === batch - 1 || i === events.length - 1) {
      out.push(...a.advance(clock.max - LATENESS, T0));
      onBatch();
    }
  });
  return out;
}

const CASES: [string, () => StatefulAnalytic, () => MamoriEvent[]][] = [
  ['port scan', () => new PortScanAnalytic(), portScans],
  ['brute force', () => new BruteForceAnalytic(), bruteForce],
  ['beaconing', () => new BeaconingAnalytic(), beacons],
  ['DNS tunneling', () => new DnsTunnelingAnalytic(), dnsTunnel],
  ['long connection', () => new LongConnectionAnalytic(), longConnections],
  ['outbound volume', () => new OutboundVolumeAnalytic(), outboundVolume],
  ['first-seen destination', () => new FirstSeenAnalytic(), firstSeen],
  ['threat-intel deduplication', () => new IntelMatchAnalytic(() => INTEL_INDEX, { ...DEFAULT_INTEL_MATCH_CONFIG, dedupWindowMs: 600_000 }), intelHits],
  ['Sigma suppression', () => new SigmaAnalytic(SIGMA_PACKS, { ...DEFAULT_SIGMA_ANALYTIC_CONFIG, suppressionMs: 120_000, updateIntervalMs: 30_000 }), sigmaHits],
];

describe('analytic state export and import', () => {
  for (const [name, make, events] of CASES) {
    it(`${name}: a restored instance continues exactly like the one that kept running`, () => {
      const all = events();
      for (const cut of [1, 2, 3, 4, 5, 6, 7].map((k) => Math.floor((all.length * k) / 8))) {
        // Reference: one instance over everything.
        const reference = make();
        const refClock = { max: Number.NEGATIVE_INFINITY };
        const before = feed(reference, all.slice(0, cut), refClock);
        const after = [...feed(reference, all.slice(cut), refClock), ...reference.advance(Number.POSITIVE_INFINITY, T0)];

        // Writer: exports its changes after every batch into a compacted "changelog" (latest per key).
        const writer = make().fork();
        writer.exportChanges();
        const log = new Map<string, { order: number; json: string | null }>();
        const clock = { max: Number.NEGATIVE_INFINITY };
        const writerBefore = feed(writer, all.slice(0, cut), clock, () => {
          for (const c of writer.exportChanges()) log.set(c.key, { order: c.order, json: c.value === null ? null : JSON.stringify(c.value) });
        });
        expect(writerBefore.map(view)).toEqual(before.map(view));

        // Restore into a fresh instance, in activity order, and continue.
        const restored = make().fork();
        const entries = [...log].filter(([, v]) => v.json !== null).sort((a, b) => a[1].order - b[1].order);
        for (const [key, v] of entries) restored.importEntity(key, v.order, JSON.parse(v.json!) as unknown);
        expect(restored.size()).toBe(writer.size());
        const continued = [...feed(restored, all.slice(cut), { max: clock.max }), ...restored.advance(Number.POSITIVE_INFINITY, T0)];
        expect(continued.map(view)).toEqual(after.map(view));
      }
      // The case has something to prove: detections on both sides of some cut.
      const once = make();
      const total = feed(once, all, { max: Number.NEGATIVE_INFINITY }).length + once.advance(Number.POSITIVE_INFINITY, T0).length;
      expect(total).toBeGreaterThan(1);
    });
  }

  for (const [name, make, events] of CASES) {
    it(`${name}: batch boundaries (where the watermark is applied to every entity) do not change the detections`, () => {
      const all = events();
      const run = (batch: number) => {
        const a = make().fork();
        // The order may differ (a close is reported at the entity's next event or at the batch end); the records may not.
        return [...feed(a, all, { max: Number.NEGATIVE_INFINITY }, () => {}, batch), ...a.advance(Number.POSITIVE_INFINITY, T0)].map((d) => JSON.stringify(view(d))).sort();
      };
      const reference = run(25);
      expect(run(1)).toEqual(reference);
      expect(run(7)).toEqual(reference);
      expect(run(all.length)).toEqual(reference);
    });
  }

  for (const [name, make, events] of CASES) {
    it(`${name}: a later version of a detection never has an earlier last_seen, with events out of order too`, () => {
      // The storage's recent-heads table (migration 0009) relies on it: its TTL on last_seen must never
      // drop a latest version while keeping an older one.
      const inOrder = events();
      const swapped = [...inOrder];
      for (let i = 0; i + 1 < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      for (const all of [inOrder, swapped]) {
        const a = make().fork();
        const out = [...feed(a, all, { max: Number.NEGATIVE_INFINITY }), ...a.advance(Number.POSITIVE_INFINITY, T0)];
        const last = new Map<string, { version: number; lastSeen: number }>();
        for (const d of out) {
          const version = Number(d.attributes['version'] ?? 0);
          const seen = last.get(d.detection_id);
          if (seen !== undefined) {
            expect(version, d.detection_id).toBeGreaterThanOrEqual(seen.version);
            expect(d.last_seen, d.detection_id).toBeGreaterThanOrEqual(seen.lastSeen);
          }
          last.set(d.detection_id, { version, lastSeen: d.last_seen });
        }
        if (all === inOrder) expect(out.length).toBeGreaterThan(0);
      }
    });
  }

  it('Sigma and intel at the exact end of their gap: the same answer with or without a batch boundary before the next hit', () => {
    const rej = (src: string, time: number) => ev({ source_format: 'zeek.conn', src_ip: src, dst_ip: '198.51.100.66', dst_port: 22, conn_state: 'REJ', time });
    for (const make of [
      () => new SigmaAnalytic(SIGMA_PACKS, { ...DEFAULT_SIGMA_ANALYTIC_CONFIG, suppressionMs: 1_000, updateIntervalMs: 0 }).fork(),
      () => new IntelMatchAnalytic(() => INTEL_INDEX, { ...DEFAULT_INTEL_MATCH_CONFIG, dedupWindowMs: 1_000 }).fork(),
    ]) {
      // One entity hit at T0 and again exactly one gap later, another entity's hit in between moving the watermark (lateness 0).
      const events = [rej('10.0.0.1', T0), rej('10.0.0.2', T0 + 1_000), rej('10.0.0.1', T0 + 1_000)];
      const together = make();
      const one = events.flatMap((e, i) => together.observe(e, i === 0 ? Number.NEGATIVE_INFINITY : T0 + (i > 1 ? 1_000 : 0)));
      const split = make();
      const two = [...split.observe(events[0]!), ...split.observe(events[1]!, T0), ...split.advance(T0 + 1_000, T0), ...split.observe(events[2]!, T0 + 1_000)];
      expect(one.map(view)).toEqual(two.map(view));
      // The gap has passed: the entity's second hit is a new detection.
      const ids = one.filter((d) => d.entity.value === '10.0.0.1' || d.src_ip === '10.0.0.1').map((d) => d.detection_id);
      expect(new Set(ids).size).toBe(2);
    }
  });

  it('an instance that was never asked for changes does not track them; deletions are exported as null', () => {
    const probe = (i: number) => ev({ src_ip: '203.0.113.50', dst_ip: `10.0.0.${i}`, dst_port: 22, conn_state: 'S0', time: T0 + i * 100 });
    const untracked = new PortScanAnalytic();
    for (let i = 0; i < 25; i++) untracked.observe(probe(i));
    expect(untracked.size()).toBe(1);
    expect(untracked.exportChanges()).toEqual([]);
    const a = new PortScanAnalytic().fork();
    a.exportChanges();
    for (let i = 0; i < 25; i++) a.observe(probe(i));
    const changes = a.exportChanges();
    expect(changes.map((c) => c.key)).toEqual(['org-a\u0000203.0.113.50']);
    expect(a.exportChanges()).toEqual([]);
    a.advance(T0 + 10 * H, T0);
    expect(a.exportChanges()).toEqual([expect.objectContaining({ key: 'org-a\u0000203.0.113.50', value: null })]);
  });
});
