import { errorMessage, sleep, withTimeout } from '@mamori/core';
import {
  TransportError,
  redeliveryDelayMs,
  type BatchHandler,
  type ConsumedMessage,
  type Consumer,
  type ConsumerOptions,
  type TopicPartition,
} from '@mamori/transport';
import type { Assignment, KafkaConsumer, LibrdKafkaError, Message } from 'node-rdkafka';
import { connectClient, logClientErrors } from './connect.ts';
import { errorCodeOf, wrapError } from './errors.ts';
import { ERR, loadRdkafka } from './native.ts';
import type { RdkafkaClientSettings } from './producer.ts';

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A consume(n) loop over KafkaConsumer with enable.auto.commit=false and
 * enable.auto.offset.store=false. consume(n) waits up to the consume timeout *per message*, so the
 * timeout is maxWaitMs and enable.partition.eof=true lets a batch return as soon as the partition
 * end is reached instead of waiting once more. After the handler resolves, the offsets after the
 * batch are committed with commitSync; on rejection each partition is seeked back to the batch's
 * first offset (librdkafka drops what it had prefetched) and redelivered after a back-off.
 */
export class RdkafkaConsumer implements Consumer {
  private consumer: KafkaConsumer | undefined;
  private assigned: TopicPartition[] = [];
  private paused = false;
  private running = false;
  private closing = false;
  private loop: Promise<void> | undefined;
  private readonly stop = new AbortController();
  /** Partitions revoked while a batch was in flight: its commit for them is skipped. */
  private revokedDuringBatch = new Set<string>();
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;

  constructor(
    private readonly options: ConsumerOptions,
    private readonly settings: RdkafkaClientSettings,
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? 100;
  }

  async connect(): Promise<void> {
    const Kafka = await loadRdkafka();
    const sessionTimeout = this.options.sessionTimeoutMs ?? 30_000;
    const consumer = new Kafka.KafkaConsumer(
      {
        'metadata.broker.list': this.settings.brokers.join(','),
        'group.id': this.options.groupId,
        'client.id': this.options.clientId ?? this.settings.clientId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'enable.partition.eof': true,
        'fetch.wait.max.ms': this.maxWaitMs,
        'session.timeout.ms': sessionTimeout,
        'heartbeat.interval.ms': Math.max(500, Math.min(3_000, Math.floor(sessionTimeout / 3))),
        'socket.connection.setup.timeout.ms': 5_000,
        'allow.auto.create.topics': false,
        // Eager protocol: every rebalance revokes everything, then assigns; simple to reason about.
        'partition.assignment.strategy': 'range,roundrobin',
        rebalance_cb: (error: LibrdKafkaError, assignment: Assignment[]) => this.rebalance(error, assignment),
        ...this.settings.librdkafka,
      },
      { 'auto.offset.reset': this.options.fromBeginning === false ? 'latest' : 'earliest' },
    );
    consumer.setDefaultConsumeTimeout(this.maxWaitMs);
    await connectClient(consumer, `consumer connect (group ${this.options.groupId})`, this.settings.brokers, this.settings.connectTimeoutMs);
    logClientErrors(consumer, this.settings.logger, 'consumer');
    this.consumer = consumer;
  }

  private rebalance(error: LibrdKafkaError, assignment: Assignment[]): void {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    try {
      if (errorCodeOf(error) === ERR.ASSIGN_PARTITIONS) {
        consumer.assign(assignment);
        this.assigned = assignment.map(({ topic, partition }) => ({ topic, partition }));
        if (this.paused && assignment.length > 0) consumer.pause(this.assigned);
      } else if (errorCodeOf(error) === ERR.REVOKE_PARTITIONS) {
        // Handled batches are committed synchronously before the loop fetches more, so only a batch
        // still in its handler can be uncommitted here; it is skipped and redelivered to the new owner.
        for (const { topic, partition } of this.assigned) this.revokedDuringBatch.add(tpKey(topic, partition));
        consumer.unassign();
        this.assigned = [];
      } else {
        this.settings.logger.warn({ error: error.message, groupId: this.options.groupId }, 'kafka rebalance error');
      }
    } catch (e) {
      if (consumer.isConnected()) this.settings.logger.warn({ error: errorMessage(e), groupId: this.options.groupId }, 'kafka rebalance failed');
    }
  }

