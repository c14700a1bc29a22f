import { sleep } from '@mamori/core';
import { redeliveryDelayMs } from './backoff.ts';
import { TransportError } from './errors.ts';
import { partitionForKey } from './murmur2.ts';
import type {
  Admin,
  BatchHandler,
  ConsumedMessage,
  Consumer,
  ConsumerOptions,
  OutgoingMessage,
  Producer,
  TopicPartition,
  TopicSpec,
  Transport,
} from './types.ts';

/**
 * An in-process stand-in for a Kafka cluster, for unit tests of a stage. It keeps the semantics the
 * stages rely on: partitions chosen by key hash, consumer groups that split partitions and keep
 * committed offsets, redelivery after a handler rejects, pause/resume. It is never the proof that
 * the pipeline works: the contract suite runs the real adapters against a real broker.
 */
export class MemoryBroker {
  readonly topics = new Map<string, ConsumedMessage[][]>();
  readonly groups = new Map<string, MemoryGroup>();
  private waiters = new Set<() => void>();

  /** Wakes every consumer waiting for data or for a change of assignment. */
  notify(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next `notify()` or after `ms`. */
  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      this.waiters.add(done);
    });
  }

  group(groupId: string): MemoryGroup {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new MemoryGroup(this);
      this.groups.set(groupId, group);
    }
    return group;
  }

  rebalanceAll(): void {
    for (const group of this.groups.values()) group.rebalance();
  }
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

class MemoryGroup {
  readonly members: MemoryConsumer[] = [];
  /** Next offset to read per topic-partition. */
  readonly committed = new Map<string, number>();
  generation = 0;

  constructor(private readonly broker: MemoryBroker) {}

  join(member: MemoryConsumer): void {
    this.members.push(member);
    this.rebalance();
  }

  leave(member: MemoryConsumer): void {
    const index = this.members.indexOf(member);
    if (index >= 0) this.members.splice(index, 1);
    this.rebalance();
  }

  /** Round-robin over the sorted partitions of each topic among the members subscribed to it. */
  rebalance(): void {
    this.generation += 1;
    const assignments = new Map<MemoryConsumer, TopicPartition[]>(this.members.map((m) => [m, []]));
    const topics = [...new Set(this.members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const partitions = this.broker.topics.get(topic);
      if (partitions === undefined) continue;
      const subscribers = this.members.filter((m) => m.topics.includes(topic));
      for (let partition = 0; partition < partitions.length; partition++) {
        const member = subscribers[partition % subscribers.length];
        if (member !== undefined) assignments.get(member)?.push({ topic, partition });
      }
    }
    for (const [member, assigned] of assignments) member.assign(assigned, this.generation);
    this.broker.notify();
  }
}

function toBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

class MemoryProducer implements Producer {
  private stickyPartition = 0;
  private connected = false;

  constructor(private readonly broker: MemoryBroker) {}

  async connect(): Promise<void> {
    this.connected = true;
  }

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (!this.connected) throw new TransportError('KAFKA_PRODUCE_FAILED', 'producer.send called before connect()', { retryable: false });
    const partitions = this.broker.topics.get(topic);
    if (partitions === undefined) {
      throw new TransportError('KAFKA_PRODUCE_FAILED', `topic "${topic}" does not exist; create it with admin.ensureTopics`, { retryable: false });
    }
    this.stickyPartition = (this.stickyPartition + 1) % partitions.length;
    for (const message of messages) {
      const recordKey = message.key === undefined || message.key === null ? null : toBuffer(message.key);
      const partition = message.partition ?? (recordKey !== null ? partitionForKey(recordKey, partitions.length) : this.stickyPartition);
      const log = partitions[partition];
      if (log === undefined) {
        throw new TransportError('KAFKA_PRODUCE_FAILED', `topic "${topic}" has no partition ${partition}`, { retryable: false });
      }
      const headers: Record<string, Buffer> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = toBuffer(value);
      log.push({
        topic,
        partition,
        offset: String(log.length),
        key: recordKey,
        value: message.value === null ? null : toBuffer(message.value),
        headers,
        timestamp: message.timestamp ?? Date.now(),
      });
    }
    this.broker.notify();
  }

  async close(): Promise<void> {
    this.connected = false;
  }
}

class MemoryConsumer implements Consumer {
  readonly topics: readonly string[];
  private readonly group: MemoryGroup;
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private assigned: TopicPartition[] = [];
  private generation = 0;
  /** Next offset to deliver per assigned topic-partition. */
  private positions = new Map<string, number>();
  private paused = false;
  private running = false;
  private member = false;
  private loop: Promise<void> | undefined;
  private readonly stop = new AbortController();

