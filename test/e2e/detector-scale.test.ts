import { randomUUID } from 'node:crypto';
import { silentLogger, sleep } from '@mamori/core';
import { DetectionCodec, EventCodec, eventKey, type MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { StageRunner, type Stage, type StageResult } from '@mamori/pipeline';
import { CorrelationEngine, parseCorrelationRules, type CorrelationSet } from '@mamori/sigma/correlation';
import type { ConsumedBatch, Transport } from '@mamori/transport';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  ChangelogStandby,
  CorrelationSourceStage,
  CorrelationStage,
  ensureCorrelationTopics,
  predicateRuleSource,
  type BaseRuleSource,
} from '../../services/detector/src/state/index.ts';

/**
 * Distributed Sigma correlation on the real broker. The same deterministic events go through
 * (1) one detector instance and (2) two instances, one of which crashes mid-window (its last batch
 * is processed and its detections sent, but neither its state nor its offsets are written) and is
 * then restarted. Both runs must give exactly the set of correlation detections the in-memory
 * engine computes from the same events: none lost, none extra. Correlations group by the target
 * (facts from every input partition) and by the source, and one is chained.
 */
const brokers = inject('kafkaBrokers').split(',');
const EVENT_PARTITIONS = 4;
const STATE_PARTITIONS = 4;
const LATENESS_MS = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

const RULES = `
title: SSH brute force from one source
id: 11111111-0000-4000-8000-000000000001
name: ssh_brute
correlation:
  type: event_count
  rules: [ssh_attempt]
  group-by: [org_id, src_ip]
  timespan: 2m
  condition: {gte: 8}
level: medium
---
title: SSH spray on one target
id: 11111111-0000-4000-8000-000000000002
correlation:
  type: value_count
  rules: [ssh_attempt]
  group-by: [org_id, dst_ip]
  timespan: 5m
  condition: {field: src_ip, gte: 4}
level: high
---
title: Large uploads to one destination
id: 11111111-0000-4000-8000-000000000003
correlation:
  type: value_sum
  rules: [big_upload]
  group-by: [org_id, dst_ip]
  timespan: 10m
  condition: {field: bytes_out, gt: 6000000}
---
title: Brute force then upload
id: 11111111-0000-4000-8000-000000000004
correlation:
  type: temporal_ordered
  rules: [ssh_brute, big_upload]
  group-by: [org_id, src_ip]
  timespan: 10m
generate: true
level: critical
`;

const correlations: CorrelationSet = parseCorrelationRules(parseAllDocuments(RULES).map((d, index) => ({ path: 'scale.yml', index, doc: d.toJS() as unknown })));
const baseRules: BaseRuleSource = predicateRuleSource([
  { id: 'b-ssh', name: 'ssh_attempt', test: (e) => e.dst_port === 22 && e.conn_state === 'REJ' },
  { id: 'b-up', name: 'big_upload', test: (e) => e.bytes_out >= 1_000_000 },
]);

