import { Counter, Gauge, type Registry } from '@mamori/metrics';

/**
 * Counters of the sensor entry points. `source` is the entry point (`http`, `syslog_udp`,
 * `syslog_tcp`), `result` one of `accepted` (produced and acknowledged), `rejected` (dead-lettered
 * with a reason) or `dropped` (lost under backpressure or a failed send); `status` is an HTTP status.
 */
export interface IngestMetrics {
  readonly records: Counter<'source' | 'result'>;
  readonly requests: Counter<'status'>;
  readonly connections: Gauge<'source'>;
  readonly connectionsRejected: Counter<'source'>;
}

const cache = new WeakMap<Registry, IngestMetrics>();

export function ingestMetrics(registry: Registry): IngestMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: IngestMetrics = {
    records: new Counter({ name: 'mamori_ingest_records_total', help: 'Records received by a sensor entry point, by outcome.', labelNames: ['source', 'result'], registers }),
    requests: new Counter({ name: 'mamori_ingest_requests_total', help: 'HTTP bulk ingest requests by response status.', labelNames: ['status'], registers }),
    connections: new Gauge({ name: 'mamori_ingest_connections', help: 'Open sensor connections (syslog TCP).', labelNames: ['source'], registers }),
    connectionsRejected: new Counter({ name: 'mamori_ingest_connections_rejected_total', help: 'Connections refused because the connection bound was reached.', labelNames: ['source'], registers }),
  };
  cache.set(registry, metrics);
  return metrics;
}
