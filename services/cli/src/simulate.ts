import { createSimulator, produceSimulation, type AttackSpec } from '@mamori/ingest';
import { TOPICS } from '@mamori/pipeline';
import { createTransport } from './adapters.ts';
import type { RuntimeConfig } from './config.ts';

export interface SimulateOptions {
  rate: number;
  durationS: number;
  seed: number;
  attacks: boolean;
  say: (line: string) => void;
}

/** The demo's attacks: a horizontal sweep early on, a vertical scan later, within `durationMs`. */
export function demoAttacks(durationMs: number): AttackSpec[] {
  const attacks: AttackSpec[] = [];
  if (durationMs >= 20_000) attacks.push({ kind: 'horizontal_scan', at: Math.min(10_000, durationMs / 4), targets: 80, ports: [445], durationMs: Math.min(20_000, durationMs / 3) });
  if (durationMs >= 30_000) attacks.push({ kind: 'vertical_scan', at: durationMs / 2, ports: 150, durationMs: Math.min(15_000, durationMs / 4) });
  return attacks;
}

/** `mamori simulate`: produce simulated Zeek conn logs to Kafka in real time. */
export async function runSimulate(config: RuntimeConfig, options: SimulateOptions): Promise<number> {
  const transport = await createTransport(config);
  const admin = transport.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: TOPICS.rawZeekConn, partitions: config.topicPartitions, ...(config.replicationFactor ? { replicationFactor: config.replicationFactor } : {}) }]);
  await admin.close();
  const producer = transport.producer({ clientId: 'mamori-simulate' });
  await producer.connect();
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const durationMs = options.durationS * 1000;
    const simulator = createSimulator({
      seed: options.seed,
      startTime: Date.now(),
      ratePerSecond: options.rate,
      durationMs,
      attacks: options.attacks ? demoAttacks(durationMs) : [],
    });
    if (options.attacks) options.say(`attack sources: ${simulator.attackSources.join(', ')}`);
    let lastReport = 0;
    const stats = await produceSimulation(producer, simulator, {
      topic: TOPICS.rawZeekConn,
      sensorId: 'sim-zeek-1',
      ratePerSecond: options.rate,
      signal: abort.signal,
      onProgress: (s) => {
        if (Date.now() - lastReport >= 5000) {
          lastReport = Date.now();
          options.say(`produced ${s.produced} records`);
        }
      },
    });
    options.say(`produced ${stats.produced} records to ${TOPICS.rawZeekConn}: ${JSON.stringify(stats.byLabel)}`);
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await producer.close();
  }
}
