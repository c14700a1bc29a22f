/**
 * The transport moves bytes and headers between services through Kafka. It knows nothing about
 * Avro or events: encoding lives in @mamori/events. Two adapters implement it
 * (@mamori/transport-kafkajs, @mamori/transport-rdkafka) and both pass the contract suite in
 * `./contract.ts` against a real broker.
 */

/** Header values are bytes on the wire; strings are accepted on send and encoded as UTF-8. */
export type HeaderValue = Buffer | string;

/** A record as consumed. `offset` is a decimal string because Kafka offsets are 64-bit. */
export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  /** Record timestamp, epoch milliseconds. */
  readonly timestamp: number;
}

/** A record to produce. */
export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue>;
  /** Explicit partition; otherwise the key's hash (murmur2, as the Java client) picks it. */
  partition?: number;
  /** Epoch milliseconds; defaults to now. */
  timestamp?: number;
}

/**
 * A batch handed to the consumer's handler: records of one or more partitions, in offset order
 * within each partition.
 */
export interface ConsumedBatch {
  readonly messages: readonly ConsumedMessage[];
}

export interface ProducerOptions {
  /** Client id shown in broker logs and metrics. @default 'mamori' */
  clientId?: string;
  /**
   * Wait at most this long to fill a batch before sending. Adapters without a client-side queue
   * (kafkajs: one request per `send`) ignore it. @default 5
   */
  lingerMs?: number;
  /** Record batch compression. @default 'none' */
  compression?: 'none' | 'gzip';
}

/**
 * A producer with acks=all and idempotence: `send` resolves only after every in-sync replica has
 * the records, so a caller may commit its input offsets after it resolves.
 */
export interface Producer {
  connect(): Promise<void>;
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  /** Flushes what is in flight, then disconnects. */
  close(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  topics: readonly string[];
  clientId?: string;
  /** Where a group with no committed offset starts. @default 'earliest' */
  fromBeginning?: boolean;
  /** Upper bound on records per handler call. @default 1000 */
  maxBatchSize?: number;
  /** How long the broker may hold a fetch waiting for data. @default 100 */
  maxWaitMs?: number;
  /** @default 30000 */
  sessionTimeoutMs?: number;
}

/**
 * Handles one batch. When the promise resolves the consumer commits, per partition, the offset after
 * the last record of the batch. When it rejects nothing is committed and the batch's records are
 * delivered again (after a back-off), so a failing handler never loses data.
 */
export type BatchHandler = (batch: ConsumedBatch) => Promise<void>;

/**
 * A consumer-group member with manual commits only: there is no auto-commit. Offsets are committed
 * after the handler resolves, never before.
 */
export interface Consumer {
  connect(): Promise<void>;
  /** Starts delivering batches to `handler`; returns once consumption has started. */
  run(handler: BatchHandler): Promise<void>;
  /** Stops fetching (backpressure); the group membership is kept. */
  pause(): void;
  resume(): void;
  isPaused(): boolean;
  /** Partitions currently assigned to this member. */
  assignment(): readonly TopicPartition[];
  /**
   * Stops fetching, waits for the batch in flight to finish and commit, then leaves the group.
   * Bounded: gives up waiting after `timeoutMs` (default 30000).
   */
  close(timeoutMs?: number): Promise<void>;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicSpec {
  topic: string;
  /** @default 1 */
  partitions?: number;
  /** @default the broker's default */
  replicationFactor?: number;
  /** Topic-level configs, e.g. { 'retention.ms': '604800000' }. */
  config?: Record<string, string>;
}

export interface Admin {
  connect(): Promise<void>;
  /** Creates the topics that do not exist yet; existing ones are left alone. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  listTopics(): Promise<string[]>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** The group's committed offset per partition of `topic` (-1 where none). */
  committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]>;
  /** The log end offset (high watermark) per partition. */
  endOffsets(topic: string): Promise<{ partition: number; offset: string }[]>;
  close(): Promise<void>;
}

/** Connection settings shared by all adapters. */
export interface TransportConfig {
  /** host:port list. */
  brokers: readonly string[];
  clientId?: string;
}

/** What an adapter package exports: factories for its clients. */
export interface Transport {
  readonly name: string;
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): Consumer;
  admin(): Admin;
}