/** Deterministic PRNG (mulberry32). */
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
  const random = rng(7);
  const events: MamoriEvent[] = [];
  let n = 0;
  const add = (time: number, src: string, dst: string, port: number, state: string, bytes: number): void => {
    n += 1;
    events.push({
      event_id: `ev-${String(n).padStart(6, '0')}`,
      event_class: 'network_activity',
      time: Math.round(time),
      ingest_time: Math.round(time),
      org_id: 'org-a',
      sensor_id: 's1',
      source_format: 'zeek.conn',
      src_ip: src,
      src_port: 40000 + (n % 20000),
      dst_ip: dst,
      dst_port: port,
      protocol: 'tcp',
      bytes_out: bytes,
      bytes_in: 0,
      packets_out: 1,
      packets_in: 0,
      duration_ms: 0,
      conn_state: state,
      community_id: null,
      raw: { topic: 'scale', partition: 0, offset: n },
      attributes: {},
    });
  };
  const sources = Array.from({ length: 40 }, (_, i) => `10.1.${Math.floor(i / 10)}.${i % 10}`);
  const targets = Array.from({ length: 6 }, (_, i) => `192.168.0.${i + 1}`);
  // Background: 40 minutes of ordinary traffic, a few lone SSH rejections, small uploads.
  for (let t = 0; t < 40 * 60_000; t += 1_500) {
    const src = sources[Math.floor(random() * sources.length)]!;
    const dst = targets[Math.floor(random() * targets.length)]!;
    const ssh = random() < 0.05;
    add(T0 + t, src, dst, ssh ? 22 : 443, ssh ? 'REJ' : 'SF', Math.floor(random() * 50_000));
  }
  // Brute force bursts (some crossing the threshold, some one short), several followed by uploads.
  for (let b = 0; b < 14; b++) {
    const src = sources[(b * 7) % sources.length]!;
    const dst = targets[b % targets.length]!;
    const start = 60_000 + b * 150_000 + random() * 30_000;
    const attempts = b % 4 === 3 ? 6 : 9 + (b % 3);
    for (let i = 0; i < attempts; i++) add(T0 + start + i * 8_000, src, dst, 22, 'REJ', 0);
    if (b % 2 === 0) add(T0 + start + attempts * 8_000 + 90_000, src, '203.0.113.9', 443, 'SF', 2_500_000);
  }
  // Spray: several sources, one target, within minutes (spans input partitions).
  for (let s = 0; s < 5; s++) {
    const start = 20 * 60_000 + s * 4 * 60_000;
    for (let i = 0; i < 3 + (s % 3); i++) add(T0 + start + i * 20_000, sources[(s * 5 + i * 3) % sources.length]!, targets[(s + 2) % targets.length]!, 22, 'REJ', 0);
  }
  // Production order: event time plus up to 20 s of jitter (out of order within the lateness).
  return events.map((e) => ({ e, at: e.time + random() * 20_000 })).sort((a, b) => a.at - b.at).map(({ e }) => e);
}

const events = makeEvents();
const eventCodec = new EventCodec();
const detectionCodec = new DetectionCodec();

/** What the in-memory reference engine reports for the same events. */
function expectedIds(): string[] {
  const engine = new CorrelationEngine(correlations, { allowedLatenessMs: LATENESS_MS });
  const ids: string[] = [];
  for (const e of events) for (const m of baseRules.match(e)) engine.ingest(m);
  for (const out of [...engine.advance(), ...engine.flush()]) if (out.report) ids.push(out.match.id);
  return ids.sort();
}

interface Topics {
  events: string;
  repartition: string;
  state: string;
  detections: string;
  dlq: string;
  sourceGroup: string;
  correlationGroup: string;
}

/** A stage that can "crash": after it is killed it rejects every batch (nothing more is committed). */
class Killable implements Stage {
  dead = false;
  readonly name: string;
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];
  constructor(private readonly inner: Stage) {
    this.name = inner.name;
    this.inputTopics = inner.inputTopics;
    this.outputTopics = inner.outputTopics;
  }
  async process(batch: ConsumedBatch): Promise<StageResult> {
    if (this.dead) throw new Error('instance killed');
    const result = await this.inner.process(batch);
    // Crash after the stage's own sends (detections, chained facts) but before the runner writes
    // the state and commits: the hardest point to recover from.
    if (this.dead) throw new Error('instance killed');
    return result;
  }
}

interface Instance {
  correlation: CorrelationStage;
  stages: Killable[];
  kill(): Promise<void>;
  close(): Promise<void>;
}

