import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { errorMessage, type Logger } from '@mamori/core';
import { Counter, Gauge, stageMetrics, type Registry, type StageMetrics } from '@mamori/metrics';
import { DEAD_LETTER_TOPIC, ThrottledErrorLog, deadLetterMessage } from '@mamori/pipeline';
import type { OutgoingMessage, Producer } from '@mamori/transport';
import { SENSOR_HEADERS } from '../sensor-headers.ts';
import { NetflowDecoder, type DecodeOutcome, type NetflowDecoderOptions } from './decoder.ts';
import type { NetflowError } from './errors.ts';

/** The raw topic of decoded flows (JSON lines), read by the normalizer's `netflow.flow` format. */
export const NETFLOW_TOPIC = 'telemetry.raw.netflow.flow';
/** Value of the `mamori.format` header on produced records. */
export const NETFLOW_FORMAT = 'netflow.flow';

/** Settings of the UDP collector (from `INGEST_NETFLOW_*`, see docs/netflow.md). */
export interface NetflowCollectorOptions {
  /** Bind address. @default '127.0.0.1' */
  host: string;
  /** UDP port; 0 binds any free port (tests). */
  port: number;
  /** @default NETFLOW_TOPIC */
  topic?: string;
  /** Exporter address → sensor id; others get `netflow:<exporter ip>`. */
  sensorIds?: Readonly<Record<string, string>>;
  /** Records per Kafka send. @default 1000 */
  batchMaxRecords?: number;
  /** Longest a decoded record waits for its batch to fill. @default 100 */
  batchMaxDelayMs?: number;
  /** Records queued or in flight beyond which new packets' records are dropped (counted). @default 100000 */
  maxQueuedRecords?: number;
  /** Dead letters queued beyond which further ones are dropped (counted). @default 1000 */
  maxQueuedDeadLetters?: number;
  /** How often waiting data sets and templates are checked for expiry. @default 1000 */
  expireIntervalMs?: number;
  /** Bound on the final flush at close. @default 10000 */
  closeTimeoutMs?: number;
  decoder?: NetflowDecoderOptions;
}

export interface NetflowCollectorDeps {
  producer: Producer;
  registry: Registry;
  logger: Logger;
}

interface Queued {
  readonly message: OutgoingMessage;
  readonly records: number;
  readonly version: string;
}

interface NetflowMetrics {
  packets: Counter<'version' | 'result'>;
  records: Counter<'version'>;
  errors: Counter<'error_code'>;
  dropped: Counter<'source' | 'reason'>;
}

const SOURCE = 'netflow';
/** JSON characters per Kafka record (flows are ASCII but for enterprise strings); well under Kafka's 1 MiB default. */
const MAX_MESSAGE_CHARS = 256 * 1024;

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  // Another entry point (HTTP, syslog) or a second collector may have registered it on this registry.
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function netflowMetrics(registry: Registry, decoder: () => NetflowDecoder): NetflowMetrics {
  if (registry.getSingleMetric('mamori_netflow_templates') === undefined) {
    new Gauge({ name: 'mamori_netflow_templates', help: 'NetFlow v9/IPFIX templates cached.', registers: [registry], collect() { this.set(decoder().templateCount); } });
    new Gauge({ name: 'mamori_netflow_pending_sets', help: 'NetFlow data sets waiting for their template.', registers: [registry], collect() { this.set(decoder().pendingCount); } });
  }
  return {
    packets: counter(registry, 'mamori_netflow_packets_total', 'NetFlow/IPFIX packets received, by version and result (ok or the error code).', ['version', 'result']),
    records: counter(registry, 'mamori_netflow_records_total', 'Flow records decoded and queued for Kafka, by version.', ['version']),
    errors: counter(registry, 'mamori_netflow_errors_total', 'NetFlow decode problems by error code (NETFLOW_TEMPLATE_MISSING counts packets given up).', ['error_code']),
    dropped: counter(registry, 'mamori_ingest_dropped_total', 'Records an ingest entry point dropped, by source and reason.', ['source', 'reason']),
  };
}

function versionLabel(version: number): string {
  return version === 5 || version === 9 || version === 10 ? String(version) : 'other';
}

function resultLabel(error: NetflowError | undefined): string {
  return error === undefined ? 'ok' : error.code.replace(/^NETFLOW_/, '').toLowerCase();
}

