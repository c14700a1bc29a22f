import { randomUUID } from 'node:crypto';
import { MamoriError, sleep, type Logger } from '@mamori/core';
import type { Admin, ConsumedBatch, Consumer, Transport } from '@mamori/transport';

/** Where a correlation partition's latest state comes from. */
export interface StateSource {
  /** The latest value of every key of a changelog partition, once the reader holds the whole partition. */
  read(partition: number): Promise<Map<string, string>>;
}

export interface ChangelogStandbyOptions {
  transport: Transport;
  admin: Admin;
  topic: string;
  /** Prefix of the follower's consumer group; a random suffix makes it unique per process. */
  groupPrefix: string;
  logger: Logger;
  /** How long `read` waits to catch up before the batch fails (and is redelivered). @default 60000 */
  catchUpTimeoutMs?: number;
}

/**
 * A standby replica of the whole changelog (as Kafka Streams' standby tasks): a consumer in a group
 * of its own reads every partition from the beginning and keeps the latest value per key. When a
 * partition is (re)assigned, `read` waits until the replica holds the partition up to its end
 * offset, then hands over a copy: restoring after a rebalance is a wait for catch-up, not a replay.
 */
export class ChangelogStandby implements StateSource {
  private consumer: Consumer | undefined;
  private readonly data = new Map<number, Map<string, string>>();
  private readonly position = new Map<number, bigint>();

  constructor(private readonly options: ChangelogStandbyOptions) {}

  async start(): Promise<void> {
    this.consumer = this.options.transport.consumer({
      groupId: `${this.options.groupPrefix}.standby.${randomUUID()}`,
      topics: [this.options.topic],
      clientId: 'mamori-detector-standby',
      fromBeginning: true,
      maxBatchSize: 5000,
      maxWaitMs: 50,
    });
    await this.consumer.connect();
    await this.consumer.run(async (batch) => this.apply(batch));
  }

  private apply(batch: ConsumedBatch): void {
    for (const m of batch.messages) {
      let partition = this.data.get(m.partition);
      if (!partition) this.data.set(m.partition, (partition = new Map()));
      const key = m.key?.toString('utf8');
      if (key !== undefined) {
        if (m.value === null) partition.delete(key);
        else partition.set(key, m.value.toString('utf8'));
      }
      this.position.set(m.partition, BigInt(m.offset) + 1n);
    }
  }

  async read(partition: number): Promise<Map<string, string>> {
    const ends = await this.options.admin.endOffsets(this.options.topic);
    const end = BigInt(ends.find((e) => e.partition === partition)?.offset ?? '0');
    const deadline = Date.now() + (this.options.catchUpTimeoutMs ?? 60_000);
    while ((this.position.get(partition) ?? 0n) < end) {
      if (Date.now() > deadline) {
        throw new MamoriError('CORRELATION_RESTORE_TIMEOUT', `state of partition ${partition} not restored: replica at ${this.position.get(partition) ?? 0n}, changelog ends at ${end}`, { retryable: true });
      }
      await sleep(25);
    }
    return new Map(this.data.get(partition) ?? []);
  }

  async close(): Promise<void> {
    await this.consumer?.close(5_000);
  }
}
