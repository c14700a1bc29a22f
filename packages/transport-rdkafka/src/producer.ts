import type { Logger } from '@mamori/core';
import { TransportError, type OutgoingMessage, type Producer, type ProducerOptions } from '@mamori/transport';
import type { DeliveryReport, LibrdKafkaError, MessageHeader, Producer as NativeProducer } from 'node-rdkafka';
import { connectClient, logClientErrors } from './connect.ts';
import { errorCodeOf, wrapError } from './errors.ts';
import { ERR, loadRdkafka } from './native.ts';

/** One `send` call: it settles when every one of its records has a delivery report. */
interface PendingSend {
  remaining: number;
  error: LibrdKafkaError | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface RdkafkaClientSettings {
  brokers: readonly string[];
  clientId: string;
  connectTimeoutMs: number;
  logger: Logger;
  /** Extra librdkafka properties, applied last. */
  librdkafka?: Record<string, string | number | boolean>;
}

/**
 * enable.idempotence=true (which implies acks=all, max.in.flight<=5, retries) with dr_cb delivery
 * reports: each produced record carries its send call as opaque, and `send` resolves when all of
 * that call's records are acknowledged by every in-sync replica.
 */
export class RdkafkaProducer implements Producer {
  private producer: NativeProducer | undefined;
  private pending = 0;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: ProducerOptions,
    private readonly settings: RdkafkaClientSettings,
  ) {}

  async connect(): Promise<void> {
    const Kafka = await loadRdkafka();
    const producer = new Kafka.Producer({
      'metadata.broker.list': this.settings.brokers.join(','),
      'client.id': this.options.clientId ?? this.settings.clientId,
      'enable.idempotence': true,
      'max.in.flight.requests.per.connection': 5,
      'linger.ms': this.options.lingerMs ?? 5,
      'compression.codec': this.options.compression ?? 'none',
      'batch.num.messages': 10_000,
      // One record may be bigger than librdkafka's default bound (1,000,000 bytes): a dead letter is a
      // raw record (up to the broker's 1 MiB default) plus headers. Batches stay bounded by batch.size;
      // the broker enforces each topic's max.message.bytes.
      'message.max.bytes': 64 * 1024 * 1024,
      'queue.buffering.max.messages': 200_000,
      'socket.connection.setup.timeout.ms': 5_000,
      'allow.auto.create.topics': false,
      dr_cb: true,
      ...this.settings.librdkafka,
    }, { 'request.required.acks': -1, 'message.timeout.ms': 60_000 });
    producer.on('delivery-report', (error, report) => this.delivered(error, report));
    await connectClient(producer, 'producer connect', this.settings.brokers, this.settings.connectTimeoutMs);
    logClientErrors(producer, this.settings.logger, 'producer');
    this.producer = producer;
  }

  private delivered(error: LibrdKafkaError | null | undefined, report: DeliveryReport): void {
    const call = report.opaque as PendingSend | undefined;
    if (call === undefined) return;
    if (error) call.error ??= error;
    call.remaining -= 1;
    if (call.remaining === 0) {
      this.pending -= 1;
      if (this.pending === 0) this.stopPolling();
      if (call.error === undefined) call.resolve();
      else call.reject(call.error);
    }
  }

  /** Delivery reports are only emitted from poll(); poll fast while any send waits for one. */
  private startPolling(): void {
    if (this.poller !== undefined) return;
    this.poller = setInterval(() => this.producer?.poll(), 1);
  }

  private stopPolling(): void {
    clearInterval(this.poller);
    this.poller = undefined;
  }

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const producer = this.producer;
    if (producer === undefined) throw new TransportError('KAFKA_PRODUCE_FAILED', 'producer.send called before connect()', { retryable: false });
    if (messages.length === 0) return;
    const done = new Promise<void>((resolve, reject) => {
      const call: PendingSend = { remaining: messages.length, error: undefined, resolve, reject };
      this.pending += 1;
      this.startPolling();
      void this.produceAll(producer, topic, messages, call);
    });
    try {
      await done;
    } catch (error) {
      throw wrapError(error, 'KAFKA_PRODUCE_FAILED', `send to "${topic}"`, this.settings.brokers);
    }
  }

  private async produceAll(producer: NativeProducer, topic: string, messages: readonly OutgoingMessage[], call: PendingSend): Promise<void> {
    // Convert everything first so a bad header fails the whole call before any record is queued.
    let prepared: { value: Buffer | null; headers: MessageHeader[] | undefined }[];
    try {
      prepared = messages.map((m) => ({
        value: m.value === null ? null : typeof m.value === 'string' ? Buffer.from(m.value) : m.value,
        headers: m.headers === undefined ? undefined : Object.entries(m.headers).map(([k, v]) => ({ [k]: headerText(k, v) })),
      }));
    } catch (error) {
      this.failRest(call, messages.length, error);
      return;
    }
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const { value, headers } = prepared[i]!;
      for (;;) {
        try {
          producer.produce(topic, m.partition ?? null, value, m.key ?? null, m.timestamp ?? null, call, headers);
          break;
        } catch (error) {
          if (errorCodeOf(error) !== ERR.QUEUE_FULL) {
            this.failRest(call, messages.length - i, error);
            return;
          }
          // Local queue full: let delivery reports drain it.
          producer.poll();
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    }
    producer.poll();
  }

  /** The records not produced will never get a delivery report: settle them as failed now. */
  private failRest(call: PendingSend, missing: number, error: unknown): void {
    call.error ??= error as LibrdKafkaError;
    call.remaining -= missing - 1;
    this.delivered(error as LibrdKafkaError, { opaque: call } as DeliveryReport);
  }

  async close(): Promise<void> {
    const producer = this.producer;
    if (producer === undefined) return;
    this.producer = undefined;
    await new Promise<void>((resolve) => producer.flush(10_000, () => resolve()));
    producer.poll();
    this.stopPolling();
    await new Promise<void>((resolve) => producer.disconnect(5_000, () => resolve()));
  }
}

/**
 * node-rdkafka 3.6.1 converts every produced header value to a JS string and hands librdkafka a
 * NUL-terminated UTF-8 copy (src/producer.cc), so bytes that are not UTF-8, or contain 0x00, would
 * arrive altered or empty. Refuse them loudly instead of corrupting them. (Consuming binary header
 * values works: they arrive as Buffers.)
 */
function headerText(name: string, value: Buffer | string): string {
  const text = typeof value === 'string' ? value : value.toString('utf8');
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (text.includes('\u0000') || !Buffer.from(text, 'utf8').equals(bytes)) {
    throw new TransportError(
      'KAFKA_PRODUCE_FAILED',
      `header "${name}" holds bytes that node-rdkafka cannot send (not UTF-8 or contains 0x00); send it with the kafkajs transport or encode it as text`,
      { retryable: false },
    );
  }
  return text;
}
