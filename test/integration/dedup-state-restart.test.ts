import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { DetectionCodec, EventCodec, eventKey, type MamoriDetection, type MamoriEvent } from '@mamori/events';
import { IndicatorIndex } from '@mamori/intel';
import { createRegistry } from '@mamori/metrics';
import { StageRunner } from '@mamori/pipeline';
import type { Transport } from '@mamori/transport';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { IntelMatchAnalytic, INTEL_MATCH_RULE_ID } from '../../services/detector/src/analytics/intel.ts';
import { DEFAULT_SIGMA_ANALYTIC_CONFIG, SigmaAnalytic, SigmaRulePacks } from '../../services/detector/src/analytics/sigma.ts';
import { DetectorStage } from '../../services/detector/src/detector-stage.ts';
import { AnalyticsChangelog } from '../../services/detector/src/state/analytics-changelog.ts';

/**
 * Threat-intel deduplication and Sigma suppression survive a detector restart (issue #4). One
 * connection from an internal host to a listed address that a Sigma rule also matches (rejected
 * connection) goes through a detector on the real broker; the detector is stopped and a new one (new
 * process state, same consumer group and changelog) takes over; a second such connection 90 s later
 * in event time must update the open intel detection and the open Sigma detection (same ids,
 * count 2), not open second ones. The first detector's partition also goes idle (wall clock) between
 * the hits, which must not end them either. Before the dedup state went to the analytics changelog,
 * the new detector opened a new detection for each; before idle closing kept it, so did the lull.
 */
const brokers = inject('kafkaBrokers');
const T0 = Date.UTC(2026, 3, 1, 12, 0, 0);
const SIGMA_RULE = '0c6d4d7e-0000-4000-8000-0000000000d1';
const eventCodec = new EventCodec();
const detectionCodec = new DetectionCodec();
const rulesDir = mkdtempSync(join(tmpdir(), 'mamori-dedup-restart-'));
writeFileSync(
  join(rulesDir, 'rejected.yml'),
  `title: Rejected connection\nid: ${SIGMA_RULE}\nstatus: test\nlevel: low\nlogsource: {product: zeek, service: conn}\ndetection:\n  sel: {conn_state: REJ}\n  condition: sel\n`,
);
const index = new IndicatorIndex();
index.add({ kind: 'ip', value: '198.51.100.66', source: 'feed', id: 'ip:198.51.100.66', confidence: 90, validFrom: 0, validUntil: Infinity });

const run = randomUUID().slice(0, 8);
const topics = { events: `dedup.${run}.events`, detections: `dedup.${run}.detections`, state: `dedup.${run}.state`, dlq: `dedup.${run}.dlq`, group: `dedup-${run}` };
const transport: Transport = createKafkajsTransport({ brokers: brokers.split(','), clientId: 'dedup-restart', logger: silentLogger() });
const packs = new SigmaRulePacks([rulesDir]);
const runners: StageRunner[] = [];

afterAll(async () => {
  for (const r of runners) await r.close(5_000).catch(() => undefined);
  rmSync(rulesDir, { recursive: true, force: true });
});

function hit(n: number, time: number): MamoriEvent {
  return {
    event_id: `dedup-${n}`, event_class: 'network_activity', time, ingest_time: time, org_id: 'org-d', sensor_id: 's1', source_format: 'zeek.conn',
    src_ip: '10.0.0.5', src_port: 40000 + n, dst_ip: '198.51.100.66', dst_port: 443, protocol: 'tcp', bytes_out: 0, bytes_in: 0, packets_out: 1, packets_in: 0,
    duration_ms: 0, conn_state: 'REJ', community_id: null, raw: { topic: 'raw', partition: 0, offset: n }, attributes: {},
  };
}

