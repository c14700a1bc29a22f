import type { Logger } from '@mamori/core';
import { withTimeout } from '@mamori/core';
import { recordBytes, type OutgoingMessage, type Producer, type ProducerOptions } from '@mamori/transport';
import kafkajs, { type Kafka, type Message, type Producer as KafkaProducer } from 'kafkajs';
import { wrapError } from './errors.ts';

const { CompressionTypes, Partitioners } = kafkajs;

/**
 * Bytes of records per produce request (librdkafka's default `batch.size`, which bounds the rdkafka
 * adapter's batches). kafkajs puts all of one send's records for a partition into one record
 * batch, and a broker refuses a batch over its `message.max.bytes` (1048588 by default): a stage
 * sending a consumed batch's worth of records to one partition (a sensor's dead letters: the raw
 * bytes plus the dead-letter headers) was refused on every retry and stalled its partition. A single
 * record over this bound is still sent, alone.
 */
const MAX_REQUEST_BYTES = 1_000_000;

/**
 * acks=all (-1) with idempotence. kafkajs numbers idempotent batches per partition when it builds a
 * request; with several requests in flight a retried one comes back OUT_OF_ORDER_SEQUENCE_NUMBER,
 * so one request in flight per broker connection keeps idempotence sound (Java allows up to 5).
 */
export class KafkajsProducer implements Producer {
  private readonly producer: KafkaProducer;
  private readonly compression: number;

  constructor(
    kafka: Kafka,
    options: ProducerOptions,
    private readonly brokers: readonly string[],
    private readonly connectTimeoutMs: number,
    _logger: Logger,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2 as the Java client and librdkafka (murmur2_random), so both adapters place a key alike.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded so a send fails (and its caller retries from uncommitted input) instead of hanging
      // forever while the cluster is gone; kafkajs's idempotent default is unlimited.
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  async connect(): Promise<void> {
    try {
      await withTimeout(this.producer.connect(), this.connectTimeoutMs, `connect timed out after ${this.connectTimeoutMs} ms`);
    } catch (error) {
      await this.producer.disconnect().catch(() => undefined);
      throw wrapError(error, 'KAFKA_UNREACHABLE', 'producer connect', this.brokers);
    }
  }

  /** Sends in requests of at most MAX_REQUEST_BYTES, one after another (order within a partition is kept). */
  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const size = recordBytes(messages[i]!);
      if (i > start && bytes + size > MAX_REQUEST_BYTES) {
        await this.sendRequest(topic, messages.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < messages.length) await this.sendRequest(topic, start === 0 ? messages : messages.slice(start));
  }

  private async sendRequest(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    try {
      await this.producer.send({ topic, acks: -1, compression: this.compression, messages: messages.map(toKafkajs) });
    } catch (error) {
      throw wrapError(error, 'KAFKA_PRODUCE_FAILED', `send to "${topic}"`, this.brokers);
    }
  }

  async close(): Promise<void> {
    // kafkajs has no client-side queue: every send already awaited its ack, so disconnect is the flush.
    await this.producer.disconnect();
  }
}

function toKafkajs(message: OutgoingMessage): Message {
  const out: Message = { key: message.key ?? null, value: message.value };
  if (message.headers !== undefined) out.headers = message.headers;
  if (message.partition !== undefined) out.partition = message.partition;
  if (message.timestamp !== undefined) out.timestamp = String(message.timestamp);
  return out;
}