async function startInstance(transport: Transport, topics: Topics): Promise<Instance> {
  const producer = transport.producer({ clientId: 'scale-detector' });
  await producer.connect();
  const admin = transport.admin();
  await admin.connect();
  const registry = createRegistry();
  const standby = new ChangelogStandby({ transport, admin, topic: topics.state, groupPrefix: topics.correlationGroup, logger: silentLogger() });
  await standby.start();
  const source = new Killable(
    new CorrelationSourceStage({ eventsTopic: topics.events, repartitionTopic: topics.repartition, repartitionPartitions: STATE_PARTITIONS, correlations, baseRules, codecs: { decodeEvent: (b) => eventCodec.decode(b) } }),
  );
  const correlation = new CorrelationStage({
    correlations,
    sourcePartitions: EVENT_PARTITIONS,
    partitions: STATE_PARTITIONS,
    allowedLatenessMs: LATENESS_MS,
    eventsTopic: topics.events,
    detectionsTopic: topics.detections,
    repartitionTopic: topics.repartition,
    stateTopic: topics.state,
    producer,
    state: standby,
    codecs: { encodeDetection: (d) => detectionCodec.encode(d) },
    registry,
  });
  const killableCorrelation = new Killable(correlation);
  const common = { transport, producer, registry, logger: silentLogger(), deadLetterTopic: topics.dlq, maxBatchSize: 200, maxWaitMs: 50 };
  const runners = [
    new StageRunner({ ...common, stage: source, groupId: topics.sourceGroup }),
    new StageRunner({ ...common, stage: killableCorrelation, groupId: topics.correlationGroup }),
  ];
  for (const runner of runners) await runner.start();
  const stages = [source, killableCorrelation];
  const close = async (): Promise<void> => {
    for (const runner of runners) await runner.close(5_000);
    await standby.close();
    await producer.close();
    await admin.close();
  };
  return {
    correlation,
    stages,
    kill: async () => {
      for (const stage of stages) stage.dead = true;
      await close();
    },
    close,
  };
}

async function produceEvents(transport: Transport, topic: string, list: readonly MamoriEvent[]): Promise<void> {
  const producer = transport.producer({ clientId: 'scale-sensor' });
  await producer.connect();
  for (let i = 0; i < list.length; i += 200) {
    await producer.send(
      topic,
      list.slice(i, i + 200).map((e) => ({ key: eventKey(e), value: eventCodec.encode(e) })),
    );
  }
  await producer.close();
}

/** One event per input partition far in the future: every watermark passes every window. */
function endMarkers(): { partition: number; event: MamoriEvent }[] {
  const last = events.reduce((m, e) => Math.max(m, e.time), 0);
  return Array.from({ length: EVENT_PARTITIONS }, (_, partition) => ({
    partition,
    event: { ...events[0]!, event_id: `end-${partition}`, time: last + 86_400_000, dst_port: 1, conn_state: 'SF', bytes_out: 0 },
  }));
}

async function waitIdle(transport: Transport, topics: Topics, timeoutMs: number): Promise<void> {
  const admin = transport.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  try {
    while (Date.now() < deadline) {
      const caughtUp = async (group: string, topic: string): Promise<boolean> => {
        const [ends, committed] = await Promise.all([admin.endOffsets(topic), admin.committedOffsets(group, topic)]);
        return ends.every((e) => e.offset === '0' || committed.find((c) => c.partition === e.partition)?.offset === e.offset);
      };
      const idle = (await caughtUp(topics.sourceGroup, topics.events)) && (await caughtUp(topics.correlationGroup, topics.repartition));
      stable = idle ? stable + 1 : 0;
      if (stable >= 3) return;
      await sleep(500);
    }
    throw new Error('pipeline did not go idle in time');
  } finally {
    await admin.close();
  }
}

async function readDetections(transport: Transport, topic: string): Promise<string[]> {
  const admin = transport.admin();
  await admin.connect();
  const ends = await admin.endOffsets(topic);
  await admin.close();
  const total = ends.reduce((n, e) => n + Number(e.offset), 0);
  const ids: string[] = [];
  if (total === 0) return ids;
  const consumer = transport.consumer({ groupId: `scale-read-${randomUUID()}`, topics: [topic], fromBeginning: true, maxWaitMs: 50 });
  await consumer.connect();
  await consumer.run(async (batch) => {
    for (const m of batch.messages) ids.push(detectionCodec.decode(m.value!).detection_id);
  });
  const deadline = Date.now() + 30_000;
  while (ids.length < total && Date.now() < deadline) await sleep(100);
  await consumer.close(5_000);
  return ids;
}

