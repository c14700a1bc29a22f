import { withTimeout } from '@mamori/core';
import type { Admin, TopicSpec } from '@mamori/transport';
import type { Admin as KafkaAdmin, Kafka } from 'kafkajs';
import { protocolType, wrapError } from './errors.ts';

/** How long `ensureTopics` waits for the leaders of the topics it created. */
export const LEADER_WAIT_MS = 30_000;

/** Answers of a broker that has not taken a new topic's partition over yet: ask again. */
const NOT_READY: ReadonlySet<string> = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION']);

export class KafkajsAdmin implements Admin {
  private readonly admin: KafkaAdmin;

  constructor(
    kafka: Kafka,
    private readonly brokers: readonly string[],
    private readonly connectTimeoutMs: number,
  ) {
    this.admin = kafka.admin();
  }

  async connect(): Promise<void> {
    try {
      await withTimeout(this.admin.connect(), this.connectTimeoutMs, `connect timed out after ${this.connectTimeoutMs} ms`);
    } catch (error) {
      await this.admin.disconnect().catch(() => undefined);
      throw wrapError(error, 'KAFKA_UNREACHABLE', 'admin connect', this.brokers);
    }
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    try {
      const existing = new Set(await this.admin.listTopics());
      const wanted = new Map<string, TopicSpec>();
      for (const spec of specs) if (!existing.has(spec.topic) && !wanted.has(spec.topic)) wanted.set(spec.topic, spec);
      if (wanted.size === 0) return;
      // Not kafkajs's own wait for leaders: it gives up on the first UNKNOWN_TOPIC_OR_PARTITION,
      // which a broker answers while it has not yet learned the new topic from the controller (on
      // a multi-broker cluster, for a moment after the create; longer under load).
      await this.admin.createTopics({
        waitForLeaders: false,
        topics: [...wanted.values()].map((spec) => ({
          topic: spec.topic,
          numPartitions: spec.partitions ?? 1,
          replicationFactor: spec.replicationFactor ?? -1,
          configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
      await this.waitForLeaders([...wanted.values()]);
    } catch (error) {
      // Another service created it between our list and create: that is the outcome we wanted.
      if (protocolType(error) === 'TOPIC_ALREADY_EXISTS') return;
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', 'ensureTopics', this.brokers);
    }
  }

  /**
   * Waits until every partition of the created topics has a leader that serves requests: the
   * metadata names a leader for each, and then each leader answers a ListOffsets. The metadata can
   * name a leader before that broker has taken the partition over (KRaft brokers apply the
   * controller's change asynchronously), and a request sent to it then fails with
   * NOT_LEADER_FOR_PARTITION. Asks again while brokers answer that they do not know the topic, have
   * no leader, or are not the leader yet; at most {@link LEADER_WAIT_MS}.
   */
  private async waitForLeaders(specs: readonly TopicSpec[]): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    const topics = specs.map((s) => s.topic);
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      let missing: string[];
      try {
        const meta = await this.admin.fetchTopicMetadata({ topics });
        const byTopic = new Map(meta.topics.map((t) => [t.name, t.partitions]));
        missing = specs
          .filter((s) => {
            const partitions = byTopic.get(s.topic) ?? [];
            return partitions.length < (s.partitions ?? 1) || partitions.some((p) => p.leader < 0);
          })
          .map((s) => s.topic);
        // Then each partition's leader must answer as the leader.
        for (const topic of topics) if (!missing.includes(topic)) await this.admin.fetchTopicOffsets(topic);
      } catch (error) {
        if (!NOT_READY.has(protocolType(error) ?? '')) throw error;
        missing = topics;
      }
      if (missing.length === 0) return;
      if (Date.now() + delay > deadline) throw new Error(`topics without a leader for every partition after ${LEADER_WAIT_MS / 1000} s: ${missing.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async listTopics(): Promise<string[]> {
    try {
      return await this.admin.listTopics();
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', 'listTopics', this.brokers);
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    try {
      const existing = new Set(await this.admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await this.admin.deleteTopics({ topics: present, timeout: 10_000 });
    } catch (error) {
      if (protocolType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') return;
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', 'deleteTopics', this.brokers);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]> {
    try {
      const result = await this.admin.fetchOffsets({ groupId, topics: [topic] });
      const partitions = result.find((t) => t.topic === topic)?.partitions ?? [];
      return partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', `committedOffsets(${groupId}, ${topic})`, this.brokers);
    }
  }

  async endOffsets(topic: string): Promise<{ partition: number; offset: string }[]> {
    try {
      const offsets = await this.admin.fetchTopicOffsets(topic);
      return offsets.map((p) => ({ partition: p.partition, offset: p.high })).sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', `endOffsets(${topic})`, this.brokers);
    }
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
