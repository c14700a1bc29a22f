import { createSocket } from 'node:dgram';
import { silentLogger } from '@mamori/core';
import { Registry } from '@mamori/metrics';
import { DEAD_LETTER_TOPIC, readDeadLetter } from '@mamori/pipeline';
import type { OutgoingMessage, Producer } from '@mamori/transport';
import { MemoryBroker, createMemoryTransport } from '@mamori/transport/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { NETFLOW_TOPIC, NetflowCollector } from './collector.ts';
import type { FlowRecord } from './flow-record.ts';
import { FLOW_FIELDS, flowRow, ipfixPacket, set, templateRecord, v9Packet } from './test-packets.ts';

const open: NetflowCollector[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(options: Partial<ConstructorParameters<typeof NetflowCollector>[0]> = {}) {
  const broker = new MemoryBroker();
  const transport = createMemoryTransport(broker);
  const admin = transport.admin();
  await admin.ensureTopics([{ topic: NETFLOW_TOPIC }, { topic: DEAD_LETTER_TOPIC }]);
  const producer = transport.producer();
  await producer.connect();
  const registry = new Registry();
  const collector = new NetflowCollector({ host: '127.0.0.1', port: 0, batchMaxDelayMs: 10, ...options }, { producer, registry, logger: silentLogger() });
  open.push(collector);
  return { broker, registry, collector };
}

function sendUdp(port: number, packets: Buffer[]): Promise<void> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = packets.length;
    for (const p of packets) {
      socket.send(p, port, '127.0.0.1', (error) => {
        if (error) reject(error);
        if (--left === 0) {
          socket.close();
          resolve();
        }
      });
    }
  });
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const template = set(0, templateRecord(300, FLOW_FIELDS));
const data = set(300, Buffer.concat([flowRow('10.0.0.1', '10.0.0.2', 1234, 80, 6, 1500, 3, 90_000, 95_000), flowRow('10.0.0.2', '10.0.0.1', 80, 1234, 6, 9000, 7, 90_500, 99_000)]));

