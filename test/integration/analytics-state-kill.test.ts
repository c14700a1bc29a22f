import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { silentLogger, sleep } from '@mamori/core';
import { DetectionCodec, EventCodec, eventKey, type MamoriDetection, type MamoriEvent } from '@mamori/events';
import type { Transport } from '@mamori/transport';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';

/**
 * The per-source analytics' window state survives a crash. The same deterministic events (port
 * scans, SSH brute force, background traffic; keyed by source over four partitions) go through
 * (1) one detector process and (2) two detector processes of one consumer group, one of which is
 * SIGKILLed while events flow, in the middle of scans and brute-force episodes; the survivor takes
 * its partitions over and restores their state from the analytics changelog. Both runs must write
 * exactly the same detection records (id, version, count, evidence, first/last seen): none lost,
 * no episode split in two, none extra. Redelivery may repeat a record; it is the same record.
 */
const brokers = inject('kafkaBrokers');
const PARTITIONS = 4;
const LATENESS_MS = 10_000;
const T0 = Date.UTC(2026, 1, 2, 8, 0, 0);
const SCRIPT = fileURLToPath(new URL('./analytics-detector-process.ts', import.meta.url));
const eventCodec = new EventCodec();
const detectionCodec = new DetectionCodec();

function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeEvents(): MamoriEvent[] {
  const random = rng(11);
  const events: MamoriEvent[] = [];
  const add = (over: Partial<MamoriEvent> & { time: number; src_ip: string }): void => {
    const n = events.length + 1;
    events.push({
      event_id: `kill-${String(n).padStart(6, '0')}`, event_class: 'network_activity', ingest_time: over.time, org_id: 'org-k', sensor_id: 's1', source_format: 'zeek.conn',
      src_port: 40000 + (n % 20000), dst_ip: '10.9.0.1', dst_port: 443, protocol: 'tcp', bytes_out: 800, bytes_in: 4000, packets_out: 6, packets_in: 6, duration_ms: 300,
      conn_state: 'SF', community_id: null, raw: { topic: 'kill', partition: 0, offset: n }, attributes: {},
      ...over,
    });
  };
  const SPAN = 16 * 60_000;
  // Background: 60 ordinary clients.
  for (let i = 0; i < 1600; i++) add({ time: T0 + Math.floor(random() * SPAN), src_ip: `10.8.${i % 4}.${10 + (i % 60)}`, dst_ip: `198.51.100.${1 + (i % 7)}` });
  // Port scans: horizontal (one port, many hosts) and vertical, 12 sources, each over 1-3 minutes, staggered over the span.
  for (let s = 0; s < 12; s++) {
    const start = T0 + s * 70_000 + Math.floor(random() * 20_000);
    const vertical = s % 3 === 2;
    const probes = 30 + (s % 4) * 10;
    for (let i = 0; i < probes; i++) {
      add({
        time: start + i * (1_500 + (s % 3) * 500),
        src_ip: `203.0.113.${10 + s}`,
        dst_ip: vertical ? '10.9.1.5' : `10.9.${1 + (i % 3)}.${20 + i}`,
        dst_port: vertical ? 1000 + i * 7 : [22, 445, 3389][s % 3]!,
        conn_state: i % 5 === 0 ? 'REJ' : 'S0', bytes_out: 0, bytes_in: 0, packets_in: 0, duration_ms: 0,
      });
    }
  }
  // SSH brute force without authentication records: short connections to port 22 of one host.
  for (let s = 0; s < 6; s++) {
    const start = T0 + 60_000 + s * 130_000;
    for (let i = 0; i < 45; i++) add({ time: start + i * 4_000, src_ip: `192.0.2.${40 + s}`, dst_ip: '10.9.2.22', dst_port: 22, bytes_out: 1_200, duration_ms: 1_500, conn_state: 'SF' });
  }
  // Production order: event time plus up to 3 s of jitter (out of order within the lateness).
  return events.map((e) => ({ e, at: e.time + random() * 3_000 })).sort((a, b) => a.at - b.at).map(({ e }) => e);
}

const events = makeEvents();
const lastTime = events.reduce((m, e) => Math.max(m, e.time), 0);
/** The instance is killed when the events reach the middle of the sixth scan (a vertical one, 100 s long). */
const scan5 = events.filter((e) => e.src_ip === '203.0.113.15').map((e) => e.time);
const KILL_TIME = (Math.min(...scan5) + Math.max(...scan5)) / 2;
const CUT1 = events.findIndex((e) => e.time >= KILL_TIME);
const CUT2 = Math.min(events.length, CUT1 + Math.floor(events.length * 0.15));

