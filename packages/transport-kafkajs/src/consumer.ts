import { errorMessage, sleep, withTimeout, type Logger } from '@mamori/core';
import { redeliveryDelayMs, type BatchHandler, type ConsumedMessage, type Consumer, type ConsumerOptions, type TopicPartition } from '@mamori/transport';
import type { Batch, EachBatchPayload, Kafka, Consumer as KafkaConsumer, KafkaMessage } from 'kafkajs';
import { wrapError } from './errors.ts';

export interface KafkajsConsumerTuning {
  /**
   * Partitions whose batches may be handled at the same time. kafkajs never runs two batches of one
   * partition at once, so order within a partition holds. @default 2
   */
  partitionsConsumedConcurrently?: number;
}

/**
 * eachBatch with eachBatchAutoResolve=false and autoCommit=false: a batch from kafkajs is split into
 * chunks of at most maxBatchSize; after each chunk's handler resolves its last offset is resolved and
 * committed explicitly. On rejection nothing is resolved or committed, the consumer seeks back to the
 * chunk's first offset (kafkajs fetches again from there) and waits a capped exponential back-off.
 */
export class KafkajsConsumer implements Consumer {
  private readonly consumer: KafkaConsumer;
  private readonly maxBatchSize: number;
  private assigned: TopicPartition[] = [];
  private paused = false;
  private started = false;
  private closing = false;
  private readonly stop = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Consecutive handler failures per partition, for the back-off. */
  private readonly failures = new Map<string, number>();

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly tuning: KafkajsConsumerTuning,
    private readonly brokers: readonly string[],
    private readonly connectTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.maxBatchSize = options.maxBatchSize ?? 1000;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.min(3_000, Math.floor(sessionTimeout / 3))),
      rebalanceTimeout: Math.max(sessionTimeout, 30_000),
      maxWaitTimeInMs: options.maxWaitMs ?? 100,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      this.assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
    });
    this.consumer.on(CRASH, ({ payload }) => {
      if (this.closing) return;
      // A crash kafkajs recovers from by restarting (e.g. the group coordinator still loading) is a warning.
      const context = { err: payload.error, groupId: options.groupId, restart: payload.restart };
      if (payload.restart) this.logger.warn(context, 'kafka consumer restarting after a retriable error');
      else this.logger.error(context, 'kafka consumer crashed');
    });
    const clear = (): void => {
      this.assigned = [];
    };
    this.consumer.on(STOP, clear);
    this.consumer.on(DISCONNECT, clear);
  }

  async connect(): Promise<void> {
    try {
      await withTimeout(this.consumer.connect(), this.connectTimeoutMs, `connect timed out after ${this.connectTimeoutMs} ms`);
    } catch (error) {
      await this.consumer.disconnect().catch(() => undefined);
      throw wrapError(error, 'KAFKA_UNREACHABLE', `consumer connect (group ${this.options.groupId})`, this.brokers);
    }
  }

  async run(handler: BatchHandler): Promise<void> {
    try {
      await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.fromBeginning ?? true });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: Math.max(1, this.tuning.partitionsConsumedConcurrently ?? 2),
        eachBatch: (payload) => this.track(this.eachBatch(payload, handler)),
      });
      this.started = true;
      if (this.paused) this.applyPause();
    } catch (error) {
      throw wrapError(error, 'KAFKA_CONSUME_FAILED', `consumer run (group ${this.options.groupId}, topics ${this.options.topics.join(',')})`, this.brokers);
    }
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private async eachBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const messages = batch.messages.map((m) => toConsumed(batch, m));
    const tp = `${topic}\u0000${partition}`;
    for (let start = 0; start < messages.length; start += this.maxBatchSize) {
      // Whatever is left unresolved is fetched again later, from the last resolved offset.
      if (this.closing || this.paused || !isRunning() || isStale()) return;
      const chunk = messages.slice(start, start + this.maxBatchSize);
      const first = chunk[0]!;
      const last = chunk[chunk.length - 1]!;
      try {
        await handler({ messages: chunk });
      } catch (error) {
        const attempt = (this.failures.get(tp) ?? 0) + 1;
        this.failures.set(tp, attempt);
        this.logger.debug({ topic, partition, offset: first.offset, attempt, error: errorMessage(error) }, 'batch handler rejected; redelivering');
        this.consumer.seek({ topic, partition, offset: first.offset });
        await sleep(redeliveryDelayMs(attempt), this.stop.signal);
        return;
      }
      this.failures.delete(tp);
      resolveOffset(last.offset);
      // Explicit offsets: with autoCommit off, commitOffsetsIfNecessary() without them is a no-op.
      // Errors from kafkajs (a rebalance under way) propagate so kafkajs rejoins; the chunk is then
      // redelivered to the partition's next owner (at-least-once).
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
      });
      await heartbeat();
    }
  }

  private applyPause(): void {
    this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
  }

  pause(): void {
    this.paused = true;
    if (this.started) this.applyPause();
  }

  resume(): void {
    this.paused = false;
    if (this.started) this.consumer.resume(this.options.topics.map((topic) => ({ topic })));
  }

  isPaused(): boolean {
    return this.paused;
  }

  assignment(): readonly TopicPartition[] {
    return [...this.assigned];
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stop.abort();
    const deadline = Date.now() + timeoutMs;
    try {
      await withTimeout(Promise.allSettled([...this.inFlight]), timeoutMs, 'in-flight batch did not finish');
    } catch {
      this.logger.warn({ groupId: this.options.groupId, timeoutMs }, 'closing kafka consumer with a batch still in flight; it will be redelivered');
    }
    // kafkajs's disconnect waits for eachBatch to return before leaving the group: bound it too.
    const left = Math.max(1_000, deadline - Date.now());
    await withTimeout(this.consumer.disconnect(), left, 'consumer disconnect timed out').catch((error: unknown) => {
      this.logger.warn({ groupId: this.options.groupId, error: errorMessage(error) }, 'kafka consumer did not leave the group cleanly');
    });
    this.assigned = [];
  }
}

function toConsumed(batch: Batch, m: KafkaMessage): ConsumedMessage {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    if (v !== undefined) headers[name] = typeof v === 'string' ? Buffer.from(v) : v;
  }
  return {
    topic: batch.topic,
    partition: batch.partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value,
    headers,
    timestamp: Number(m.timestamp),
  };
}
