import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { silentLogger, sleep } from '@mamori/core';
import { Registry } from '@mamori/metrics';
import { DEAD_LETTER_TOPIC, readDeadLetter } from '@mamori/pipeline';
import type { ConsumedMessage, Producer } from '@mamori/transport';
import { createMemoryTransport, MemoryBroker } from '@mamori/transport/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { startSyslogListeners, SYSLOG_TOPIC, type SyslogListeners, type SyslogOptions } from './listeners.ts';

const base: SyslogOptions = { host: '127.0.0.1', udpPort: 0, tcpPort: 0, maxMessageBytes: 64, maxConnections: 10, idleTimeoutMs: 5000, maxQueueBytes: 1 << 20, maxBatchRecords: 100, lingerMs: 5 };

async function setup(options: Partial<SyslogOptions> = {}, wrap?: (p: Producer) => Producer) {
  const broker = new MemoryBroker();
  const transport = createMemoryTransport(broker);
  const admin = transport.admin();
  await admin.ensureTopics([{ topic: SYSLOG_TOPIC }, { topic: DEAD_LETTER_TOPIC }]);
  const producer = transport.producer();
  await producer.connect();
  const registry = new Registry();
  const listeners = await startSyslogListeners({ ...base, ...options }, { producer: wrap ? wrap(producer) : producer, registry, logger: silentLogger() });
  const read = (topic: string): ConsumedMessage[] => broker.topics.get(topic)?.flat() ?? [];
  return { listeners, read, registry };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

let open: SyslogListeners | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('syslog listeners', () => {
  it('produces each UDP datagram as one record keyed by sender, oversize to the dead-letter topic', async () => {
    const { listeners, read, registry } = await setup();
    open = listeners;
    const client = createSocket('udp4');
    const send = (text: string) => new Promise<void>((resolve) => client.send(Buffer.from(text), listeners.udp!.port, '127.0.0.1', () => resolve()));
    await send('<13>Jan  1 00:00:00 h app: one\n');
    await send(`<13>${'y'.repeat(100)}`);
    await until(() => read(SYSLOG_TOPIC).length === 1 && read(DEAD_LETTER_TOPIC).length === 1);
    client.close();
    const [record] = read(SYSLOG_TOPIC);
    expect(record!.value!.toString()).toBe('<13>Jan  1 00:00:00 h app: one');
    expect(record!.key!.toString()).toBe('127.0.0.1');
    expect(record!.headers['mamori.sensor_id']!.toString()).toBe('syslog:127.0.0.1');
    const letter = readDeadLetter(read(DEAD_LETTER_TOPIC)[0]!);
    expect([letter.code, letter.sourceTopic, letter.value!.length]).toEqual(['SYSLOG_MESSAGE_TOO_LARGE', SYSLOG_TOPIC, 64]);
    const text = await registry.metrics();
    expect(text).toContain('mamori_ingest_records_total{source="syslog_udp",result="accepted"} 1');
    expect(text).toContain('mamori_ingest_records_total{source="syslog_udp",result="rejected"} 1');
  });

  it('reads octet-counted and newline-framed TCP messages from one connection', async () => {
    const { listeners, read } = await setup({ udpPort: undefined });
    open = listeners;
    const socket = connect(listeners.tcp!.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('11 <13>a\nb c d');
    socket.write('<14>line two\n');
    socket.end('<15>last');
    await until(() => read(SYSLOG_TOPIC).length === 3);
    expect(read(SYSLOG_TOPIC).map((m) => m.value!.toString())).toEqual(['<13>a\nb c d', '<14>line two', '<15>last']);
  });

  it('pauses TCP reading while the producer is over its bound, then resumes without loss', async () => {
    let release: () => void = () => undefined;
    let gate = new Promise<void>((resolve) => (release = resolve));
    const { listeners, read } = await setup({ udpPort: undefined, maxQueueBytes: 200, maxBatchRecords: 1 }, (p) => ({
      ...p,
      connect: () => p.connect(),
      close: () => p.close(),
      send: async (topic, messages) => {
        await gate;
        return p.send(topic, messages);
      },
    }));
    open = listeners;
    const socket = connect(listeners.tcp!.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    for (let i = 0; i < 20; i++) socket.write(`<13>message number ${i}\n`);
    await sleep(100);
    expect(read(SYSLOG_TOPIC)).toHaveLength(0);
    release();
    gate = Promise.resolve();
    socket.end();
    await until(() => read(SYSLOG_TOPIC).length === 20);
    expect(read(SYSLOG_TOPIC).map((m) => m.value!.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `<13>message number ${i}`));
  });
});
