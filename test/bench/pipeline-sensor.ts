/**
 * The sensor of the pipeline benchmark, run as its own process (`fork`): it produces one run's
 * simulated Zeek conn records to the raw topic, so that its Kafka client work (record encoding,
 * CRC, sends) is not counted as Mamori's CPU. Takes the run as one JSON argument; builds the lines
 * and connects first, says `ready`, produces on `go`, then reports its CPU-seconds over IPC.
 */
import { createSimulator, produceSimulation } from '@mamori/ingest';
import { TOPICS } from '@mamori/pipeline';
import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { BENCH_ATTACKS } from './inputs.ts';

interface Run {
  brokers: string[];
  sensorId: string;
  seed: string;
  startTime: number;
  count: number;
}

const run = JSON.parse(process.argv[2] ?? '{}') as Run;
const lines = [...createSimulator({ seed: run.seed, startTime: run.startTime, ratePerSecond: 200, count: run.count, attacks: BENCH_ATTACKS })];
const producer = createKafkajsTransport({ brokers: run.brokers, clientId: 'bench-sensor' }).producer();
await producer.connect();
process.once('message', async () => {
  const cpu0 = process.cpuUsage();
  await produceSimulation(producer, lines, { topic: TOPICS.rawZeekConn, sensorId: run.sensorId, ratePerSecond: 0, batchSize: 1000 });
  const cpu = process.cpuUsage(cpu0);
  await producer.close();
  process.send?.({ cpuSeconds: (cpu.user + cpu.system) / 1e6 }, () => process.exit(0));
});
process.send?.('ready');
