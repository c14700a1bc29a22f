import { sleep } from '@mamori/core';
import type { Producer } from '@mamori/transport';
import { SENSOR_HEADERS } from './sensor-headers.ts';

export interface SimulatedRecord {
  line: string;
  sensorTime: number;
  label: string;
}

export interface ProduceSimulationOptions {
  topic: string;
  sensorId: string;
  /** Records per second of wall clock; 0 = as fast as Kafka takes them. */
  ratePerSecond: number;
  /** Records per Kafka send. @default 100 */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after each send with the totals so far. */
  onProgress?: (stats: SimulationStats) => void;
}

export interface SimulationStats {
  produced: number;
  byLabel: Record<string, number>;
}

/**
 * Produces simulated sensor lines to a raw topic, paced to a wall-clock rate, in batches, each
 * batch acknowledged by Kafka (acks=all) before the next. Returns what was produced per label.
 */
export async function produceSimulation(producer: Producer, records: Iterable<SimulatedRecord>, options: ProduceSimulationOptions): Promise<SimulationStats> {
  const batchSize = options.batchSize ?? 100;
  const stats: SimulationStats = { produced: 0, byLabel: {} };
  const started = Date.now();
  let batch: SimulatedRecord[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await producer.send(
      options.topic,
      batch.map((r) => ({
        key: options.sensorId,
        value: r.line,
        timestamp: Date.now(),
        headers: { [SENSOR_HEADERS.sensorId]: options.sensorId, [SENSOR_HEADERS.format]: 'zeek.conn' },
      })),
    );
    for (const r of batch) stats.byLabel[r.label] = (stats.byLabel[r.label] ?? 0) + 1;
    stats.produced += batch.length;
    batch = [];
    options.onProgress?.(stats);
    if (options.ratePerSecond > 0) {
      const due = started + (stats.produced / options.ratePerSecond) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, options.signal);
    }
  };
  for (const record of records) {
    if (options.signal?.aborted) break;
    batch.push(record);
    if (batch.length >= batchSize) await flush();
  }
  if (!options.signal?.aborted) await flush();
  return stats;
}
