/**
 * Transport benchmark: produce and consume rates of both adapters against one broker.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 pnpm exec tsx test/bench/transport.ts
 *
 * Produce: 200-byte values, keyed, acks=all + idempotence, sends of 100 and of 1000 records, each
 * send awaited before the next (the way a stage forwards a batch before committing its input).
 * Consume: a fresh group reads everything through the Consumer interface, committing per batch.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { OutgoingMessage, Transport } from '@mamori/transport';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { createRdkafkaTransport } from '@mamori/transport-rdkafka';

export interface TransportBenchOptions {
  /** Records per produce phase. @default 200000 (env BENCH_TRANSPORT_MESSAGES) */
  messages?: number;
  /** @default 3 */
  partitions?: number;
}

interface Result {
  adapter: string;
  produce100: number;
  produce1000: number;
  consume: number;
  consumeBatches: number;
}

async function produceRate(transport: Transport, topic: string, messages: readonly OutgoingMessage[], perSend: number): Promise<number> {
  const producer = transport.producer({ clientId: 'bench', lingerMs: 5 });
  await producer.connect();
  const started = performance.now();
  for (let i = 0; i < messages.length; i += perSend) await producer.send(topic, messages.slice(i, i + perSend));
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return messages.length / seconds;
}

async function consumeRate(transport: Transport, topic: string, expected: number): Promise<{ rate: number; batches: number }> {
  const consumer = transport.consumer({ groupId: `bench-${randomBytes(4).toString('hex')}`, topics: [topic], maxBatchSize: 1000, maxWaitMs: 100 });
  await consumer.connect();
  let seen = 0;
  let batches = 0;
  let started = 0;
  let finished = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run(async (batch) => {
      if (started === 0) started = performance.now();
      seen += batch.messages.length;
      batches += 1;
      if (seen >= expected && finished === 0) {
        finished = performance.now();
        resolve();
      }
    });
  });
  await done;
  await consumer.close();
  // Timed from the first delivered batch: group join and the first fetch are not throughput.
  return { rate: expected / ((finished - started) / 1000), batches };
}

async function benchAdapter(name: string, transport: Transport, count: number, partitions: number): Promise<Result> {
  const admin = transport.admin();
  await admin.connect();
  const topic = `bench-transport-${name}-${randomBytes(4).toString('hex')}`;
  await admin.ensureTopics([{ topic, partitions, replicationFactor: 1 }]);
  try {
    const value = randomBytes(100).toString('hex'); // 200 bytes
    const messages: OutgoingMessage[] = Array.from({ length: count }, (_, i) => ({ key: `host-${i % 1024}`, value }));
    const produce100 = await produceRate(transport, topic, messages, 100);
    const produce1000 = await produceRate(transport, topic, messages, 1000);
    const consumed = await consumeRate(transport, topic, 2 * count);
    return { adapter: name, produce100, produce1000, consume: consumed.rate, consumeBatches: consumed.batches };
  } finally {
    await admin.deleteTopics([topic]).catch(() => undefined);
    await admin.close();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Runs the benchmark for both adapters and returns a markdown table. */
export async function benchTransport(brokers: string[], options: TransportBenchOptions = {}): Promise<string> {
  const count = options.messages ?? Number(process.env['BENCH_TRANSPORT_MESSAGES'] ?? 200_000);
  const partitions = options.partitions ?? 3;
  const results: Result[] = [];
  results.push(await benchAdapter('kafkajs', createKafkajsTransport({ brokers, clientId: 'bench' }), count, partitions));
  results.push(await benchAdapter('rdkafka', createRdkafkaTransport({ brokers, clientId: 'bench' }), count, partitions));
  const lines = [
    `${fmt(count)} records of 200 bytes per produce phase, ${partitions} partitions, acks=all + idempotence; consume reads all ${fmt(2 * count)} with maxBatchSize 1000 and a commit per batch.`,
    '',
    '| Adapter | Produce, 100 per send (msg/s) | Produce, 1000 per send (msg/s) | Consume + commit per batch (msg/s) | Batches |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.adapter} | ${fmt(r.produce100)} | ${fmt(r.produce1000)} | ${fmt(r.consume)} | ${fmt(r.consumeBatches)} |`),
  ];
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  console.log(await benchTransport(brokers));
}