async function scenario(label: string, mode: 'single' | 'two-with-crash'): Promise<{ ids: string[]; restores: number }> {
  const transport = createKafkajsTransport({ brokers, clientId: `scale-${label}`, logger: silentLogger() });
  const run = `${label}-${randomUUID().slice(0, 8)}`;
  const topics: Topics = {
    events: `scale.${run}.events`,
    repartition: `scale.${run}.repartition`,
    state: `scale.${run}.state`,
    detections: `scale.${run}.detections`,
    dlq: `scale.${run}.dlq`,
    sourceGroup: `scale-${run}-source`,
    correlationGroup: `scale-${run}-correlation`,
  };
  const admin = transport.admin();
  await admin.connect();
  // A broker that has just started may answer "does not host this topic-partition" for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.ensureTopics([{ topic: topics.events, partitions: EVENT_PARTITIONS }, { topic: topics.detections, partitions: 2 }, { topic: topics.dlq }]);
      await ensureCorrelationTopics(admin, { partitions: STATE_PARTITIONS, repartitionTopic: topics.repartition, stateTopic: topics.state });
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(1_000);
    }
  }
  await admin.close();

  const half = Math.floor(events.length / 2);
  const instances: Instance[] = [await startInstance(transport, topics)];
  let restores = 0;
  if (mode === 'single') {
    await produceEvents(transport, topics.events, events);
  } else {
    instances.push(await startInstance(transport, topics));
    await produceEvents(transport, topics.events, events.slice(0, half));
    await waitIdle(transport, topics, 60_000);
    // Mid-window: bursts and sprays of the second half are open. Kill instance 2, keep feeding.
    const victim = instances[1]!;
    const held = victim.correlation.heldPartitions();
    expect(held.length).toBeGreaterThan(0);
    const survivorRestoresBefore = instances[0]!.correlation.restores;
    await produceEvents(transport, topics.events, events.slice(half, half + 300));
    await victim.kill();
    instances.splice(1, 1);
    await produceEvents(transport, topics.events, events.slice(half + 300, half + 600));
    await waitIdle(transport, topics, 60_000);
    // The survivor took the victim's partitions over by restoring their state from the changelog.
    restores = instances[0]!.correlation.restores - survivorRestoresBefore;
    // Restart the killed instance; it takes partitions back and restores them.
    instances.push(await startInstance(transport, topics));
    await produceEvents(transport, topics.events, events.slice(half + 600));
  }
  const markers = transport.producer();
  await markers.connect();
  for (const { partition, event } of endMarkers()) await markers.send(topics.events, [{ key: eventKey(event), value: eventCodec.encode(event), partition }]);
  await markers.close();
  await waitIdle(transport, topics, 90_000);
  for (const instance of instances) await instance.close();
  const ids = await readDetections(transport, topics.detections);
  return { ids, restores };
}

describe('distributed correlation across instances and a crash', () => {
  const expected = expectedIds();
  const results = new Map<string, { ids: string[]; restores: number }>();

  afterAll(() => {
    // Figures for the report.
    for (const [label, r] of results) console.log(`${label}: ${r.ids.length} detection records, ${new Set(r.ids).size} distinct, takeover restores ${r.restores}`);
  });

  it('the reference engine finds detections of every kind in the event set', () => {
    expect(expected.length).toBeGreaterThanOrEqual(10);
  });

  it('one instance gives exactly the reference set, each once', async () => {
    const single = await scenario('single', 'single');
    results.set('single', single);
    expect([...single.ids].sort()).toEqual(expected);
  }, 120_000);

  it('two instances with a crash mid-window and a restart give exactly the same set', async () => {
    const two = await scenario('two', 'two-with-crash');
    results.set('two-with-crash', two);
    expect([...new Set(two.ids)].sort()).toEqual(expected);
    expect(two.restores).toBeGreaterThan(0);
  }, 180_000);
});
