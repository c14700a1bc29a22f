import { DetectionCodec, EventCodec, type MamoriDetection, type MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { createMemoryTransport, MemoryBroker, type ConsumedMessage, type Producer, type Transport } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { BruteForceAnalytic } from './analytics/brute-force.ts';
import { PortScanAnalytic } from './analytics/port-scan.ts';
import { DetectorStage } from './detector-stage.ts';
import { AnalyticsChangelog } from './state/analytics-changelog.ts';

/**
 * The stage's crash cases, one at a time, against a reference run: an instance that dies after its
 * detections were sent but before its snapshot, one that dies after the snapshot but before the
 * commit, a batch whose delivery failed, and a takeover by an instance that never saw the partition.
 * Every run must end with exactly the reference's detection records.
 */
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const eventCodec = new EventCodec();
const detectionCodec = new DetectionCodec();

function events(): MamoriEvent[] {
  const out: MamoriEvent[] = [];
  const add = (time: number, src: string, dst: string, port: number, state: string, bytes: number): void => {
    const n = out.length;
    out.push({
      event_id: `st-${n}`, event_class: 'network_activity', time, ingest_time: time, org_id: 'org-s', sensor_id: 's', source_format: 'zeek.conn', src_ip: src, src_port: 40000 + n,
      dst_ip: dst, dst_port: port, protocol: 'tcp', bytes_out: bytes, bytes_in: bytes, packets_out: 1, packets_in: 1, duration_ms: 500, conn_state: state, community_id: null,
      raw: { topic: 'raw', partition: 0, offset: n }, attributes: {},
    });
  };
  for (let i = 0; i < 300; i++) {
    const t = T0 + i * 1_000;
    add(t, '203.0.113.7', `10.1.0.${i % 120}`, 445, 'S0', 0); // a long horizontal scan
    if (i % 3 === 0) add(t + 10, '192.0.2.9', '10.1.9.9', 22, 'SF', 900); // SSH brute force by short connections
    if (i % 2 === 0) add(t + 20, `10.1.2.${i % 30}`, '198.51.100.4', 443, 'SF', 5_000); // background
  }
  out.push({ ...out[0]!, event_id: 'st-end', time: T0 + 86_400_000, src_ip: '10.1.2.99', conn_state: 'SF', bytes_out: 1 });
  return out;
}

/** All events in one partition (the case where state matters most), in batches of 37. */
function batches(): ConsumedMessage[][] {
  const messages = events().map((e, i): ConsumedMessage => ({ topic: 'events', partition: 0, offset: String(i), key: null, value: eventCodec.encode(e), headers: {}, timestamp: 0 }));
  const out: ConsumedMessage[][] = [];
  for (let i = 0; i < messages.length; i += 37) out.push(messages.slice(i, i + 37));
  return out;
}

interface World {
  transport: Transport;
  producer: Producer;
}

async function world(): Promise<World> {
  const transport = createMemoryTransport(new MemoryBroker());
  const admin = transport.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: 'events', partitions: 1 }]);
  const producer = transport.producer();
  await producer.connect();
  return { transport, producer };
}

function instance(w: World | undefined): DetectorStage {
  return new DetectorStage({
    eventsTopic: 'events',
    detectionsTopic: 'detections',
    analytics: [new PortScanAnalytic(), new BruteForceAnalytic()],
    codecs: { decodeEvent: (b) => eventCodec.decode(b), encodeDetection: (d) => detectionCodec.encode(d) },
    registry: createRegistry(),
    allowedLatenessMs: 5_000,
    idleCloseMs: 600_000,
    ...(w ? { changelog: new AnalyticsChangelog({ transport: w.transport, producer: w.producer, topic: 'state', groupPrefix: 'unit', restoreTimeoutMs: 5_000 }) } : {}),
  });
}

const key = (d: MamoriDetection): string => JSON.stringify([d.detection_id, d.attributes['version'], d.count, d.evidence.length, d.first_seen, d.last_seen]);

async function deliver(stage: DetectorStage, batch: ConsumedMessage[], sink: Set<string>, snapshot = true): Promise<void> {
  const result = await stage.process({ messages: batch });
  for (const m of result.outputs[0]?.messages ?? []) sink.add(key(detectionCodec.decode(m.value as Buffer)));
  if (snapshot) await stage.afterDeliver();
}

async function reference(): Promise<Set<string>> {
  const sink = new Set<string>();
  const stage = instance(undefined);
  for (const batch of batches()) await deliver(stage, batch, sink);
  return sink;
}

