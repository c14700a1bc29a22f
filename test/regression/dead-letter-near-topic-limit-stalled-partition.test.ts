import { createHash } from 'node:crypto';
import { createTransport, loadRuntimeConfig } from '@mamori/cli';
import { silentLogger } from '@mamori/core';
import { EventCodec } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { buildNormalizer, formatForTopic, loadNormalizerConfig } from '@mamori/normalizer';
import { DLQ_HEADERS, StageRunner, TOPICS, deadLetterTopicSpec, readDeadLetter } from '@mamori/pipeline';
import type { Producer, Transport } from '@mamori/transport';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropTopics, readTopic } from '../harness/index.ts';

/**
 * Regression: a raw record close to the broker's default record limit (1 MiB) could not be
 * dead-lettered: the dead letter (the record plus ~2 KB of `mamori.dlq.*` headers) was over the
 * dead-letter topic's limit, the broker refused it on every retry, and the raw partition stalled.
 * Now Mamori creates the dead-letter topic with room for it (deadLetterTopicSpec, 8 MiB), and a
 * stage whose dead-letter topic is smaller (pre-created with the default) cuts the dead letter to fit,
 * with the original length and SHA-256, and moves on.
 */
const brokers = inject('kafkaBrokers');
const RUN = `${Date.now()}`;
const RAW = `neardlq.raw.${RUN}`;
const BIG_DLQ = `neardlq.dlq-big.${RUN}`;
const SMALL_DLQ = `neardlq.dlq-default.${RUN}`;
// Under the raw topic's limit (1,048,588 bytes a batch) with its key and header; over it with the dead-letter headers.
const RECORD_BYTES = 1_048_300;
const GOOD =
  '{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":40000,"id.resp_h":"93.184.216.34","id.resp_p":443,"proto":"tcp","conn_state":"SF","orig_bytes":10,"resp_bytes":20}';

let transport: Transport;
let producer: Producer;
const runners: StageRunner[] = [];
const original = Buffer.from(Array.from({ length: RECORD_BYTES }, (_, i) => 0x41 + (i % 26)));

async function runNormalizer(name: string, dlq: string, deadLetterMaxBytes: number | undefined): Promise<string> {
  const events = `neardlq.events-${name}.${RUN}`;
  const admin = transport.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: events, partitions: 1 }]);
  await admin.close();
  const env = { KAFKA_BROKERS: brokers, MAMORI_ALLOW_UNREGISTERED_SENSORS: 'true' };
  const zeekConn = formatForTopic(TOPICS.rawZeekConn)!;
  const stage = buildNormalizer({ ...loadNormalizerConfig(env), rawTopics: [RAW], eventsTopic: events }, { eventCodec: new EventCodec(), defaultOrg: 'org', formatForTopic: (t) => (t === RAW ? zeekConn : undefined) });
  const runner = new StageRunner({ stage, transport, producer, registry: createRegistry(), logger: silentLogger(), groupId: `neardlq-${name}-${RUN}`, deadLetterTopic: dlq, ...(deadLetterMaxBytes ? { deadLetterMaxBytes } : {}) });
  runners.push(runner);
  await runner.start();
  return events;
}

const readAll = (topic: string, want: number) => readTopic(transport, topic, want, { timeoutMs: 60_000, settleMs: 0 });

describe('a raw record near the broker limit, dead-lettered', () => {
  beforeAll(async () => {
    transport = await createTransport(loadRuntimeConfig({ KAFKA_BROKERS: brokers }), silentLogger());
    const admin = transport.admin();
    await admin.connect();
    // The raw topic and the small dead-letter topic keep the broker's defaults.
    await admin.ensureTopics([{ topic: RAW, partitions: 1 }, { ...deadLetterTopicSpec(undefined, BIG_DLQ), partitions: 1 }, { topic: SMALL_DLQ, partitions: 1 }]);
    await admin.close();
    producer = transport.producer({ clientId: 'neardlq' });
    await producer.connect();
    await producer.send(RAW, [{ key: 'sensor-a', value: original, headers: { 'mamori.sensor_id': 'sensor-a' } }]);
    await producer.send(RAW, [{ key: 'sensor-a', value: GOOD, headers: { 'mamori.sensor_id': 'sensor-a' } }]);
  }, 120_000);

  afterAll(async () => {
    for (const r of runners) await r.close(10_000);
    await producer?.close();
    await dropTopics(transport, [RAW, BIG_DLQ, SMALL_DLQ, `neardlq.events-big.${RUN}`, `neardlq.events-small.${RUN}`]);
  });

  it('arrives whole on a dead-letter topic created as Mamori creates it, and the next record goes on', async () => {
    const events = await runNormalizer('big', BIG_DLQ, undefined);
    const [letter] = (await readAll(BIG_DLQ, 1)).map(readDeadLetter);
    expect(letter).toMatchObject({ code: 'PARSE_FAILED', sourceTopic: RAW, sourceOffset: '0' });
    expect(letter!.value?.equals(original)).toBe(true);
    expect(await readAll(events, 1)).toHaveLength(1);
  }, 90_000);

  it('arrives cut to fit, with its length and SHA-256, on a topic with the default limit, and the next record goes on', async () => {
    const events = await runNormalizer('small', SMALL_DLQ, 1_048_576);
    const [raw] = await readAll(SMALL_DLQ, 1);
    expect(raw).toBeDefined();
    const letter = readDeadLetter(raw!);
    expect(letter).toMatchObject({ code: 'PARSE_FAILED', sourceTopic: RAW, sourceOffset: '0' });
    expect(raw!.headers[DLQ_HEADERS.valueBytes]?.toString()).toBe(String(RECORD_BYTES));
    expect(raw!.headers[DLQ_HEADERS.valueSha256]?.toString()).toBe(createHash('sha256').update(original).digest('hex'));
    expect(letter.value!.length).toBeLessThan(RECORD_BYTES);
    expect(letter.value!.equals(original.subarray(0, letter.value!.length))).toBe(true);
    expect(await readAll(events, 1)).toHaveLength(1);
  }, 90_000);
});
