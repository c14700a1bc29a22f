import { sleep } from '@mamori/core';
import { TransportError, type Admin, type TopicSpec } from '@mamori/transport';
import type { IAdminClient, LibrdKafkaError, Metadata, Producer as NativeProducer } from 'node-rdkafka';
import { connectClient } from './connect.ts';
import { errorCodeOf, wrapError } from './errors.ts';
import { ERR, loadRdkafka } from './native.ts';
import type { RdkafkaClientSettings } from './producer.ts';

const TIMEOUT_MS = 10_000;

/**
 * AdminClient for create/delete; node-rdkafka's admin has no metadata or offsets calls, so a helper
 * producer answers metadata and watermarks, and a short-lived consumer carrying the group id answers
 * committed offsets (it never subscribes, so it never joins the group).
 */
export class RdkafkaAdmin implements Admin {
  private admin: IAdminClient | undefined;
  private helper: NativeProducer | undefined;

  constructor(private readonly settings: RdkafkaClientSettings) {}

  async connect(): Promise<void> {
    const Kafka = await loadRdkafka();
    const helper = new Kafka.Producer({
      'metadata.broker.list': this.settings.brokers.join(','),
      'client.id': `${this.settings.clientId}-admin`,
      'socket.connection.setup.timeout.ms': 5_000,
    });
    await connectClient(helper, 'admin connect', this.settings.brokers, this.settings.connectTimeoutMs);
    this.helper = helper;
    this.admin = Kafka.AdminClient.create({
      'metadata.broker.list': this.settings.brokers.join(','),
      'client.id': `${this.settings.clientId}-admin`,
    });
  }

  private clients(): { admin: IAdminClient; helper: NativeProducer } {
    if (this.admin === undefined || this.helper === undefined) {
      throw new TransportError('KAFKA_ADMIN_FAILED', 'admin used before connect()', { retryable: false });
    }
    return { admin: this.admin, helper: this.helper };
  }

  private metadata(topic?: string): Promise<Metadata> {
    const { helper } = this.clients();
    return new Promise((resolve, reject) => {
      helper.getMetadata(topic === undefined ? { allTopics: true, timeout: TIMEOUT_MS } : { topic, timeout: TIMEOUT_MS }, (error, metadata) =>
        error ? reject(error) : resolve(metadata),
      );
    });
  }

  private async partitionsOf(topic: string): Promise<number[]> {
    const metadata = await this.metadata(topic);
    const found = metadata.topics.find((t) => t.name === topic);
    if (found === undefined || found.partitions.length === 0) {
      throw Object.assign(new Error(`topic "${topic}" does not exist`), { code: ERR.UNKNOWN_TOPIC_OR_PART });
    }
    return found.partitions.map((p) => p.id).sort((a, b) => a - b);
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const { admin } = this.clients();
    try {
      const existing = new Set(await this.listTopics());
      const wanted = new Map<string, TopicSpec>();
      for (const spec of specs) if (!existing.has(spec.topic) && !wanted.has(spec.topic)) wanted.set(spec.topic, spec);
      for (const spec of wanted.values()) {
        await new Promise<void>((resolve, reject) => {
          admin.createTopic(
            { topic: spec.topic, num_partitions: spec.partitions ?? 1, replication_factor: spec.replicationFactor ?? -1, config: spec.config ?? {} },
            TIMEOUT_MS,
            (error: LibrdKafkaError) => (error && errorCodeOf(error) !== ERR.TOPIC_ALREADY_EXISTS ? reject(error) : resolve()),
          );
        });
      }
      // Wait until every new partition has a leader, so a producer right after us does not stall.
      for (const spec of wanted.values()) {
        const deadline = Date.now() + TIMEOUT_MS;
        for (;;) {
          const topic = (await this.metadata(spec.topic)).topics.find((t) => t.name === spec.topic);
          if (topic !== undefined && topic.partitions.length === (spec.partitions ?? 1) && topic.partitions.every((p) => p.leader >= 0)) break;
          if (Date.now() > deadline) break;
          await sleep(50);
        }
      }
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', 'ensureTopics', this.settings.brokers);
    }
  }

  async listTopics(): Promise<string[]> {
    try {
      return (await this.metadata()).topics.map((t) => t.name);
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', 'listTopics', this.settings.brokers);
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    const { admin } = this.clients();
    try {
      for (const topic of topics) {
        await new Promise<void>((resolve, reject) => {
          admin.deleteTopic(topic, TIMEOUT_MS, (error: LibrdKafkaError) =>
            error && errorCodeOf(error) !== ERR.UNKNOWN_TOPIC_OR_PART ? reject(error) : resolve(),
          );
        });
      }
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', 'deleteTopics', this.settings.brokers);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]> {
    const Kafka = await loadRdkafka();
    try {
      const partitions = await this.partitionsOf(topic);
      const reader = new Kafka.KafkaConsumer(
        {
          'metadata.broker.list': this.settings.brokers.join(','),
          'group.id': groupId,
          'client.id': `${this.settings.clientId}-admin`,
          'enable.auto.commit': false,
        },
        {},
      );
      await connectClient(reader, 'admin committedOffsets', this.settings.brokers, this.settings.connectTimeoutMs);
      try {
        const committed = await new Promise<{ partition: number; offset: number }[]>((resolve, reject) => {
          reader.committed(
            partitions.map((partition) => ({ topic, partition })),
            TIMEOUT_MS,
            (error, tps) => (error ? reject(error) : resolve(tps)),
          );
        });
        return partitions.map((partition) => {
          const offset = committed.find((c) => c.partition === partition)?.offset;
          // librdkafka reports "no committed offset" as OFFSET_INVALID (-1001).
          return { partition, offset: offset === undefined || offset < 0 ? '-1' : String(offset) };
        });
      } finally {
        await new Promise<void>((resolve) => reader.disconnect(() => resolve()));
      }
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', `committedOffsets(${groupId}, ${topic})`, this.settings.brokers);
    }
  }

  async endOffsets(topic: string): Promise<{ partition: number; offset: string }[]> {
    const { helper } = this.clients();
    try {
      const partitions = await this.partitionsOf(topic);
      return await Promise.all(
        partitions.map(
          (partition) =>
            new Promise<{ partition: number; offset: string }>((resolve, reject) => {
              helper.queryWatermarkOffsets(topic, partition, TIMEOUT_MS, (error, offsets) =>
                error ? reject(error) : resolve({ partition, offset: String(offsets.highOffset) }),
              );
            }),
        ),
      );
    } catch (error) {
      throw wrapError(error, 'KAFKA_ADMIN_FAILED', `endOffsets(${topic})`, this.settings.brokers);
    }
  }

  async close(): Promise<void> {
    this.admin?.disconnect();
    this.admin = undefined;
    const helper = this.helper;
    this.helper = undefined;
    if (helper !== undefined) await new Promise<void>((resolve) => helper.disconnect(() => resolve()));
  }
}