interface Topics {
  events: string;
  detections: string;
  state: string;
  dlq: string;
  group: string;
}

interface Detector {
  child: ChildProcess;
  ready: Promise<void>;
  status: { held: number[]; restores: number };
  exited: Promise<void>;
  output: string[];
}

const children: ChildProcess[] = [];

function startDetector(topics: Topics): Detector {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    env: {
      PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp',
      KILL_BROKERS: brokers, KILL_EVENTS: topics.events, KILL_DETECTIONS: topics.detections, KILL_STATE: topics.state, KILL_DLQ: topics.dlq, KILL_GROUP: topics.group,
      KILL_LATENESS_MS: String(LATENESS_MS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const detector: Detector = { child, ready: Promise.resolve(), status: { held: [], restores: 0 }, exited: Promise.resolve(), output: [] };
  let buffered = '';
  detector.ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'ready') resolve();
        else if (line.startsWith('status ')) detector.status = JSON.parse(line.slice(7)) as Detector['status'];
      }
    });
    child.stderr!.on('data', (d: Buffer) => detector.output.push(d.toString()));
    child.on('exit', (code) => reject(new Error(`detector exited (${code}) before it was ready: ${detector.output.join('')}`)));
  });
  detector.exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return detector;
}

async function produce(transport: Transport, topic: string, list: readonly MamoriEvent[]): Promise<void> {
  const producer = transport.producer({ clientId: 'kill-sensor' });
  await producer.connect();
  for (let i = 0; i < list.length; i += 100) {
    await producer.send(topic, list.slice(i, i + 100).map((e) => ({ key: eventKey(e), value: eventCodec.encode(e) })));
  }
  await producer.close();
}

/** One benign event per partition a day after the last: every partition's watermark passes every episode. */
async function produceEndMarkers(transport: Transport, topic: string): Promise<void> {
  const producer = transport.producer({ clientId: 'kill-markers' });
  await producer.connect();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const marker = { ...events[0]!, event_id: `kill-end-${partition}`, time: lastTime + 86_400_000, ingest_time: lastTime + 86_400_000, src_ip: '10.8.9.9', conn_state: 'SF' };
    await producer.send(topic, [{ key: `marker-${partition}`, value: eventCodec.encode(marker), partition }]);
  }
  await producer.close();
}

async function waitCaughtUp(transport: Transport, topics: Topics, timeoutMs: number): Promise<void> {
  const admin = transport.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  try {
    while (Date.now() < deadline) {
      const [ends, committed] = await Promise.all([admin.endOffsets(topics.events), admin.committedOffsets(topics.group, topics.events)]);
      const done = ends.every((e) => e.offset === '0' || committed.find((c) => c.partition === e.partition)?.offset === e.offset);
      stable = done ? stable + 1 : 0;
      if (stable >= 3) return;
      await sleep(300);
    }
    throw new Error('detectors did not catch up in time');
  } finally {
    await admin.close();
  }
}

async function readDetections(transport: Transport, topic: string): Promise<MamoriDetection[]> {
  const admin = transport.admin();
  await admin.connect();
  const total = (await admin.endOffsets(topic)).reduce((n, e) => n + Number(e.offset), 0);
  await admin.close();
  const out: MamoriDetection[] = [];
  const consumer = transport.consumer({ groupId: `kill-read-${randomUUID()}`, topics: [topic], fromBeginning: true, maxWaitMs: 50 });
  await consumer.connect();
  await consumer.run(async (batch) => {
    for (const m of batch.messages) out.push(detectionCodec.decode(m.value!));
  });
  const deadline = Date.now() + 30_000;
  while (out.length < total && Date.now() < deadline) await sleep(100);
  await consumer.close(5_000);
  return out;
}

/** What must be identical between runs: everything but the wall-clock `detected_at`. */
function record(d: MamoriDetection): string {
  return JSON.stringify([d.rule_id, d.detection_id, d.attributes['version'] ?? '', d.count, d.evidence.map((e) => e.event_id), d.first_seen, d.last_seen, d.severity, d.summary]);
}

interface Run {
  records: Set<string>;
  raw: number;
  final: Map<string, MamoriDetection>;
  victimHeld: number[];
  survivorRestores: number;
}