/**
 * NetFlow v5/v9/IPFIX over UDP: decodes each datagram with its exporter's template state and produces
 * the flows as JSON lines (one Kafka record per datagram, keyed by exporter) to `telemetry.raw.netflow.flow`,
 * in batches bounded by record count and delay. UDP cannot push back, so when the producer falls
 * behind by more than `maxQueuedRecords` new records are dropped and counted. Packets the decoder
 * refuses go to `telemetry.dlq` with their original bytes and the error code.
 */
export class NetflowCollector {
  private readonly decoder: NetflowDecoder;
  private readonly metrics: NetflowMetrics;
  private readonly stage: StageMetrics;
  private readonly errorLog: ThrottledErrorLog;
  private readonly topic: string;
  private readonly batchMaxRecords: number;
  private readonly batchMaxDelayMs: number;
  private readonly maxQueuedRecords: number;
  private readonly maxQueuedDeadLetters: number;
  private socket: Socket | undefined;
  private queue: Queued[] = [];
  private deadLetters: OutgoingMessage[] = [];
  /** Records queued plus records in the batch being sent. */
  private queuedRecords = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private expireTimer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly options: NetflowCollectorOptions,
    private readonly deps: NetflowCollectorDeps,
  ) {
    this.decoder = new NetflowDecoder(options.decoder);
    this.metrics = netflowMetrics(deps.registry, () => this.decoder);
    this.stage = stageMetrics(deps.registry);
    this.errorLog = new ThrottledErrorLog(deps.logger);
    this.topic = options.topic ?? NETFLOW_TOPIC;
    this.batchMaxRecords = options.batchMaxRecords ?? 1000;
    this.batchMaxDelayMs = options.batchMaxDelayMs ?? 100;
    this.maxQueuedRecords = options.maxQueuedRecords ?? 100_000;
    this.maxQueuedDeadLetters = options.maxQueuedDeadLetters ?? 1000;
  }

  /** Binds the socket; resolves with the bound address (port 0 → the port chosen). */
  async start(): Promise<AddressInfo> {
    const socket = createSocket({ type: this.options.host.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new Error(`NetFlow collector cannot bind ${this.options.host}:${this.options.port} (INGEST_NETFLOW_HOST/INGEST_NETFLOW_PORT): ${error.message}`, { cause: error }));
      socket.once('error', onError);
      socket.bind(this.options.port, this.options.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (error) => this.errorLog.error({ source: SOURCE }, error, `NetFlow socket error: ${error.message}`, 'NETFLOW_SOCKET_ERROR'));
    socket.on('message', (packet, remote) => this.receive(packet, remote.address));
    const every = this.options.expireIntervalMs ?? 1000;
    this.expireTimer = setInterval(() => this.deadLetterExpired(this.decoder.expire()), every);
    this.expireTimer.unref();
    return socket.address();
  }

  /** Decodes one datagram and queues its records and dead letters. Public for tests and replays. */
  receive(packet: Buffer, exporter: string, now = Date.now()): DecodeOutcome {
    const outcome = this.decoder.decode(packet, exporter, now);
    const version = versionLabel(outcome.version);
    const first = outcome.errors[0];
    this.metrics.packets.inc({ version, result: resultLabel(first) });
    for (const error of outcome.errors) this.metrics.errors.inc({ error_code: error.code });
    if (first !== undefined) {
      const reason = outcome.errors.map((e) => e.message).join('; ');
      this.queueDeadLetter(packet, exporter, first.code, reason, now);
    }
    this.deadLetterExpired(outcome.expired, now);

    const lines: string[] = [];
    let noAddress = 0;
    for (const record of outcome.records) {
      if (record.src_ip === null && record.dst_ip === null) noAddress++;
      else lines.push(JSON.stringify(record));
    }
    if (noAddress > 0) this.metrics.dropped.inc({ source: SOURCE, reason: 'no_address' }, noAddress);
    if (lines.length === 0) return outcome;
    if (this.closed || this.queuedRecords + lines.length > this.maxQueuedRecords) {
      this.metrics.dropped.inc({ source: SOURCE, reason: this.closed ? 'closing' : 'queue_full' }, lines.length);
      return outcome;
    }
    this.metrics.records.inc({ version }, lines.length);
    // One Kafka record per datagram, split when large (tiny IPFIX records can make a 64 KiB datagram
    // into megabytes of JSON, past the broker's message size limit).
    const headers = { [SENSOR_HEADERS.sensorId]: this.sensorId(exporter), [SENSOR_HEADERS.format]: NETFLOW_FORMAT };
    let chunk: string[] = [];
    let chunkBytes = 0;
    const push = (): void => {
      this.queue.push({ records: chunk.length, version, message: { key: exporter, value: chunk.join('\n'), timestamp: now, headers } });
      chunk = [];
      chunkBytes = 0;
    };
    for (const line of lines) {
      if (chunk.length > 0 && chunkBytes + line.length > MAX_MESSAGE_CHARS) push();
      chunk.push(line);
      chunkBytes += line.length + 1;
    }
    push();
    this.queuedRecords += lines.length;
    this.schedule();
    return outcome;
  }

  /** Sends everything queued; resolves when the producer acknowledged it (or it was dropped). */
  async flush(): Promise<void> {
    while (this.sending !== undefined || this.queue.length > 0 || this.deadLetters.length > 0) {
      if (this.sending === undefined) this.sending = this.sendLoop();
      await this.sending;
    }
  }

  /** Closes the socket, then sends what is queued, bounded by `closeTimeoutMs`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.expireTimer);
    clearTimeout(this.batchTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.closeTimeoutMs ?? 10_000)));
    const result = await Promise.race([this.flush().then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.metrics.dropped.inc({ source: SOURCE, reason: 'closing' }, this.queuedRecords);
      this.deps.logger.warn({ source: SOURCE, records: this.queuedRecords }, 'NetFlow collector closed before its queue was sent');
    }
  }

  private sensorId(exporter: string): string {
    return this.options.sensorIds?.[exporter] ?? `netflow:${exporter}`;
  }

  private queueDeadLetter(packet: Buffer, exporter: string, code: string, reason: string, now = Date.now()): void {
    if (this.deadLetters.length >= this.maxQueuedDeadLetters) {
      this.metrics.dropped.inc({ source: SOURCE, reason: 'dead_letter_queue_full' });
      return;
    }
    const headers = { [SENSOR_HEADERS.sensorId]: Buffer.from(this.sensorId(exporter)), [SENSOR_HEADERS.format]: Buffer.from('netflow.packet') };
    // The packet never was a Kafka record: the source position is the topic it was meant for, -1/-1.
    const source = { topic: this.topic, partition: -1, offset: '-1', key: Buffer.from(exporter), value: packet, headers, timestamp: now };
    this.deadLetters.push(deadLetterMessage('ingest', { message: source, code, reason: `${exporter}: ${reason}` }, now));
    this.stage.deadLettered.inc({ stage: 'ingest', topic: this.topic, error_code: code });
    this.schedule();
  }

  private deadLetterExpired(expired: DecodeOutcome['expired'], now = Date.now()): void {
    for (const e of expired) {
      this.metrics.errors.inc({ error_code: e.error.code });
      this.queueDeadLetter(e.packet, e.exporter, e.error.code, e.error.message, now);
    }
  }

  private schedule(): void {
    if (this.sending !== undefined) return; // the loop picks the new records up
    if (this.queuedRecords >= this.batchMaxRecords) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      this.sending = this.sendLoop();
      return;
    }
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = undefined;
      this.sending ??= this.sendLoop();
    }, this.batchMaxDelayMs);
  }

  /** One send at a time; runs until the queue is empty. Never rejects. */
  private async sendLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.deadLetters.length > 0) {
        if (this.deadLetters.length > 0) {
          const letters = this.deadLetters;
          this.deadLetters = [];
          try {
            await this.deps.producer.send(DEAD_LETTER_TOPIC, letters);
          } catch (error) {
            this.metrics.dropped.inc({ source: SOURCE, reason: 'dead_letter_failed' }, letters.length);
            this.errorLog.error({ source: SOURCE, topic: DEAD_LETTER_TOPIC }, error, `NetFlow dead letters lost: ${errorMessage(error)}`, 'NETFLOW_PRODUCE_FAILED');
          }
        }
        const batch: Queued[] = [];
        let records = 0;
        while (this.queue.length > 0 && (batch.length === 0 || records + (this.queue[0] as Queued).records <= this.batchMaxRecords)) {
          const next = this.queue.shift() as Queued;
          batch.push(next);
          records += next.records;
        }
        if (batch.length === 0) continue;
        try {
          await this.deps.producer.send(this.topic, batch.map((q) => q.message));
          this.stage.emitted.inc({ stage: 'ingest', topic: this.topic }, records);
        } catch (error) {
          this.metrics.dropped.inc({ source: SOURCE, reason: 'produce_failed' }, records);
          this.errorLog.error({ source: SOURCE, topic: this.topic }, error, `NetFlow records lost: ${errorMessage(error)}`, 'NETFLOW_PRODUCE_FAILED');
        } finally {
          this.queuedRecords -= records;
        }
      }
    } finally {
      this.sending = undefined;
    }
  }
}
