import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';

export interface WriterConfig {
  eventsTopic: string;
  detectionsTopic: string;
  /** WRITER_MAX_BATCH_RECORDS: most records per consumed batch (one handler call). @default 10000 */
  maxBatchRecords: number;
  /**
   * WRITER_BATCH_ROWS: a flush starts as soon as this many rows are buffered (across consumed
   * batches and partitions). @default 50000
   */
  batchRows: number;
  /** WRITER_FLUSH_INTERVAL_MS: the longest a buffered row waits for its flush. @default 1000 */
  flushIntervalMs: number;
  /**
   * WRITER_FLUSH_IDLE_MS: flush early when no batch arrived for this long (0: only size and
   * interval). @default 25
   */
  flushIdleMs: number;
  /** WRITER_RETRY_INITIAL_MS: first back-off after a failed insert; doubles per attempt. @default 250 */
  retryInitialMs: number;
  /** WRITER_RETRY_MAX_MS: cap of the back-off between insert attempts. @default 30000 */
  retryMaxMs: number;
  /** WRITER_EVENT_RETENTION_DAYS: days events are kept (classes not in the per-class list). @default 90 */
  eventRetentionDays: number;
  /**
   * WRITER_EVENT_RETENTION_BY_CLASS: `class=days` pairs, comma separated, e.g.
   * `network_activity=30,dns_activity=180`. @default none
   */
  eventRetentionByClass: Readonly<Record<string, number>>;
}

export function loadWriterConfig(env: Env): Readonly<WriterConfig> {
  const r = new EnvReader(env);
  const byClass: Record<string, number> = {};
  for (const pair of r.list('WRITER_EVENT_RETENTION_BY_CLASS', [])) {
    const m = /^([A-Za-z0-9_.-]{1,64})=(\d{1,4})$/.exec(pair.trim());
    const days = m === null ? Number.NaN : Number(m[2]);
    if (m === null || !(days >= 1 && days <= 3650)) {
      r.problem(`WRITER_EVENT_RETENTION_BY_CLASS: ${JSON.stringify(pair)} is not class=days (days 1-3650), e.g. network_activity=30`);
      continue;
    }
    byClass[m[1]!] = days;
  }
  const retryInitialMs = r.integer('WRITER_RETRY_INITIAL_MS', 250, { min: 1, max: 60_000 });
  const retryMaxMs = r.integer('WRITER_RETRY_MAX_MS', 30_000, { min: 1, max: 600_000 });
  if (retryMaxMs < retryInitialMs) r.problem('WRITER_RETRY_MAX_MS must be at least WRITER_RETRY_INITIAL_MS');
  return r.done({
    eventsTopic: r.string('MAMORI_TOPIC_EVENTS', TOPICS.events),
    detectionsTopic: r.string('MAMORI_TOPIC_DETECTIONS', TOPICS.detections),
    maxBatchRecords: r.integer('WRITER_MAX_BATCH_RECORDS', 10_000, { min: 1, max: 1_000_000 }),
    batchRows: r.integer('WRITER_BATCH_ROWS', 50_000, { min: 1, max: 1_000_000 }),
    flushIntervalMs: r.integer('WRITER_FLUSH_INTERVAL_MS', 1000, { min: 1, max: 60_000 }),
    flushIdleMs: r.integer('WRITER_FLUSH_IDLE_MS', 25, { min: 0, max: 60_000 }),
    retryInitialMs,
    retryMaxMs,
    eventRetentionDays: r.integer('WRITER_EVENT_RETENTION_DAYS', 90, { min: 1, max: 3650 }),
    eventRetentionByClass: Object.freeze(byClass),
  });
}