async function scenario(mode: 'single' | 'two-with-kill'): Promise<Run> {
  const transport = createKafkajsTransport({ brokers: brokers.split(','), clientId: `kill-${mode}`, logger: silentLogger() });
  const run = `${mode}-${randomUUID().slice(0, 8)}`;
  const topics: Topics = { events: `kill.${run}.events`, detections: `kill.${run}.detections`, state: `kill.${run}.state`, dlq: `kill.${run}.dlq`, group: `kill-${run}` };
  const admin = transport.admin();
  await admin.connect();
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.ensureTopics([{ topic: topics.events, partitions: PARTITIONS }, { topic: topics.detections, partitions: 2 }, { topic: topics.dlq }]);
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(1_000);
    }
  }
  await admin.close();

  const first = startDetector(topics);
  await first.ready;
  let victimHeld: number[] = [];
  let survivorRestores = 0;
  const cut1 = CUT1;
  const cut2 = CUT2;
  if (mode === 'single') {
    await produce(transport, topics.events, events);
  } else {
    const second = startDetector(topics);
    await second.ready;
    // Let the group rebalance over both members before any event arrives.
    await sleep(6_000);
    await produce(transport, topics.events, events.slice(0, cut1));
    await waitCaughtUp(transport, topics, 45_000);
    victimHeld = second.status.held;
    expect(victimHeld.length).toBeGreaterThan(0);
    expect(first.status.held.length).toBeGreaterThan(0);
    const restoresBefore = first.status.restores;
    // Kill the second instance while it is working through the next events: no close, no commit.
    const flowing = produce(transport, topics.events, events.slice(cut1, cut2));
    await sleep(150);
    second.child.kill('SIGKILL');
    await flowing;
    await second.exited;
    await produce(transport, topics.events, events.slice(cut2));
    await waitCaughtUp(transport, topics, 60_000);
    await sleep(500);
    survivorRestores = first.status.restores - restoresBefore;
  }
  await produceEndMarkers(transport, topics.events);
  await waitCaughtUp(transport, topics, 60_000);
  first.child.kill('SIGTERM');
  await first.exited;
  const detections = await readDetections(transport, topics.detections);
  const final = new Map<string, MamoriDetection>();
  for (const d of detections) {
    const seen = final.get(d.detection_id);
    if (!seen || Number(d.attributes['version'] ?? 0) >= Number(seen.attributes['version'] ?? 0)) final.set(d.detection_id, d);
  }
  return { records: new Set(detections.map(record)), raw: detections.length, final, victimHeld, survivorRestores };
}

describe('analytics window state across a SIGKILL and a takeover', () => {
  const results = new Map<string, Run>();
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const [label, r] of results) {
      console.log(`${label}: ${r.raw} detection records, ${r.records.size} distinct, ${r.final.size} detections; victim held ${JSON.stringify(r.victimHeld)}, survivor restores ${r.survivorRestores}`);
    }
  });

  it('one instance and two instances with one killed mid-window write exactly the same detections', async () => {
    const single = await scenario('single');
    results.set('single', single);
    const two = await scenario('two-with-kill');
    results.set('two-with-kill', two);

    // The scenario proves something: scans and brute force were detected, and some episodes were open across the kill.
    const killTime = KILL_TIME;
    const finals = [...single.final.values()];
    for (const rule of ['mamori.network.port_scan', 'mamori.auth.brute_force']) {
      expect(finals.filter((d) => d.rule_id === rule).length).toBeGreaterThanOrEqual(3);
      expect(finals.filter((d) => d.rule_id === rule && d.first_seen < killTime && d.last_seen > killTime).length).toBeGreaterThanOrEqual(1);
    }
    expect(two.survivorRestores).toBeGreaterThan(0);

    // Exactly the same detections: same ids (no episode lost or split), same final counts and evidence, same intermediate reports.
    expect([...two.final.keys()].sort()).toEqual([...single.final.keys()].sort());
    for (const [id, d] of single.final) {
      const other = two.final.get(id)!;
      expect({ id, count: other.count, evidence: other.evidence.length, version: other.attributes['version'] }).toEqual({ id, count: d.count, evidence: d.evidence.length, version: d.attributes['version'] });
    }
    expect([...two.records].sort()).toEqual([...single.records].sort());
  }, 150_000);
});
