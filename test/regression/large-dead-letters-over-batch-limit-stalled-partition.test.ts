import { createTransport, loadRuntimeConfig } from '@mamori/cli';
import { silentLogger } from '@mamori/core';
import { EventCodec } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { buildNormalizer, formatForTopic, loadNormalizerConfig } from '@mamori/normalizer';
import { StageRunner, TOPICS, readDeadLetter } from '@mamori/pipeline';
import type { Producer, Transport } from '@mamori/transport';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropTopics, readTopic } from '../harness/index.ts';

/**
 * Regression: a consumed batch of bad raw records from one sensor (up to the consumer's 1 MiB fetch per
 * partition) was dead-lettered in one produce request to one partition of the dead-letter topic; with
 * the dead-letter headers added it passed the broker's 1 MiB record batch limit, the broker refused it
 * (kafkajs sends a call's records for a partition as one batch), the batch failed on every retry and
 * the raw partition stalled with nothing dead-lettered. Every topic keeps the broker's default limits.
 */
const brokers = inject('kafkaBrokers');
const RUN = `${Date.now()}`;
const RAW = `bigdlq.raw.${RUN}`;
const EVENTS = `bigdlq.events.${RUN}`;
const DLQ = `bigdlq.dlq.${RUN}`;
const RECORD_BYTES = 1700;
const COUNT = 600;

let transport: Transport;
let producer: Producer;
let runner: StageRunner;

describe('dead letters larger together than one produce request', () => {
  beforeAll(async () => {
    const env = { KAFKA_BROKERS: brokers, MAMORI_ALLOW_UNREGISTERED_SENSORS: 'true' };
    transport = await createTransport(loadRuntimeConfig(env), silentLogger());
    const admin = transport.admin();
    await admin.connect();
    await admin.ensureTopics([{ topic: RAW, partitions: 1 }, { topic: EVENTS, partitions: 1 }, { topic: DLQ, partitions: 1 }]);
    await admin.close();
    producer = transport.producer({ clientId: 'bigdlq' });
    await producer.connect();
    for (let i = 0; i < COUNT; i += 100) {
      await producer.send(RAW, Array.from({ length: 100 }, (_, j) => ({ key: 'sensor-a', value: Buffer.alloc(RECORD_BYTES, 0x41 + ((i + j) % 26)), headers: { 'mamori.sensor_id': 'sensor-a' } })));
    }
    const zeekConn = formatForTopic(TOPICS.rawZeekConn)!;
    const stage = buildNormalizer({ ...loadNormalizerConfig(env), rawTopics: [RAW], eventsTopic: EVENTS }, { eventCodec: new EventCodec(), defaultOrg: 'org', formatForTopic: (t) => (t === RAW ? zeekConn : undefined) });
    runner = new StageRunner({ stage, transport, producer, registry: createRegistry(), logger: silentLogger(), groupId: `bigdlq-${RUN}`, deadLetterTopic: DLQ, maxBatchSize: 1000 });
    await runner.start();
  }, 120_000);

  afterAll(async () => {
    await runner?.close(10_000);
    await producer?.close();
    await dropTopics(transport, [RAW, EVENTS, DLQ]);
  });

  it('dead-letters every record with its original bytes and moves on', async () => {
    const letters = (await readTopic(transport, DLQ, COUNT, { timeoutMs: 60_000, settleMs: 0 })).map(readDeadLetter);
    expect(letters.map((l) => [l.code, l.value?.length, l.value?.[0]])).toEqual(Array.from({ length: COUNT }, (_, i) => ['PARSE_FAILED', RECORD_BYTES, 0x41 + (i % 26)]));
  }, 90_000);
});
