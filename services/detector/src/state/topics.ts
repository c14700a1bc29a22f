import type { Admin } from '@mamori/transport';
import { CORRELATION_TOPICS } from './records.ts';

/**
 * Creates the repartition topic and the compacted state topic with the same partition count (a
 * group's facts and its state share a partition number). Retention of the repartition topic only
 * needs to cover a restart: state lives in the changelog.
 */
export async function ensureCorrelationTopics(
  admin: Admin,
  options: { partitions: number; replicationFactor?: number; repartitionTopic?: string; stateTopic?: string },
): Promise<void> {
  const rf = options.replicationFactor ? { replicationFactor: options.replicationFactor } : {};
  await admin.ensureTopics([
    { topic: options.repartitionTopic ?? CORRELATION_TOPICS.repartition, partitions: options.partitions, ...rf, config: { 'retention.ms': String(7 * 86_400_000) } },
    {
      topic: options.stateTopic ?? CORRELATION_TOPICS.state,
      partitions: options.partitions,
      ...rf,
      config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(3_600_000) },
    },
  ]);
}
