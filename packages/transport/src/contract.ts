import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from './errors.ts';
import type { Admin, ConsumedBatch, ConsumedMessage, Consumer, ConsumerOptions, OutgoingMessage, Transport } from './types.ts';

/** How the contract suite reaches its backend. */
export interface ContractOptions {
  /**
   * Brokers to pass to `makeTransport`. @default `KAFKA_BROKERS` split on commas; the in-memory
   * transport needs none.
   */
  brokers?: string[];
  /** Whether to check the `KAFKA_UNREACHABLE` error against a closed port. @default true */
  checkUnreachable?: boolean;
  /**
   * Whether the producer can send arbitrary bytes as header values. An adapter that cannot must
   * refuse them with KAFKA_PRODUCE_FAILED (not retryable) rather than alter them; the suite checks
   * that instead. @default true
   */
  binaryHeaderValues?: boolean;
}

/**
 * The behaviour every Transport adapter must show, as vitest tests. Each test uses its own topics and
 * groups (random suffix) so suites can share one broker.
 */
export function runTransportContract(
  name: string,
  makeTransport: (brokers: string[]) => Transport,
  options: ContractOptions = {},
): void {
  const brokers =
    options.brokers ??
    (process.env['KAFKA_BROKERS'] ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0);

  describe(`transport contract: ${name}`, () => {
    let transport: Transport;
    let admin: Admin;
    const topics: string[] = [];
    const open: { close(): Promise<void> }[] = [];

    const unique = (prefix: string): string => `contract-${prefix}-${randomBytes(5).toString('hex')}`;

    async function topic(prefix: string, partitions = 1): Promise<string> {
      const name = unique(prefix);
      await admin.ensureTopics([{ topic: name, partitions, replicationFactor: 1 }]);
      topics.push(name);
      return name;
    }

    async function produce(topicName: string, messages: readonly OutgoingMessage[]): Promise<void> {
      const producer = transport.producer({ clientId: 'contract' });
      open.push(producer);
      await producer.connect();
      await producer.send(topicName, messages);
      await producer.close();
    }

    function consumer(consumerOptions: ConsumerOptions): Consumer {
      const c = transport.consumer({ maxWaitMs: 100, sessionTimeoutMs: 10_000, ...consumerOptions });
      open.push({ close: () => c.close(5_000) });
      return c;
    }

    /** Runs a consumer that records every batch; `fail` decides whether a batch's handler rejects. */
    async function collecting(consumerOptions: ConsumerOptions, fail: (batch: ConsumedBatch, call: number) => boolean = () => false) {
      const c = consumer(consumerOptions);
      const batches: ConsumedMessage[][] = [];
      const handled: ConsumedMessage[] = [];
      let calls = 0;
      await c.connect();
      await c.run(async (batch) => {
        calls += 1;
        batches.push([...batch.messages]);
        if (fail(batch, calls)) throw new Error('handler failed on purpose');
        handled.push(...batch.messages);
      });
      return { consumer: c, batches, handled };
    }

    beforeAll(async () => {
      transport = makeTransport(brokers);
      admin = transport.admin();
      await admin.connect();
    });

    afterAll(async () => {
      for (const resource of open.reverse()) await resource.close().catch(() => undefined);
      if (topics.length > 0) await admin.deleteTopics(topics).catch(() => undefined);
      await admin.close();
    });

    const binaryHeaders = options.binaryHeaderValues !== false;

    it(`round-trips values, keys and headers${binaryHeaders ? ', binary header values intact' : ''}`, async () => {
      const t = await topic('roundtrip');
      const binary = binaryHeaders ? Buffer.from([0x00, 0xff, 0x80, 0x7f, 0x0a]) : Buffer.from('bytes \u00e9\u6f22', 'utf8');
      await produce(t, [
        { key: 'k1', value: 'hello', headers: { 'content-type': 'text/plain', bin: binary }, timestamp: 1_700_000_000_000 },
        { key: Buffer.from([1, 2, 3]), value: Buffer.from([9, 8, 7]) },
        { value: 'no key' },
      ]);
      const { handled } = await collecting({ groupId: unique('g'), topics: [t] });
      await waitFor(() => handled.length >= 3, 'three records');
      const [first, second, third] = handled;
      expect(first?.key?.toString()).toBe('k1');
      expect(first?.value?.toString()).toBe('hello');
      expect(first?.headers['content-type']?.toString()).toBe('text/plain');
      expect(Buffer.isBuffer(first?.headers['bin'])).toBe(true);
      expect(first?.headers['bin']?.equals(binary)).toBe(true);
      expect(first?.timestamp).toBe(1_700_000_000_000);
      expect(first?.topic).toBe(t);
      expect(first?.partition).toBe(0);
      expect(first?.offset).toBe('0');
      expect(second?.key?.equals(Buffer.from([1, 2, 3]))).toBe(true);
      expect(second?.value?.equals(Buffer.from([9, 8, 7]))).toBe(true);
      expect(third?.key).toBeNull();
      expect(third?.value?.toString()).toBe('no key');
      expect(typeof third?.timestamp).toBe('number');
    });

    if (!binaryHeaders) {
      it('refuses header values it cannot send intact, writing nothing', async () => {
        const t = await topic('binheader');
        const producer = transport.producer();
        open.push(producer);
        await producer.connect();
        const error = await producer
          .send(t, [{ value: 'ok' }, { value: 'bad', headers: { bin: Buffer.from([0x00, 0xff]) } }])
          .then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(TransportError);
        expect((error as TransportError).code).toBe('KAFKA_PRODUCE_FAILED');
        expect((error as TransportError).retryable).toBe(false);
        expect((error as TransportError).message).toContain('bin');
        await producer.close();
        expect(await admin.endOffsets(t)).toEqual([{ partition: 0, offset: '0' }]);
      });
    }

    it('keeps order within a partition and places a key on one partition', async () => {
      const t = await topic('order', 3);
      const keys = ['a', 'b', 'c', 'd', 'e'];
      const messages: OutgoingMessage[] = [];
      for (let i = 0; i < 300; i++) messages.push({ key: keys[i % keys.length]!, value: String(i) });
      for (let i = 0; i < messages.length; i += 50) await produce(t, messages.slice(i, i + 50));
      const { handled } = await collecting({ groupId: unique('g'), topics: [t], maxBatchSize: 37 });
      await waitFor(() => handled.length >= 300, '300 records');
      expect(handled).toHaveLength(300);
      const partitionOfKey = new Map<string, number>();
      const lastValueOfKey = new Map<string, number>();
      const lastOffsetOfPartition = new Map<number, bigint>();
      for (const m of handled) {
        const k = m.key!.toString();
        const v = Number(m.value!.toString());
        expect(partitionOfKey.get(k) ?? m.partition).toBe(m.partition);
        partitionOfKey.set(k, m.partition);
        expect(v).toBeGreaterThan(lastValueOfKey.get(k) ?? -1);
        lastValueOfKey.set(k, v);
        expect(BigInt(m.offset)).toBeGreaterThan(lastOffsetOfPartition.get(m.partition) ?? -1n);
        lastOffsetOfPartition.set(m.partition, BigInt(m.offset));
      }
    });

    it('takes one send larger than a broker accepts in one request for one partition (1 MiB by default), in order', async () => {
      const t = await topic('large-send');
      const value = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(2_000)}`;
      await produce(t, Array.from({ length: 1_200 }, (_, i) => ({ key: 'one-key', value: value(i), headers: { 'h.name': 'v'.repeat(200) } })));
      const { handled } = await collecting({ groupId: unique('g'), topics: [t], maxBatchSize: 500 });
      await waitFor(() => handled.length >= 1_200, '1200 records');
      expect(handled.map((m) => m.value!.toString().slice(0, 6))).toEqual(Array.from({ length: 1_200 }, (_, i) => String(i).padStart(6, '0')));
    });

    it('bounds batches by maxBatchSize', async () => {
      const t = await topic('batch');
      await produce(t, Array.from({ length: 250 }, (_, i) => ({ value: String(i) })));
      const { batches, handled } = await collecting({ groupId: unique('g'), topics: [t], maxBatchSize: 20 });
      await waitFor(() => handled.length >= 250, '250 records');
      expect(batches.every((b) => b.length > 0 && b.length <= 20)).toBe(true);
      expect(handled.map((m) => m.value!.toString())).toEqual(Array.from({ length: 250 }, (_, i) => String(i)));
    });

    it('redelivers a failed batch, loses nothing, and a new member resumes after the committed offset', async () => {
      const t = await topic('redeliver');
      const groupId = unique('g');
      await produce(t, Array.from({ length: 50 }, (_, i) => ({ value: String(i) })));
      const { consumer: c, batches, handled } = await collecting({ groupId, topics: [t], maxBatchSize: 10 }, (_, call) => call === 1);
      await waitFor(() => handled.length >= 50, '50 records');
      const failed = batches[0]!.map((m) => m.offset);
      const retried = batches[1]!.map((m) => m.offset);
      expect(retried.slice(0, failed.length)).toEqual(failed);
      expect(new Set(handled.map((m) => m.value!.toString())).size).toBe(50);
      expect(handled.map((m) => m.offset)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
      await c.close();
      expect(await admin.committedOffsets(groupId, t)).toEqual([{ partition: 0, offset: '50' }]);

      await produce(t, Array.from({ length: 10 }, (_, i) => ({ value: `late-${i}` })));
      const next = await collecting({ groupId, topics: [t] });
      await waitFor(() => next.handled.length >= 10, '10 late records');
      await sleepMs(300);
      expect(next.handled.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => String(50 + i)));
      await next.consumer.close();
      expect(await admin.committedOffsets(groupId, t)).toEqual([{ partition: 0, offset: '60' }]);
    });

    it('commits nothing when closed while the handler is failing', async () => {
      const t = await topic('noncommit');
      const groupId = unique('g');
      await produce(t, Array.from({ length: 10 }, (_, i) => ({ value: String(i) })));
      const c = consumer({ groupId, topics: [t] });
      let started!: () => void;
      const handlerStarted = new Promise<void>((resolve) => (started = resolve));
      let fail!: (error: Error) => void;
      await c.connect();
      await c.run(
        () =>
          new Promise<void>((_, reject) => {
            fail = reject;
            started();
          }),
      );
      await handlerStarted;
      const closing = c.close(10_000);
      await sleepMs(100);
      fail(new Error('crashed mid-batch'));
      await closing;
      const committed = await admin.committedOffsets(groupId, t);
      expect(committed.every((p) => BigInt(p.offset) <= 0n)).toBe(true);

      const again = await collecting({ groupId, topics: [t] });
      await waitFor(() => again.handled.length >= 10, 'all 10 records again');
      expect(again.handled[0]?.offset).toBe('0');
    });

    it('splits partitions between two members of a group; each record is handled once', async () => {
      const t = await topic('group', 4);
      const groupId = unique('g');
      const a = await collecting({ groupId, topics: [t] });
      await waitFor(() => a.consumer.assignment().length === 4, 'first member owns all partitions');
      const b = await collecting({ groupId, topics: [t] });
      await waitFor(
        () => a.consumer.assignment().length > 0 && b.consumer.assignment().length > 0 && a.consumer.assignment().length + b.consumer.assignment().length === 4,
        'both members assigned',
        30_000,
      );
      const owned = [...a.consumer.assignment(), ...b.consumer.assignment()].map((tp) => `${tp.topic}:${tp.partition}`).sort();
      expect(owned).toEqual([0, 1, 2, 3].map((p) => `${t}:${p}`));

      await produce(t, Array.from({ length: 400 }, (_, i) => ({ key: `key-${i}`, value: String(i) })));
      await waitFor(() => a.handled.length + b.handled.length >= 400, '400 records across members');
      await sleepMs(500);
      expect(a.handled.length).toBeGreaterThan(0);
      expect(b.handled.length).toBeGreaterThan(0);
      const seen = [...a.handled, ...b.handled].map((m) => `${m.partition}:${m.offset}`);
      expect(new Set(seen).size).toBe(400);
      expect(seen).toHaveLength(400);
    });

    it('pause stops delivery and resume restarts it', async () => {
      const t = await topic('pause');
      const { consumer: c, handled } = await collecting({ groupId: unique('g'), topics: [t] });
      await produce(t, Array.from({ length: 5 }, (_, i) => ({ value: String(i) })));
      await waitFor(() => handled.length >= 5, 'first 5 records');
      c.pause();
      expect(c.isPaused()).toBe(true);
      await produce(t, Array.from({ length: 5 }, (_, i) => ({ value: String(5 + i) })));
      await sleepMs(1_500);
      expect(handled).toHaveLength(5);
      c.resume();
      expect(c.isPaused()).toBe(false);
      await waitFor(() => handled.length >= 10, 'records after resume');
      expect(handled.map((m) => m.value!.toString())).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    });

    it('send resolves only once the records are readable (acks=all, idempotent)', async () => {
      const t = await topic('acks', 2);
      const producer = transport.producer({ clientId: 'contract-acks', lingerMs: 20 });
      open.push(producer);
      await producer.connect();
      await Promise.all([
        producer.send(t, Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: String(i) }))),
        producer.send(t, Array.from({ length: 50 }, (_, i) => ({ partition: 1, value: `p1-${i}` }))),
      ]);
      // The high watermark only moves once every in-sync replica has the records.
      const end = await admin.endOffsets(t);
      expect(end.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(150);
      await producer.send(t, [{ partition: 0, value: 'last' }]);
      const after = await admin.endOffsets(t);
      expect(after.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(151);
      await producer.close();
    });

    it('admin: ensureTopics is idempotent; listTopics, endOffsets and deleteTopics work', async () => {
      const t = unique('admin');
      topics.push(t);
      await admin.ensureTopics([{ topic: t, partitions: 3, replicationFactor: 1, config: { 'retention.ms': '3600000' } }]);
      await admin.ensureTopics([{ topic: t, partitions: 3, replicationFactor: 1 }]);
      await admin.ensureTopics([{ topic: t, partitions: 3 }, { topic: t }]);
      expect(await admin.listTopics()).toContain(t);
      expect(await admin.endOffsets(t)).toEqual([0, 1, 2].map((partition) => ({ partition, offset: '0' })));
      await produce(t, [{ partition: 2, value: 'x' }, { partition: 2, value: 'y' }]);
      expect(await admin.endOffsets(t)).toEqual([
        { partition: 0, offset: '0' },
        { partition: 1, offset: '0' },
        { partition: 2, offset: '2' },
      ]);
      expect(await admin.committedOffsets(unique('nogroup'), t)).toEqual([0, 1, 2].map((partition) => ({ partition, offset: '-1' })));
      await admin.deleteTopics([t]);
      await waitFor(async () => !(await admin.listTopics()).includes(t), 'topic deleted');
    });

    if (options.checkUnreachable !== false) {
      it('fails fast with KAFKA_UNREACHABLE naming the brokers when nothing listens', async () => {
        const closed = ['127.0.0.1:1'];
        const broken = makeTransport(closed);
        for (const client of [broken.producer(), broken.admin(), broken.consumer({ groupId: unique('g'), topics: ['x'] })]) {
          const started = Date.now();
          const error = await client.connect().then(
            () => undefined,
            (e: unknown) => e,
          );
          await client.close().catch(() => undefined);
          expect(error).toBeInstanceOf(TransportError);
          expect((error as TransportError).code).toBe('KAFKA_UNREACHABLE');
          expect((error as TransportError).message).toContain('127.0.0.1:1');
          expect(Date.now() - started).toBeLessThan(15_000);
        }
      }, 60_000);
    }
  });
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds; fails the test with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleepMs(25);
  }
}