describe('DetectorStage state across crashes', () => {
  it('the reference run finds the scan and the brute force, with episodes spanning many batches', async () => {
    const ref = await reference();
    const rules = new Set([...ref].map((k) => (JSON.parse(k) as string[])[0]));
    expect(rules.size).toBe(2);
    expect(ref.size).toBeGreaterThan(10);
  });

  for (const crashAt of [3, 8, 13]) {
    it(`dies after sending batch ${crashAt}'s detections, before its snapshot: the next owner sends the same ones again, nothing else changes`, async () => {
      const w = await world();
      const sink = new Set<string>();
      const all = batches();
      const first = instance(w);
      for (let i = 0; i < crashAt; i++) await deliver(first, all[i]!, sink);
      await deliver(first, all[crashAt]!, sink, false);
      // Not committed: the next owner gets the batch again.
      const second = instance(w);
      for (let i = crashAt; i < all.length; i++) await deliver(second, all[i]!, sink);
      expect(second.restores).toBe(1);
      expect(sink).toEqual(await reference());
    });

    it(`dies after batch ${crashAt}'s snapshot, before the commit: the redelivered records are skipped`, async () => {
      const w = await world();
      const sink = new Set<string>();
      const all = batches();
      const first = instance(w);
      for (let i = 0; i <= crashAt; i++) await deliver(first, all[i]!, sink);
      const second = instance(w);
      const again = new Set<string>();
      await deliver(second, all[crashAt]!, again);
      expect(again).toEqual(new Set());
      for (let i = crashAt + 1; i < all.length; i++) await deliver(second, all[i]!, sink);
      expect(sink).toEqual(await reference());
    });
  }

  it('a batch whose delivery failed is processed again on the restored state, not on top of itself', async () => {
    const w = await world();
    const sink = new Set<string>();
    const all = batches();
    const stage = instance(w);
    for (let i = 0; i < all.length; i++) {
      // Every fifth batch: the first delivery fails (no afterDeliver), the transport redelivers it.
      if (i % 5 === 2) await stage.process({ messages: all[i]! });
      await deliver(stage, all[i]!, sink);
    }
    expect(stage.restores).toBeGreaterThan(1);
    expect(sink).toEqual(await reference());
  });

  it('another instance that processed the partition in between makes the first one reload it', async () => {
    const w = await world();
    const sink = new Set<string>();
    const all = batches();
    const a = instance(w);
    const b = instance(w);
    for (let i = 0; i < all.length; i++) await deliver(i % 4 < 2 ? a : b, all[i]!, sink);
    expect(a.restores + b.restores).toBeGreaterThan(4);
    expect(sink).toEqual(await reference());
  });
});

describe('DetectorStage state: a redelivered batch shorter than the restored snapshot', () => {
  it('keeps the snapshot offset, so a later restore does not apply the skipped records twice', async () => {
    const w = await world();
    const all = batches().flat();
    const sink = new Set<string>();
    const first = instance(w);
    // The first owner got far (snapshot through record 199), its commit only through record 99.
    await deliver(first, all.slice(0, 100), sink);
    await deliver(first, all.slice(100, 200), sink);
    // The next owner is redelivered 100..149 (all already in the snapshot), then dies before 150.
    const second = instance(w);
    await deliver(second, all.slice(100, 150), sink);
    // A third owner restores and continues from 150; the snapshot must still say "through 199".
    const third = instance(w);
    await deliver(third, all.slice(150, 250), sink);
    for (let i = 250; i < all.length; i += 37) await deliver(third, all.slice(i, i + 37), sink);
    expect(sink).toEqual(await reference());
  });
});

describe('DetectorStage late events', () => {
  it("a lagging sensor's scan, all of it older than the partition watermark, still adds up and is reported", async () => {
    const live: MamoriEvent[] = [];
    const base = events()[0]!;
    // A live sensor has moved the partition's event time 10 minutes past the backlog below.
    for (let i = 0; i < 20; i++) live.push({ ...base, event_id: `live-${i}`, sensor_id: 'live', time: T0 + 600_000 + i * 1_000, src_ip: '10.1.2.50', dst_ip: '198.51.100.4', dst_port: 443, conn_state: 'SF', bytes_out: 500 });
    // Then the other sensor's backlog arrives: a vertical scan of 40 ports in 4 s, 10 minutes old.
    const backlog = Array.from({ length: 40 }, (_, i): MamoriEvent => ({ ...base, event_id: `late-${i}`, sensor_id: 'lagging', time: T0 + i * 100, src_ip: '203.0.113.99', dst_ip: '10.1.5.5', dst_port: 1000 + i, conn_state: 'S0', bytes_out: 0 }));
    const stage = instance(undefined);
    const found: MamoriDetection[] = [];
    const messages = [...live, ...backlog].map((e, i): ConsumedMessage => ({ topic: 'events', partition: 0, offset: String(i), key: null, value: eventCodec.encode(e), headers: {}, timestamp: 0 }));
    // The live batch, then the backlog in one batch (a late source's episode is closed by the
    // partition watermark at the end of each batch: late data adds up within a batch, not across).
    for (const slice of [messages.slice(0, 20), messages.slice(20)]) {
      const result = await stage.process({ messages: slice });
      for (const m of result.outputs[0]?.messages ?? []) found.push(detectionCodec.decode(m.value as Buffer));
    }
    const scans = found.filter((d) => d.entity.value === '203.0.113.99');
    expect(scans.length).toBeGreaterThan(0);
    expect(Math.max(...scans.map((d) => Number(d.attributes['distinct_ports'])))).toBe(40);
  });
});
