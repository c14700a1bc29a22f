import { randomUUID } from 'node:crypto';
import { MamoriError, sleep, withTimeout } from '@mamori/core';
import type { ConsumedBatch, OutgoingMessage, Producer, Transport } from '@mamori/transport';

/** Compacted topic of the threat-intel indicators the detector has indexed (docs/detections.md, retro-matching). */
export const INTEL_KNOWN_TOPIC = 'telemetry.detector.intel-known';

/** Records per send (keys are short: feed, kind, value). */
const SEND_GROUP = 5_000;

export interface IntelKnownLogOptions {
  transport: Transport;
  /** Sends the key changes (acks=all, idempotent). Not closed by the log. */
  producer: Producer;
  /** @default 'telemetry.detector.intel-known' */
  topic?: string;
  /** Prefix of the reader's consumer group (a random suffix makes each unique). */
  groupPrefix: string;
  /** How long reading the topic at start-up may take. @default 60000 */
  readTimeoutMs?: number;
  replicationFactor?: number;
}

/**
 * The keys of the indicators the detector's feeds held (`indicatorKey`: feed, kind, value), kept in a
 * compacted single-partition topic: one record per key, a tombstone when a refresh no longer has it.
 * At start-up the detector reads it back, so what a feed gained while the detector was down counts as
 * new and is retro-matched like what a refresh adds while it runs; without it a restart silently
 * skipped retro-matching for those indicators.
 */
export class IntelKnownLog {
  readonly topic: string;

  constructor(private readonly options: IntelKnownLogOptions) {
    this.topic = options.topic ?? INTEL_KNOWN_TOPIC;
  }

  /** Creates the topic when missing and reads every live key. */
  async read(): Promise<Set<string>> {
    const admin = this.options.transport.admin();
    await admin.connect();
    let end: bigint;
    try {
      await admin.ensureTopics([
        {
          topic: this.topic,
          partitions: 1,
          ...(this.options.replicationFactor ? { replicationFactor: this.options.replicationFactor } : {}),
          config: { 'cleanup.policy': 'compact' },
        },
      ]);
      end = BigInt((await admin.endOffsets(this.topic)).find((e) => e.partition === 0)?.offset ?? '0');
    } finally {
      await admin.close();
    }
    const keys = new Set<string>();
    if (end === 0n) return keys;
    const consumer = this.options.transport.consumer({
      groupId: `${this.options.groupPrefix}.intel-known.${randomUUID()}`,
      topics: [this.topic],
      clientId: 'mamori-detector-intel-known',
      fromBeginning: true,
      maxBatchSize: 5000,
      maxWaitMs: 50,
    });
    let position = 0n;
    const timeoutMs = this.options.readTimeoutMs ?? 60_000;
    await consumer.connect();
    try {
      await consumer.run(async (batch: ConsumedBatch) => {
        for (const m of batch.messages) {
          if (m.partition !== 0 || BigInt(m.offset) >= end) continue;
          const key = m.key?.toString('utf8');
          if (key !== undefined) {
            if (m.value === null) keys.delete(key);
            else keys.add(key);
          }
          position = BigInt(m.offset) + 1n;
        }
      });
      const deadline = Date.now() + timeoutMs;
      while (position < end) {
        if (Date.now() > deadline) throw new MamoriError('DETECTOR_STATE_RESTORE_TIMEOUT', `known intel indicators not read from ${this.topic} within ${timeoutMs} ms`, { retryable: true });
        await sleep(20);
      }
    } finally {
      await withTimeout(consumer.close(5_000), 10_000, 'intel-known reader close timed out').catch(() => undefined);
    }
    return keys;
  }

  /** Records keys a refresh added and tombstones for keys it removed; resolves once Kafka holds them. */
  async write(added: readonly string[], removed: readonly string[]): Promise<void> {
    const records: OutgoingMessage[] = [];
    for (const key of added) records.push({ key, value: '1', partition: 0 });
    for (const key of removed) records.push({ key, value: null, partition: 0 });
    for (let i = 0; i < records.length; i += SEND_GROUP) await this.options.producer.send(this.topic, records.slice(i, i + SEND_GROUP));
  }
}
