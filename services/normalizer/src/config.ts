import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import { FORMATS } from './formats/registry.ts';

export interface NormalizerConfig {
  /** Raw topics to consume; default: every topic a registered format claims. */
  rawTopics: string[];
  /** MAMORI_TOPIC_EVENTS. @default 'telemetry.events' */
  eventsTopic: string;
  /** NORMALIZER_MAX_BATCH_RECORDS. @default 2000 */
  maxBatchRecords: number;
}

export function loadNormalizerConfig(env: Env): Readonly<NormalizerConfig> {
  const r = new EnvReader(env);
  const known = FORMATS.flatMap((f) => [...f.topics]);
  const rawTopics = r.list('NORMALIZER_TOPICS', known);
  for (const topic of rawTopics) {
    if (!known.includes(topic)) r.problem(`NORMALIZER_TOPICS names ${JSON.stringify(topic)}, which no registered format reads (known: ${known.join(', ')})`);
  }
  return r.done({
    rawTopics,
    eventsTopic: r.string('MAMORI_TOPIC_EVENTS', TOPICS.events),
    maxBatchRecords: r.integer('NORMALIZER_MAX_BATCH_RECORDS', 2000, { min: 1, max: 100_000 }),
  });
}
