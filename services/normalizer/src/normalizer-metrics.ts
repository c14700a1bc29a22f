import { Counter, Gauge, type Registry } from '@mamori/metrics';

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
  /** Records that a sensor delivered `events` events now (wall clock): flow per sensor and the silent-sensor alert. */
  sensorSeen(sensorId: string, orgId: string, events?: number): void;
}

/**
 * Sensors get one series each; registered sensors are bounded by the inventory. Past this many
 * (unregistered sensors allowed and an unbounded set of ids arriving), the rest share `_other`.
 */
const MAX_SENSOR_SERIES = 10_000;

const cache = new WeakMap<Registry, NormalizerMetrics>();

export function normalizerMetrics(registry: Registry): NormalizerMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const sensorKeys = new Set<string>();
  const lastSeen = new Gauge({
    name: 'mamori_sensor_last_seen_timestamp_seconds',
    help: 'When the normalizer last received data from a sensor that became events (Unix seconds, wall clock).',
    labelNames: ['sensor_id', 'org_id'],
    registers,
  });
  const sensorEvents = new Counter({
    name: 'mamori_sensor_events_total',
    help: 'Events normalized per sensor (flow per sensor; same bounded series as the last-seen gauge).',
    labelNames: ['sensor_id', 'org_id'],
    registers,
  });
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
    sensorSeen(sensorId, orgId, events = 1) {
      const key = `${orgId}\u0000${sensorId}`;
      let labels = { sensor_id: sensorId, org_id: orgId };
      if (!sensorKeys.has(key)) {
        if (sensorKeys.size >= MAX_SENSOR_SERIES) labels = { sensor_id: '_other', org_id: '_other' };
        else sensorKeys.add(key);
      }
      lastSeen.set(labels, Date.now() / 1000);
      sensorEvents.inc(labels, events);
    },
  };
  cache.set(registry, metrics);
  return metrics;
}
