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
  /** Runs per adapter, alternating the adapters; each cell shows every run and the median in bold. @default 3 (env BENCH_TRANSPORT_RUNS) */
  runs?: number;
}

interface Result {
  adapter: string;
  produce100: number;
  produce1000: number;
  consume: number;
  consumeBatches: number;
  /** Process CPU-seconds (all threads: librdkafka's included) over both produce phases and the consume. */
  cpuSeconds: number;
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
    const cpu0 = process.cpuUsage();
    const value = randomBytes(100).toString('hex'); // 200 bytes
    const messages: OutgoingMessage[] = Array.from({ length: count }, (_, i) => ({ key: `host-${i % 1024}`, value }));
    const produce100 = await produceRate(transport, topic, messages, 100);
    const produce1000 = await produceRate(transport, topic, messages, 1000);
    const consumed = await consumeRate(transport, topic, 2 * count);
    const cpu = process.cpuUsage(cpu0);
    return { adapter: name, produce100, produce1000, consume: consumed.rate, consumeBatches: consumed.batches, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await admin.deleteTopics([topic]).catch(() => undefined);
    await admin.close();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "a / b / **median**": every run in order, the median (or the run nearest it, for an even count) in bold. */
function cell(values: readonly number[], show: (n: number) => string = fmt): string {
  const m = median(values);
  let best = 0;
  values.forEach((v, i) => {
    if (Math.abs(v - m) < Math.abs(values[best]! - m)) best = i;
  });
  return values.map((v, i) => (i === best ? `**${show(v)}**` : show(v))).join(' / ');
}

/** Median of one field of an adapter's runs (for conclusions drawn by the caller). */
export interface TransportMedians {
  adapter: string;
  produce100: number;
  produce1000: number;
  consume: number;
}

/** Runs the benchmark for both adapters and returns a markdown table (and the medians). */
export async function benchTransportDetailed(brokers: string[], options: TransportBenchOptions = {}): Promise<{ markdown: string; medians: TransportMedians[] }> {
  const count = options.messages ?? Number(process.env['BENCH_TRANSPORT_MESSAGES'] ?? 200_000);
  const partitions = options.partitions ?? 3;
  const runs = options.runs ?? Number(process.env['BENCH_TRANSPORT_RUNS'] ?? 3);
  const adapters = [
    { name: 'kafkajs', label: 'kafkajs', create: () => createKafkajsTransport({ brokers, clientId: 'bench' }) },
    { name: 'rdkafka', label: 'node-rdkafka', create: () => createRdkafkaTransport({ brokers, clientId: 'bench' }) },
  ];
  const results = new Map<string, Result[]>(adapters.map((a) => [a.name, []]));
  for (let run = 0; run < runs; run++) {
    // Alternate which adapter goes first, so a burst of load elsewhere does not always hit the same one.
    const order = run % 2 === 0 ? adapters : [...adapters].reverse();
    for (const a of order) results.get(a.name)!.push(await benchAdapter(a.name, a.create(), count, partitions));
  }
  const medians: TransportMedians[] = adapters.map((a) => {
    const rs = results.get(a.name)!;
    return { adapter: a.label, produce100: median(rs.map((r) => r.produce100)), produce1000: median(rs.map((r) => r.produce1000)), consume: median(rs.map((r) => r.consume)) };
  });
  const lines = [
    `${fmt(count)} records of 200 bytes per produce phase, ${partitions} partitions, acks=all + idempotence; consume reads all ${fmt(2 * count)} with maxBatchSize 1000 and a commit per batch. ` +
      `${runs} runs per adapter (adapters alternating), every run shown, median in bold. CPU: this process's CPU-seconds for the whole run (both produce phases and the consume; librdkafka's threads included).`,
    '',
    '| Adapter | Produce, 100 per send (msg/s) | Produce, 1000 per send (msg/s) | Consume + commit per batch (msg/s) | Client CPU-seconds |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...adapters.map((a) => {
      const rs = results.get(a.name)!;
      return `| ${a.label} | ${cell(rs.map((r) => r.produce100))} | ${cell(rs.map((r) => r.produce1000))} | ${cell(rs.map((r) => r.consume))} | ${cell(rs.map((r) => r.cpuSeconds), (n) => n.toFixed(1))} |`;
    }),
  ];
  return { markdown: lines.join('\n'), medians };
}

/** Runs the benchmark for both adapters and returns a markdown table. */
export async function benchTransport(brokers: string[], options: TransportBenchOptions = {}): Promise<string> {
  return (await benchTransportDetailed(brokers, options)).markdown;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  console.log(await benchTransport(brokers));
}