/** A detector instance: a fresh stage (intel and Sigma only) and runner in the shared group, with the analytics changelog. */
async function startDetector(): Promise<StageRunner> {
  const producer = transport.producer({ clientId: 'dedup-detector' });
  await producer.connect();
  const stage = new DetectorStage({
    eventsTopic: topics.events,
    detectionsTopic: topics.detections,
    analytics: [new IntelMatchAnalytic(() => index), new SigmaAnalytic(packs, DEFAULT_SIGMA_ANALYTIC_CONFIG)],
    codecs: { decodeEvent: (b) => eventCodec.decode(b), encodeDetection: (d) => detectionCodec.encode(d) },
    registry: createRegistry(),
    allowedLatenessMs: 5_000,
    // Short, so the first detector's partition goes idle between the hits: idle closing must not end the dedup either.
    idleCloseMs: 1_000,
    changelog: new AnalyticsChangelog({ transport, producer, topic: topics.state, groupPrefix: topics.group }),
  });
  const runner = new StageRunner({ stage, transport, producer, registry: createRegistry(), logger: silentLogger(), groupId: topics.group, deadLetterTopic: topics.dlq, maxWaitMs: 50, tickIntervalMs: 200, sessionTimeoutMs: 6_000 });
  await runner.start();
  runners.push(runner);
  const close = runner.close.bind(runner);
  runner.close = async (timeoutMs?: number) => {
    await close(timeoutMs);
    await producer.close();
  };
  return runner;
}

async function send(event: MamoriEvent): Promise<void> {
  const producer = transport.producer({ clientId: 'dedup-sensor' });
  await producer.connect();
  await producer.send(topics.events, [{ key: eventKey(event), value: eventCodec.encode(event) }]);
  await producer.close();
}

async function readDetections(atLeast: number, timeoutMs: number): Promise<MamoriDetection[]> {
  const out: MamoriDetection[] = [];
  const consumer = transport.consumer({ groupId: `dedup-read-${randomUUID()}`, topics: [topics.detections], fromBeginning: true, maxWaitMs: 50 });
  await consumer.connect();
  await consumer.run(async (batch) => {
    for (const m of batch.messages) out.push(detectionCodec.decode(m.value!));
  });
  const deadline = Date.now() + timeoutMs;
  while (out.length < atLeast && Date.now() < deadline) await sleep(100);
  // Anything more (a second detection would arrive with the update) has time to show up.
  await sleep(1_000);
  await consumer.close(5_000);
  return out;
}

describe('deduplication state across a detector restart', () => {
  it('a repeated intel hit and a repeated Sigma match after the restart update the open detections', async () => {
    const admin = transport.admin();
    await admin.connect();
    await admin.ensureTopics([{ topic: topics.events, partitions: 2 }, { topic: topics.detections }, { topic: topics.dlq }]);
    await admin.close();

    const first = await startDetector();
    await send(hit(1, T0));
    const before = await readDetections(2, 45_000);
    expect(before.map((d) => [d.rule_id, d.count]).sort()).toEqual([[INTEL_MATCH_RULE_ID, 1], [`sigma:${SIGMA_RULE}`, 1]]);
    // A wall-clock lull longer than the idle close before the restart.
    await sleep(2_500);
    await first.close(10_000);

    await startDetector();
    await send(hit(2, T0 + 90_000));
    const all = await readDetections(4, 60_000);
    for (const rule of [INTEL_MATCH_RULE_ID, `sigma:${SIGMA_RULE}`]) {
      const records = all.filter((d) => d.rule_id === rule);
      // One detection, reported twice: opened by the first detector, updated by the second.
      expect(new Set(records.map((d) => d.detection_id)).size).toBe(1);
      expect(records.map((d) => d.count)).toEqual([1, 2]);
      expect(records[1]!.evidence.map((e) => e.event_id)).toEqual(['dedup-1', 'dedup-2']);
      expect(records[1]).toMatchObject({ first_seen: T0, last_seen: T0 + 90_000 });
    }
  }, 180_000);
});