describe('NetflowCollector', () => {
  it('receives UDP, produces JSON lines keyed by exporter, dead-letters malformed packets with their bytes', async () => {
    const { broker, registry, collector } = await setup({ sensorIds: { '10.9.9.9': 'edge-1' } });
    const { port } = await collector.start();
    expect(port).toBeGreaterThan(0);
    const malformed = Buffer.from([0, 5, 0, 30, 1, 2, 3]);
    await sendUdp(port, [v9Packet([template, data]), malformed, Buffer.from([0, 42, 0, 0])]);
    const log = () => broker.topics.get(NETFLOW_TOPIC)?.flat() ?? [];
    const dlq = () => broker.topics.get(DEAD_LETTER_TOPIC)?.flat() ?? [];
    await until(() => log().length === 1 && dlq().length === 2);

    const [message] = log();
    expect(message?.key?.toString()).toBe('127.0.0.1');
    expect(message?.headers['mamori.sensor_id']?.toString()).toBe('netflow:127.0.0.1');
    expect(message?.headers['mamori.format']?.toString()).toBe('netflow.flow');
    const lines = message?.value?.toString().split('\n').map((l) => JSON.parse(l) as FlowRecord);
    expect(lines?.map((r) => [r.src_ip, r.dst_ip, r.bytes])).toEqual([['10.0.0.1', '10.0.0.2', 1500], ['10.0.0.2', '10.0.0.1', 9000]]);

    const letters = dlq().map(readDeadLetter);
    expect(letters.map((l) => l.code).sort()).toEqual(['NETFLOW_MALFORMED', 'NETFLOW_VERSION_UNSUPPORTED']);
    expect(letters.find((l) => l.code === 'NETFLOW_MALFORMED')).toMatchObject({ stage: 'ingest', sourceTopic: NETFLOW_TOPIC, value: malformed });

    const metrics = await registry.getMetricsAsJSON();
    const values = (name: string) => metrics.find((m) => m.name === name)?.values.map((v) => [v.labels, v.value]);
    expect(values('mamori_netflow_packets_total')).toEqual(
      expect.arrayContaining([[{ version: '9', result: 'ok' }, 1], [{ version: '5', result: 'malformed' }, 1], [{ version: 'other', result: 'version_unsupported' }, 1]]),
    );
    expect(values('mamori_netflow_records_total')).toEqual([[{ version: '9' }, 2]]);
    expect(values('mamori_netflow_templates')).toEqual([[{}, 1]]);
  });

  it('maps exporters to configured sensor ids', async () => {
    const { broker, collector } = await setup({ sensorIds: { '10.9.9.9': 'edge-1' } });
    collector.receive(v9Packet([template, data]), '10.9.9.9');
    await collector.flush();
    expect(broker.topics.get(NETFLOW_TOPIC)?.flat()[0]?.headers['mamori.sensor_id']?.toString()).toBe('edge-1');
  });

  it('batches by record count', async () => {
    const sends: number[] = [];
    const producer: Producer = { connect: async () => {}, close: async () => {}, send: async (_topic, messages) => void sends.push(messages.length) };
    const collector = new NetflowCollector({ host: '127.0.0.1', port: 0, batchMaxRecords: 4, batchMaxDelayMs: 60_000 }, { producer, registry: new Registry(), logger: silentLogger() });
    open.push(collector);
    collector.receive(v9Packet([template, data]), '10.0.0.1'); // 2 records: below the batch size, waits
    expect(sends).toEqual([]);
    collector.receive(v9Packet([data]), '10.0.0.1'); // 4: sent
    await collector.flush();
    expect(sends).toEqual([2]); // two Kafka records (one per datagram), four flows
  });

  it('splits a datagram of many tiny records into Kafka records under the size bound', async () => {
    const sent: OutgoingMessage[] = [];
    const producer: Producer = { connect: async () => {}, close: async () => {}, send: async (_topic, messages) => void sent.push(...messages) };
    const collector = new NetflowCollector({ host: '127.0.0.1', port: 0, batchMaxRecords: 100_000, maxQueuedRecords: 100_000 }, { producer, registry: new Registry(), logger: silentLogger() });
    open.push(collector);
    const rows = Buffer.alloc(12_000 * 5);
    for (let i = 0; i < 12_000; i++) rows.set([10, 0, (i >> 8) & 0xff, i & 0xff, 17], i * 5);
    collector.receive(ipfixPacket([set(2, templateRecord(900, [[8, 4], [4, 1]])), set(900, rows)]), '10.0.0.1');
    await collector.flush();
    expect(sent.length).toBeGreaterThan(5);
    expect(sent.every((m) => String(m.value).length <= 256 * 1024)).toBe(true);
    expect(sent.reduce((n, m) => n + String(m.value).split('\n').length, 0)).toBe(12_000);
  });

  it('drops with a count when the producer falls behind the queue bound', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const sent: OutgoingMessage[] = [];
    const producer: Producer = {
      connect: async () => {},
      close: async () => {},
      send: async (_topic, messages) => {
        await gate;
        sent.push(...messages);
      },
    };
    const registry = new Registry();
    const collector = new NetflowCollector({ host: '127.0.0.1', port: 0, batchMaxRecords: 2, maxQueuedRecords: 4 }, { producer, registry, logger: silentLogger() });
    open.push(collector);
    for (let i = 0; i < 5; i++) collector.receive(v9Packet(i === 0 ? [template, data] : [data]), '10.0.0.1');
    release();
    await collector.flush();
    expect(sent).toHaveLength(2);
    const dropped = (await registry.getMetricsAsJSON()).find((m) => m.name === 'mamori_ingest_dropped_total')?.values;
    expect(dropped).toEqual([{ labels: { source: 'netflow', reason: 'queue_full' }, value: 6 }]);
  });

  it('dead-letters data whose template never came, after the pending age', async () => {
    const { broker, collector } = await setup({ decoder: { pendingMaxAgeMs: 1_000 } });
    const orphan = v9Packet([data]);
    collector.receive(orphan, '10.0.0.1', 1_000);
    collector.receive(Buffer.from([0, 9]), '10.0.0.1', 2_001); // any later packet triggers the expiry
    await collector.flush();
    const letters = (broker.topics.get(DEAD_LETTER_TOPIC)?.flat() ?? []).map(readDeadLetter);
    expect(letters.map((l) => l.code)).toEqual(['NETFLOW_MALFORMED', 'NETFLOW_TEMPLATE_MISSING']);
    expect(letters[1]?.value).toEqual(orphan);
  });

  it('reports a port in use naming the setting', async () => {
    const { collector } = await setup();
    const { port } = await collector.start();
    const { collector: second } = await setup({ port });
    await expect(second.start()).rejects.toThrow(/INGEST_NETFLOW_PORT/);
  });
});
