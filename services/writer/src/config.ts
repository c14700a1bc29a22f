import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';

export interface WriterConfig {
  eventsTopic: string;
  detectionsTopic: string;
  /** WRITER_MAX_BATCH_RECORDS: records per consumed batch, i.e. per ClickHouse insert. @default 10000 */
  maxBatchRecords: number;
}

export function loadWriterConfig(env: Env): Readonly<WriterConfig> {
  const r = new EnvReader(env);
  return r.done({
    eventsTopic: r.string('MAMORI_TOPIC_EVENTS', TOPICS.events),
    detectionsTopic: r.string('MAMORI_TOPIC_DETECTIONS', TOPICS.detections),
    maxBatchRecords: r.integer('WRITER_MAX_BATCH_RECORDS', 10_000, { min: 1, max: 1_000_000 }),
  });
}
