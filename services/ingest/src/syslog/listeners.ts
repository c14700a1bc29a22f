import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { errorMessage, type Logger } from '@mamori/core';
import { DEAD_LETTER_TOPIC } from '@mamori/pipeline';
import { stageMetrics, type Registry } from '@mamori/metrics';
import type { OutgoingMessage, Producer } from '@mamori/transport';
import { ingestMetrics } from '../http/metrics.ts';
import { SENSOR_HEADERS } from '../sensor-headers.ts';
import { RecordBatcher } from './batcher.ts';
import { ingestDeadLetter } from './dead-letter.ts';
import { SyslogTcpFramer, type SyslogFrame } from './framing.ts';

/** The raw topic syslog messages go to (read by the normalizer's `syslog` format). */
export const SYSLOG_TOPIC = 'telemetry.raw.syslog.line';

/** Syslog listener settings (INGEST_SYSLOG_* in config.ts). */
export interface SyslogOptions {
  /** INGEST_SYSLOG_HOST: address to listen on. @default '127.0.0.1' */
  host: string;
  /** INGEST_SYSLOG_UDP_PORT; undefined disables UDP (the variable at 0 or unset), 0 here picks a free port. @default undefined */
  udpPort: number | undefined;
  /** INGEST_SYSLOG_TCP_PORT; undefined disables TCP (the variable at 0 or unset), 0 here picks a free port. @default undefined */
  tcpPort: number | undefined;
  /** INGEST_SYSLOG_MAX_MESSAGE_BYTES: longer messages are dead-lettered (SYSLOG_MESSAGE_TOO_LARGE). @default 65536 */
  maxMessageBytes: number;
  /** INGEST_SYSLOG_MAX_CONNECTIONS: TCP connections beyond this are refused. @default 1000 */
  maxConnections: number;
  /** INGEST_SYSLOG_IDLE_TIMEOUT_MS: a TCP connection silent this long is closed. @default 300000 */
  idleTimeoutMs: number;
  /** INGEST_SYSLOG_MAX_QUEUE_BYTES: above this many unacknowledged bytes, TCP reading pauses and UDP drops. @default 33554432 */
  maxQueueBytes: number;
  /** INGEST_SYSLOG_BATCH_RECORDS: records per Kafka send. @default 1000 */
  maxBatchRecords: number;
  /** INGEST_SYSLOG_LINGER_MS: longest a message waits for its batch. @default 20 */
  lingerMs: number;
}

export interface SyslogDeps {
  producer: Producer;
  registry: Registry;
  logger: Logger;
}

export interface SyslogListeners {
  /** Bound UDP address when UDP is enabled (port 0 in tests picks a free one). */
  readonly udp: AddressInfo | undefined;
  readonly tcp: AddressInfo | undefined;
  /** Stops listening, closes connections, sends what is queued. */
  close(): Promise<void>;
}

