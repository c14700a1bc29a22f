import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * The counters every pipeline stage keeps. Labels are bounded: `stage` is one of the service
 * names, `topic` is from config, `error_code` from the error catalog (docs/errors.md).
 */
export interface StageMetrics {
  readonly received: Counter<'stage' | 'topic'>;
  readonly emitted: Counter<'stage' | 'topic'>;
  readonly deadLettered: Counter<'stage' | 'topic' | 'error_code'>;
  readonly deadLettersCut: Counter<'stage'>;
  readonly receivedBytes: Counter<'stage' | 'topic'>;
  readonly batchSize: Histogram<'stage'>;
  readonly batchDuration: Histogram<'stage'>;
  readonly batchFailures: Counter<'stage' | 'error_code'>;
}

const cache = new WeakMap<Registry, StageMetrics>();

/** Registers (once per registry) and returns the stage metrics. */
export function stageMetrics(registry: Registry): StageMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: StageMetrics = {
    received: new Counter({
      name: 'mamori_records_received_total',
      help: 'Records consumed by a stage, per input topic.',
      labelNames: ['stage', 'topic'],
      registers,
    }),
    emitted: new Counter({
      name: 'mamori_records_emitted_total',
      help: 'Records a stage handed to the next stage (topic or table), per output.',
      labelNames: ['stage', 'topic'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'mamori_records_dead_lettered_total',
      help: 'Records sent to the dead-letter topic, per input topic and error code.',
      labelNames: ['stage', 'topic', 'error_code'],
      registers,
    }),
    deadLettersCut: new Counter({
      name: 'mamori_dead_letters_cut_total',
      help: 'Dead letters cut to fit the dead-letter topic (value shortened; original length and SHA-256 in headers).',
      labelNames: ['stage'],
      registers,
    }),
    receivedBytes: new Counter({
      name: 'mamori_received_bytes_total',
      help: 'Bytes of record values consumed by a stage.',
      labelNames: ['stage', 'topic'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'mamori_batch_records',
      help: 'Records per batch handled by a stage.',
      labelNames: ['stage'],
      buckets: [1, 10, 100, 500, 1000, 5000, 10000, 50000],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'mamori_batch_duration_seconds',
      help: 'Time to handle one batch, from receipt to the next stage holding the output.',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    batchFailures: new Counter({
      name: 'mamori_batch_failures_total',
      help: 'Batches that failed as a whole and will be redelivered (e.g. next stage unavailable).',
      labelNames: ['stage', 'error_code'],
      registers,
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
