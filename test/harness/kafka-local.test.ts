import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';

import { createKafkajsTransport } from '@mamori/transport-kafkajs';
import { startLocalCluster, type LocalCluster } from './index.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

function client(brokers: string): Kafka {
  return new Kafka({ clientId: 'harness-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 } });
}

/** Pids of java processes whose command line mentions `dir` (our brokers for that data dir). */
function javaPidsFor(dir: string): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .filter((line) => line.includes('kafka.Kafka') && line.includes(dir))
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => !(cols[1] ?? '').includes('Z'))
    .map((cols) => Number(cols[0]));
}

describe('the broker the global setup started', () => {
  it('is provided to tests and exported as KAFKA_BROKERS', () => {
    const brokers = inject('kafkaBrokers');
    expect(brokers).toMatch(/^[^,:]+:\d+(,[^,:]+:\d+)*$/);
    expect(process.env['KAFKA_BROKERS']).toBe(brokers);
  });

  it('creates a topic, takes a message and hands it to a consumer group', async () => {
    const kafka = client(inject('kafkaBrokers'));
    const topic = `harness-single-${Date.now()}`;
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 200 });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'hello mamori' }] });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 30s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve(message.value?.toString() ?? '');
          },
        });
      });
      expect(received).toBe('hello mamori');
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

describe('a three-broker cluster from startLocalCluster', () => {
  let cluster: LocalCluster | undefined;
  let admin: Admin | undefined;
  let producer: Producer | undefined;

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await cluster?.stop();
  });

  it('replicates a topic three ways, keeps taking acks=all writes with one broker dead, and stops cleanly', async () => {
    cluster = await startLocalCluster({ brokers: 3 });
    expect(cluster.brokerList).toHaveLength(3);
    const kafka = client(cluster.brokers);
    const topic = 'harness-rf3';

    admin = kafka.admin();
    await admin.connect();
    // Created through the transport's ensureTopics (what services run at start): on three brokers a
    // broker can answer that it does not know the new topic yet, which must not fail the create.
    const transport = createKafkajsTransport({ brokers: cluster.brokerList });
    const mamoriAdmin = transport.admin();
    await mamoriAdmin.connect();
    try {
      await mamoriAdmin.ensureTopics([{ topic, partitions: 3, replicationFactor: 3 }]);
    } finally {
      await mamoriAdmin.close();
    }
    // Asked again through another client, which may reach a broker that learns of it a moment later.
    let partitions: { partitionId: number; leader: number; replicas: number[] }[] = [];
    for (let attempt = 0; attempt < 40 && !(partitions.length === 3 && partitions.every((p) => p.leader >= 0)); attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      partitions = (await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.topics[0]?.partitions ?? [];
    }
    expect(partitions).toHaveLength(3);
    for (const p of partitions) expect(p.leader).toBeGreaterThanOrEqual(0);
    for (const p of partitions) expect(p.replicas).toHaveLength(3);
    const configs = await admin.describeConfigs({
      resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('2');

    producer = kafka.producer({ retry: { retries: 10, initialRetryTime: 300 } });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'before' }] });

    // Kill the broker that leads partition 0, so the write below needs a leader election too.
    const leader = partitions.find((p) => p.partitionId === 0)?.leader ?? 1;
    const victim = leader - 1;
    const victimPid = await cluster.brokerPid(victim);
    await cluster.killBroker(victim);
    expect(await cluster.brokerPid(victim)).toBeUndefined();
    expect(victimPid).toBeDefined();

    // The controller fences the dead broker after broker.session.timeout.ms (6 s) and elects new
    // leaders; on a loaded machine that can outlast the client's connection retries, so wait for it.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      const leaders = meta?.topics[0]?.partitions.map((p) => p.leader) ?? [];
      if (leaders.length === 3 && leaders.every((l) => l !== leader && l >= 0)) break;
      if (Date.now() > deadline) throw new Error(`partitions still led by the dead broker ${leader}: ${JSON.stringify(leaders)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    // Two of three replicas are still >= min.insync.replicas, so acks=all writes keep succeeding.
    const sent = await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2].map((partition) => ({ partition, value: `after-${partition}` })),
    });
    expect(sent.every((r) => r.errorCode === 0)).toBe(true);

    await cluster.restartBroker(victim);
    expect(await cluster.brokerPid(victim)).toBeDefined();

    await producer.disconnect();
    await admin.disconnect();
    producer = undefined;
    admin = undefined;
    const dataDir = cluster.dataDir;
    await cluster.stop();
    cluster = undefined;
    expect(javaPidsFor(dataDir)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
  }, 150_000);
});