  async run(handler: BatchHandler): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) throw new TransportError('KAFKA_CONSUME_FAILED', 'consumer.run called before connect()', { retryable: false });
    if (this.running) throw new TransportError('KAFKA_CONSUME_FAILED', 'consumer.run called twice', { retryable: false });
    try {
      consumer.subscribe([...this.options.topics]);
    } catch (error) {
      throw wrapError(error, 'KAFKA_CONSUME_FAILED', `subscribe to ${this.options.topics.join(',')}`, this.settings.brokers);
    }
    this.running = true;
    this.loop = this.consumeLoop(consumer, handler);
  }

  private consumeBatch(consumer: KafkaConsumer): Promise<Message[]> {
    return new Promise((resolve) => {
      consumer.consume(this.maxBatchSize, (error, messages) => {
        if (error && errorCodeOf(error) !== ERR.TIMED_OUT && errorCodeOf(error) !== ERR.PARTITION_EOF) {
          this.settings.logger.debug({ error: error.message, code: errorCodeOf(error) }, 'consume returned an error');
        }
        resolve(error ? [] : messages);
      });
    });
  }

  private seek(consumer: KafkaConsumer, topic: string, partition: number, offset: number): Promise<void> {
    return new Promise((resolve) => {
      consumer.seek({ topic, partition, offset }, 5_000, (error) => {
        if (error) this.settings.logger.warn({ topic, partition, offset, error: error.message }, 'seek for redelivery failed');
        resolve();
      });
    });
  }

  /** First offset per partition, in the order the partitions appear. */
  private static firstOffsets(messages: readonly Message[]): Map<string, { topic: string; partition: number; offset: number }> {
    const first = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const m of messages) {
      const key = tpKey(m.topic, m.partition);
      if (!first.has(key)) first.set(key, { topic: m.topic, partition: m.partition, offset: m.offset });
    }
    return first;
  }

  private async consumeLoop(consumer: KafkaConsumer, handler: BatchHandler): Promise<void> {
    let failures = 0;
    while (this.running) {
      const messages = await this.consumeBatch(consumer);
      if (messages.length === 0) {
        // Keep the loop cheap when paused or idle; consume() also serves rebalance callbacks.
        if (this.paused || this.assigned.length === 0) await sleep(Math.min(this.maxWaitMs, 50), this.stop.signal);
        continue;
      }
      const first = RdkafkaConsumer.firstOffsets(messages);
      if (!this.running || this.paused) {
        // Fetched before pause/close took effect: put them back rather than deliver them.
        for (const { topic, partition, offset } of first.values()) await this.seek(consumer, topic, partition, offset);
        continue;
      }
      this.revokedDuringBatch = new Set();
      try {
        await handler({ messages: messages.map(toConsumed) });
      } catch (error) {
        failures += 1;
        this.settings.logger.debug({ error: errorMessage(error), attempt: failures }, 'batch handler rejected; redelivering');
        for (const { topic, partition, offset } of first.values()) {
          if (!this.revokedDuringBatch.has(tpKey(topic, partition))) await this.seek(consumer, topic, partition, offset);
        }
        await sleep(redeliveryDelayMs(failures), this.stop.signal);
        continue;
      }
      failures = 0;
      this.commit(consumer, messages);
    }
  }

  private commit(consumer: KafkaConsumer, messages: readonly Message[]): void {
    const next = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const m of messages) next.set(tpKey(m.topic, m.partition), { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
    const offsets = [...next.entries()].filter(([key]) => !this.revokedDuringBatch.has(key)).map(([, tpo]) => tpo);
    if (offsets.length === 0) return;
    try {
      consumer.commitSync(offsets);
    } catch (error) {
      // The records were handled; without the commit they are handled again after a restart or
      // by the partition's next owner (at-least-once).
      const wrapped = wrapError(error, 'KAFKA_COMMIT_FAILED', `commit for group ${this.options.groupId}`, this.settings.brokers);
      this.settings.logger.warn({ err: wrapped, code: wrapped.code }, 'offset commit failed; records may be redelivered');
    }
  }

  pause(): void {
    this.paused = true;
    if (this.consumer !== undefined && this.assigned.length > 0) this.consumer.pause(this.assigned);
  }

  resume(): void {
    this.paused = false;
    if (this.consumer !== undefined && this.assigned.length > 0) this.consumer.resume(this.assigned);
  }

  isPaused(): boolean {
    return this.paused;
  }

  assignment(): readonly TopicPartition[] {
    return [...this.assigned];
  }

  async close(timeoutMs = 30_000): Promise<void> {
    const consumer = this.consumer;
    if (this.closing || consumer === undefined) return;
    this.closing = true;
    this.running = false;
    this.stop.abort();
    const deadline = Date.now() + timeoutMs;
    if (this.loop !== undefined) {
      await withTimeout(this.loop, timeoutMs, 'in-flight batch did not finish').catch(() => {
        this.settings.logger.warn({ groupId: this.options.groupId, timeoutMs }, 'closing kafka consumer with a batch still in flight; it will be redelivered');
        // Its commit must not happen after we left: pretend everything was revoked.
        for (const { topic, partition } of this.assigned) this.revokedDuringBatch.add(tpKey(topic, partition));
      });
    }
    const left = Math.max(1_000, deadline - Date.now());
    await withTimeout(new Promise<void>((resolve) => consumer.disconnect(() => resolve())), left, 'consumer disconnect timed out').catch((error: unknown) => {
      this.settings.logger.warn({ groupId: this.options.groupId, error: errorMessage(error) }, 'kafka consumer did not leave the group cleanly');
    });
    this.assigned = [];
    this.consumer = undefined;
  }
}

function toConsumed(m: Message): ConsumedMessage {
  const headers: Record<string, Buffer> = {};
  for (const header of m.headers ?? []) {
    for (const [name, value] of Object.entries(header)) headers[name] = typeof value === 'string' ? Buffer.from(value) : value;
  }
  const key = m.key === undefined || m.key === null ? null : typeof m.key === 'string' ? Buffer.from(m.key) : m.key;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    key,
    value: m.value,
    headers,
    timestamp: m.timestamp ?? 0,
  };
}