  constructor(
    private readonly broker: MemoryBroker,
    private readonly options: ConsumerOptions,
  ) {
    this.topics = [...options.topics];
    this.group = broker.group(options.groupId);
    this.maxBatchSize = options.maxBatchSize ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? 100;
  }

  async connect(): Promise<void> {}

  /** Called by the group on every rebalance: positions restart from the committed offsets. */
  assign(assigned: TopicPartition[], generation: number): void {
    this.assigned = assigned;
    this.generation = generation;
    this.positions = new Map();
    for (const { topic, partition } of assigned) {
      const committed = this.group.committed.get(key(topic, partition));
      const end = this.broker.topics.get(topic)?.[partition]?.length ?? 0;
      this.positions.set(key(topic, partition), committed ?? (this.options.fromBeginning === false ? end : 0));
    }
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.running) throw new TransportError('KAFKA_CONSUME_FAILED', 'consumer.run called twice', { retryable: false });
    this.running = true;
    this.member = true;
    this.group.join(this);
    this.loop = this.consume(handler);
  }

  private nextBatch(): ConsumedMessage[] {
    const batch: ConsumedMessage[] = [];
    for (const { topic, partition } of this.assigned) {
      const log = this.broker.topics.get(topic)?.[partition];
      const from = this.positions.get(key(topic, partition)) ?? 0;
      if (log === undefined) continue;
      for (let offset = from; offset < log.length && batch.length < this.maxBatchSize; offset++) {
        batch.push(log[offset]!);
      }
      if (batch.length >= this.maxBatchSize) break;
    }
    return batch;
  }

  private async consume(handler: BatchHandler): Promise<void> {
    let failures = 0;
    while (this.running) {
      const batch = this.paused ? [] : this.nextBatch();
      if (batch.length === 0) {
        await this.broker.waitForChange(this.maxWaitMs);
        continue;
      }
      const generation = this.generation;
      const next = new Map<string, number>();
      for (const m of batch) next.set(key(m.topic, m.partition), Number(m.offset) + 1);
      for (const [tp, offset] of next) this.positions.set(tp, offset);
      try {
        await handler({ messages: batch });
      } catch {
        failures += 1;
        if (generation === this.generation) {
          for (const m of batch) {
            const tp = key(m.topic, m.partition);
            const first = Number(m.offset);
            if (first < (this.positions.get(tp) ?? Infinity)) this.positions.set(tp, first);
          }
        }
        await sleep(redeliveryDelayMs(failures), this.stop.signal);
        continue;
      }
      failures = 0;
      // A commit from an older generation is refused, as the group coordinator does.
      if (this.member && generation === this.generation) {
        for (const [tp, offset] of next) this.group.committed.set(tp, offset);
      }
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.broker.notify();
  }

  isPaused(): boolean {
    return this.paused;
  }

  assignment(): readonly TopicPartition[] {
    return this.member ? [...this.assigned] : [];
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stop.abort();
    this.broker.notify();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.member = false;
    this.group.leave(this);
    this.assigned = [];
  }
}

class MemoryAdmin implements Admin {
  constructor(private readonly broker: MemoryBroker) {}

  async connect(): Promise<void> {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    let created = false;
    for (const spec of specs) {
      if (this.broker.topics.has(spec.topic)) continue;
      this.broker.topics.set(spec.topic, Array.from({ length: spec.partitions ?? 1 }, () => []));
      created = true;
    }
    if (created) this.broker.rebalanceAll();
  }

  async listTopics(): Promise<string[]> {
    return [...this.broker.topics.keys()];
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      this.broker.topics.delete(topic);
      for (const group of this.broker.groups.values()) {
        for (const tp of [...group.committed.keys()]) if (tp.startsWith(`${topic}\u0000`)) group.committed.delete(tp);
      }
    }
    this.broker.rebalanceAll();
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]> {
    const partitions = this.broker.topics.get(topic) ?? [];
    const group = this.broker.groups.get(groupId);
    return partitions.map((_, partition) => ({ partition, offset: String(group?.committed.get(key(topic, partition)) ?? -1) }));
  }

  async endOffsets(topic: string): Promise<{ partition: number; offset: string }[]> {
    const partitions = this.broker.topics.get(topic);
    if (partitions === undefined) throw new TransportError('KAFKA_ADMIN_FAILED', `topic "${topic}" does not exist`, { retryable: false });
    return partitions.map((log, partition) => ({ partition, offset: String(log.length) }));
  }

  async close(): Promise<void> {}
}

/**
 * An in-memory Transport. Transports made from the same `broker` share topics and groups, as
 * services sharing a cluster do.
 */
export function createMemoryTransport(broker: MemoryBroker = new MemoryBroker()): Transport {
  return {
    name: 'memory',
    producer: () => new MemoryProducer(broker),
    consumer: (options) => new MemoryConsumer(broker, options),
    admin: () => new MemoryAdmin(broker),
  };
}
