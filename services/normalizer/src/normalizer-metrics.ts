import { Counter, type Registry } from '@mamori/metrics';

/** Normalizer-specific counters; labels are bounded (topic from config, outcome and result fixed sets). */
export interface NormalizerMetrics {
  /**
   * Raw records by outcome: `normalized` (every line became an event) or `dead_lettered` (the record
   * went to the DLQ; its good lines, if any, still became events). Per topic, the two add up to
   * `mamori_records_received_total{stage="normalizer"}`.
   */
  readonly records: Counter<'topic' | 'outcome'>;
  /** Inventory file reloads by result (`ok`, `failed`: the old inventory stayed in use). */
  readonly inventoryReloads: Counter<'result'>;
}

const cache = new WeakMap<Registry, NormalizerMetrics>();

export function normalizerMetrics(registry: Registry): NormalizerMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: NormalizerMetrics = {
    records: new Counter({
      name: 'mamori_normalizer_records_total',
      help: 'Raw records the normalizer handled, by outcome (normalized, dead_lettered).',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    inventoryReloads: new Counter({
      name: 'mamori_inventory_reloads_total',
      help: 'Reloads of the inventory file, by result (ok, failed; on failure the previous inventory stays in use).',
      labelNames: ['result'],
      registers,
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