/** Error codes of the syslog listeners (docs/errors.md). */
export const SYSLOG_ERROR_CODES = ['SYSLOG_MESSAGE_TOO_LARGE', 'SYSLOG_FRAME_INCOMPLETE', 'SYSLOG_SEND_FAILED'] as const;

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 sender. */
function senderIp(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Starts the enabled syslog listeners. Each message becomes one record on `telemetry.raw.syslog.line`
 * keyed by the sender address, with `mamori.sensor_id` = `syslog:<sender ip>`.
 * Options: size-bounded messages, bounded connections, idle timeouts, batching, backpressure.
 */
export async function startSyslogListeners(options: SyslogOptions, deps: SyslogDeps): Promise<SyslogListeners> {
  const metrics = ingestMetrics(deps.registry);
  const stage = stageMetrics(deps.registry);
  const sources = new WeakMap<OutgoingMessage, string>();
  const result = (entries: readonly { topic: string; message: OutgoingMessage }[], ok: boolean): void => {
    for (const { topic, message } of entries) {
      const source = sources.get(message) ?? 'syslog_tcp';
      if (!ok) metrics.records.inc({ source, result: 'dropped' });
      else if (topic === DEAD_LETTER_TOPIC) metrics.records.inc({ source, result: 'rejected' });
      else metrics.records.inc({ source, result: 'accepted' });
    }
  };
  let lastFailureLog = 0;
  const batcher = new RecordBatcher(
    deps.producer,
    { maxQueueBytes: options.maxQueueBytes, maxBatchRecords: options.maxBatchRecords, lingerMs: options.lingerMs },
    (entries) => {
      result(entries, true);
      const emitted = entries.filter((e) => e.topic === SYSLOG_TOPIC).length;
      if (emitted > 0) stage.emitted.inc({ stage: 'ingest', topic: SYSLOG_TOPIC }, emitted);
    },
    (error, entries) => {
      result(entries, false);
      // Logged at most every 10 s: a broker outage must not flood the log.
      if (Date.now() - lastFailureLog > 10_000) {
        lastFailureLog = Date.now();
        deps.logger.error({ err: error, error_code: 'SYSLOG_SEND_FAILED', records: entries.length }, `syslog records could not be produced: ${errorMessage(error)}`);
      }
    },
  );

  const handle = (frame: SyslogFrame, ip: string, source: 'syslog_udp' | 'syslog_tcp'): void => {
    const record = { key: ip, value: frame.bytes, headers: { [SENSOR_HEADERS.sensorId]: `syslog:${ip}`, [SENSOR_HEADERS.format]: 'syslog' } };
    let message: OutgoingMessage;
    let topic = SYSLOG_TOPIC;
    if (frame.kind === 'message') {
      message = { ...record, timestamp: Date.now() };
    } else {
      const code = frame.kind === 'oversize' ? 'SYSLOG_MESSAGE_TOO_LARGE' : 'SYSLOG_FRAME_INCOMPLETE';
      const reason =
        frame.kind === 'oversize'
          ? `syslog message from ${ip} over ${options.maxMessageBytes} bytes${frame.size >= 0 ? ` (${frame.size})` : ''}; the first ${frame.bytes.length} bytes are kept`
          : `connection from ${ip} ended ${frame.size - frame.bytes.length} bytes short of an octet-counted frame of ${frame.size}`;
      message = ingestDeadLetter(SYSLOG_TOPIC, record, code, reason);
      stage.deadLettered.inc({ stage: 'ingest', topic: SYSLOG_TOPIC, error_code: code });
      topic = DEAD_LETTER_TOPIC;
    }
    sources.set(message, source);
    batcher.add(topic, message);
  };

  let udp: UdpSocket | undefined;
  let udpAddress: AddressInfo | undefined;
  if (options.udpPort !== undefined) {
    const socket = createSocket({ type: options.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    socket.on('message', (datagram: Buffer, rinfo: RemoteInfo) => {
      const ip = senderIp(rinfo.address);
      // UDP has no backpressure: past the bound the datagram is dropped and counted.
      if (batcher.overLimit) {
        metrics.records.inc({ source: 'syslog_udp', result: 'dropped' });
        return;
      }
      let end = datagram.length;
      while (end > 0 && (datagram[end - 1] === 0x0a || datagram[end - 1] === 0x0d || datagram[end - 1] === 0x00)) end--;
      if (end === 0) return;
      const bytes = datagram.subarray(0, end);
      handle(bytes.length > options.maxMessageBytes ? { kind: 'oversize', bytes: bytes.subarray(0, options.maxMessageBytes), size: bytes.length } : { kind: 'message', bytes }, ip, 'syslog_udp');
    });
    socket.on('error', (error) => deps.logger.error({ err: error }, `syslog UDP socket error: ${errorMessage(error)}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.udpPort, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    udp = socket;
    udpAddress = socket.address();
  }

  let tcp: Server | undefined;
  let tcpAddress: AddressInfo | undefined;
  const sockets = new Set<Socket>();
  let paused = false;
  if (options.tcpPort !== undefined) {
    const server = createServer((socket) => {
      const ip = senderIp(socket.remoteAddress);
      const framer = new SyslogTcpFramer(options.maxMessageBytes);
      sockets.add(socket);
      metrics.connections.inc({ source: 'syslog_tcp' });
      if (paused) socket.pause();
      socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        for (const frame of framer.push(chunk)) handle(frame, ip, 'syslog_tcp');
        if (batcher.overLimit && !paused) {
          paused = true;
          for (const s of sockets) s.pause();
        }
      });
      socket.on('error', () => undefined); // resets are normal; 'close' follows
      socket.on('close', () => {
        for (const frame of framer.end()) handle(frame, ip, 'syslog_tcp');
        sockets.delete(socket);
        metrics.connections.dec({ source: 'syslog_tcp' });
      });
    });
    server.maxConnections = options.maxConnections;
    server.on('drop', () => metrics.connectionsRejected.inc({ source: 'syslog_tcp' }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.tcpPort, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    tcp = server;
    tcpAddress = server.address() as AddressInfo;
  }
  batcher.onBelowLimit(() => {
    if (!paused) return;
    paused = false;
    for (const s of sockets) s.resume();
  });

  return {
    udp: udpAddress,
    tcp: tcpAddress,
    async close() {
      const closed = tcp ? new Promise<void>((resolve) => tcp!.close(() => resolve())) : Promise.resolve();
      for (const s of sockets) s.end();
      // Sockets that do not finish promptly are cut; their buffered frames were handled on 'close'.
      const cut = setTimeout(() => { for (const s of sockets) s.destroy(); }, 2000);
      await closed;
      clearTimeout(cut);
      if (udp) await new Promise<void>((resolve) => udp!.close(() => resolve()));
      await batcher.flush();
    },
  };
}
