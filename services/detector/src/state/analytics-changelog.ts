import { randomUUID } from 'node:crypto';
import { MamoriError, sleep, withTimeout } from '@mamori/core';
import type { Admin, ConsumedBatch, Consumer, OutgoingMessage, Producer, Transport } from '@mamori/transport';
import type { StateChange } from '../analytics/entity-state.ts';

/** Compacted changelog of the per-source analytics' window state (docs/detections.md, "State across restarts"). */
export const ANALYTICS_STATE_TOPIC = 'telemetry.detector.analytics';

/**
 * A record value stays under this many bytes; larger entity states are split into chunks. Kafka's
 * default `max.message.bytes` is 1 MiB per record batch, so records are also sent in groups of at
 * most {@link MAX_SEND_BYTES}.
 */
export const MAX_RECORD_BYTES = 256 * 1024;
const MAX_SEND_BYTES = 768 * 1024;

/** What an input partition's snapshot says besides its entities. */
export interface PartitionMeta {
  /** Offset of the last input record the state reflects. */
  applied: string;
  /** Newest event time seen on the partition (its watermark is this minus the allowed lateness). */
  maxEventTime: number;
}

/** One analytic's changes of one snapshot. */
export interface AnalyticChanges {
  ruleId: string;
  changes: readonly StateChange[];
}

/** A restored entity, ready for `importEntity`. */
export interface RestoredEntity {
  ruleId: string;
  key: string;
  order: number;
  value: unknown;
}

/** What a partition's changelog holds up to its last complete snapshot. */
export interface RestoredPartition {
  meta: PartitionMeta | undefined;
  /** Entities in ascending `order` per analytic. */
  entities: RestoredEntity[];
  /** Entities stored in more than one chunk (how many), so later writes can delete stale chunks. */
  wide: Map<string, number>;
  /**
   * Records that undo an incomplete snapshot at the end of the partition (a writer died between
   * its entity records and the meta record): each such key is written back to its last complete
   * value, or deleted. Sent before the partition is processed again.
   */
  repair: OutgoingMessage[];
  /** Entities whose chunks were incomplete or unreadable: dropped (and deleted by `repair`). */
  dropped: number;
}

export interface AnalyticsChangelogOptions {
  transport: Transport;
  /** Sends snapshots (acks=all, idempotent). Not closed by the changelog. */
  producer: Producer;
  /** @default 'telemetry.detector.analytics' */
  topic?: string;
  /** Prefix of the restore readers' consumer groups (a random suffix makes each unique). */
  groupPrefix: string;
  /** How long a restore may take before the batch fails (and is redelivered). @default 60000 */
  restoreTimeoutMs?: number;
  replicationFactor?: number;
}

/**
 * Keys carry the events topic they describe (`scope`), so detectors of different events topics (a
 * renamed topic, test runs on one broker) never restore each other's state from the shared changelog.
 */
const metaKey = (scope: string): string => `m|${scope}`;
const entityKey = (scope: string, ruleId: string, key: string): string => `e|${scope}|${ruleId}|${key}`;
const chunkKey = (base: string, index: number): string => `c|${index}|${base}`;

/**
 * The analytics changelog: one compacted topic with the events topic's partition count, the state
 * of input partition p in changelog partition p. A snapshot is the changed entities (one record
 * each, `e|<events topic>|<rule>|<entity>`, chunked when large, null when the entity is gone)
 * followed by one meta record (`m|<events topic>`: the input offset the state reflects and the
 * partition's newest event time). Records after the last meta record are an incomplete snapshot and
 * are ignored (and repaired) on restore.
 */
export class AnalyticsChangelog {
  readonly topic: string;
  /** Records and bytes written, restores and their entities, for the metrics. */
  readonly stats = { records: 0, bytes: 0, restores: 0, restoredEntities: 0, dropped: 0 };

  private admin: Admin | undefined;
  private scope: string | undefined;

  constructor(private readonly options: AnalyticsChangelogOptions) {
    this.topic = options.topic ?? ANALYTICS_STATE_TOPIC;
  }

  private async connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.options.transport.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  async close(): Promise<void> {
    await this.admin?.close();
    this.admin = undefined;
  }

  /**
   * Creates the topic (compacted) with as many partitions as `eventsTopic` when it does not exist. Records are
   * kept uncompacted for at least an hour, so the last complete value of a key survives an
   * incomplete snapshot until the partition's next owner repairs it.
   */
  async ensureTopicFor(eventsTopic: string): Promise<void> {
    this.scope = eventsTopic;
    const admin = await this.connected();
    const partitions = (await admin.endOffsets(eventsTopic)).length;
    await admin.ensureTopics([
      {
        topic: this.topic,
        partitions,
        ...(this.options.replicationFactor ? { replicationFactor: this.options.replicationFactor } : {}),
        config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(3_600_000), 'segment.ms': String(3_600_000) },
      },
    ]);
    const have = (await admin.endOffsets(this.topic)).length;
    if (have < partitions) {
      throw new MamoriError('DETECTOR_STATE_TOPIC_MISMATCH', `${this.topic} has ${have} partitions but ${eventsTopic} has ${partitions}: input partition p keeps its state in partition p; add partitions to ${this.topic}`, { retryable: false });
    }
  }

  /**
   * Writes one snapshot of input partition `partition`: entity records in groups under the size
   * limit, one send after the other, the meta record last. Resolves once Kafka holds all of it.
   */
  async write(partition: number, analytics: readonly AnalyticChanges[], meta: PartitionMeta, wide: Map<string, number>): Promise<void> {
    const scope = this.requireScope();
    const records: OutgoingMessage[] = [];
    for (const { ruleId, changes } of analytics) {
      for (const change of changes) records.push(...entityRecords(entityKey(scope, ruleId, change.key), change, wide, partition));
    }
    records.push({ key: metaKey(scope), value: JSON.stringify({ applied: meta.applied, maxEventTime: Number.isFinite(meta.maxEventTime) ? meta.maxEventTime : null }), partition });
    await this.send(records);
  }

  private requireScope(): string {
    if (this.scope === undefined) throw new Error('AnalyticsChangelog: ensureTopicFor(eventsTopic) must run first');
    return this.scope;
  }

  /** Sends records in order, in groups of at most MAX_SEND_BYTES (a group is one request per partition). */
  async send(records: readonly OutgoingMessage[]): Promise<void> {
    let group: OutgoingMessage[] = [];
    let bytes = 0;
    for (const record of records) {
      const size = byteSize(record.key) + byteSize(record.value) + 64;
      if (group.length > 0 && bytes + size > MAX_SEND_BYTES) {
        await this.options.producer.send(this.topic, group);
        group = [];
        bytes = 0;
      }
      group.push(record);
      bytes += size;
      this.stats.records += 1;
      this.stats.bytes += size;
    }
    if (group.length > 0) await this.options.producer.send(this.topic, group);
  }

  /**
   * Reads the changelog partitions `partitions` up to their current end with a short-lived reader
   * (a consumer group of its own) and returns each one's last complete snapshot.
   */
  async restore(partitions: readonly number[]): Promise<Map<number, RestoredPartition>> {
    const ends = new Map((await (await this.connected()).endOffsets(this.topic)).map((e) => [e.partition, BigInt(e.offset)]));
    const scope = this.requireScope();
    const readers = new Map<number, PartitionReader>();
    for (const p of partitions) readers.set(p, new PartitionReader(scope));
    const pending = partitions.filter((p) => (ends.get(p) ?? 0n) > 0n);
    if (pending.length > 0) await this.read(pending, ends, readers);
    const out = new Map<number, RestoredPartition>();
    for (const [p, reader] of readers) {
      const restored = reader.finish(p);
      this.stats.restores += 1;
      this.stats.restoredEntities += restored.entities.length;
      this.stats.dropped += restored.dropped;
      out.set(p, restored);
    }
    return out;
  }

  private async read(partitions: readonly number[], ends: Map<number, bigint>, readers: Map<number, PartitionReader>): Promise<void> {
    const consumer: Consumer = this.options.transport.consumer({
      groupId: `${this.options.groupPrefix}.restore.${randomUUID()}`,
      topics: [this.topic],
      clientId: 'mamori-detector-restore',
      fromBeginning: true,
      maxBatchSize: 5000,
      maxWaitMs: 50,
    });
    const position = new Map<number, bigint>();
    const timeoutMs = this.options.restoreTimeoutMs ?? 60_000;
    await consumer.connect();
    try {
      await consumer.run(async (batch: ConsumedBatch) => {
        for (const m of batch.messages) {
          const reader = readers.get(m.partition);
          if (!reader || BigInt(m.offset) >= (ends.get(m.partition) ?? 0n)) continue;
          reader.apply(m.key?.toString('utf8'), m.value === null ? null : m.value.toString('utf8'));
          position.set(m.partition, BigInt(m.offset) + 1n);
        }
      });
      const deadline = Date.now() + timeoutMs;
      // Compaction leaves offset gaps: a partition is read once the reader's position passed the last
      // offset below the end, i.e. the consumer delivered everything up to the end offset.
      const done = (): boolean => partitions.every((p) => (position.get(p) ?? 0n) >= (ends.get(p) ?? 0n));
      while (!done()) {
        if (Date.now() > deadline) {
          throw new MamoriError('DETECTOR_STATE_RESTORE_TIMEOUT', `analytics state of partitions ${partitions.join(',')} not restored from ${this.topic} within ${timeoutMs} ms`, { retryable: true });
        }
        await sleep(20);
      }
    } finally {
      await withTimeout(consumer.close(5_000), 10_000, 'restore reader close timed out').catch(() => undefined);
    }
  }
}

function byteSize(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** The records of one entity change: one record, or chunks when the state is large; deletes stale chunks. */
function entityRecords(base: string, change: StateChange, wide: Map<string, number>, partition: number): OutgoingMessage[] {
  const before = wide.get(base) ?? 1;
  const out: OutgoingMessage[] = [];
  let chunks = 1;
  if (change.value === null) {
    out.push({ key: base, value: null, partition });
    chunks = 0;
  } else {
    const json = JSON.stringify(change.value);
    if (Buffer.byteLength(json) + 32 <= MAX_RECORD_BYTES) out.push({ key: base, value: `{"o":${change.order},"v":${json}}`, partition });
    else {
      const pieces = split(json);
      chunks = pieces.length;
      out.push({ key: base, value: JSON.stringify({ o: change.order, n: pieces.length, d: pieces[0] }), partition });
      for (let i = 1; i < pieces.length; i++) out.push({ key: chunkKey(base, i), value: JSON.stringify({ d: pieces[i] }), partition });
    }
  }
  for (let i = Math.max(1, chunks); i < before; i++) out.push({ key: chunkKey(base, i), value: null, partition });
  if (chunks > 1) wide.set(base, chunks);
  else wide.delete(base);
  return out;
}

/** Splits a string into pieces whose JSON encoding stays under the record limit. */
function split(json: string): string[] {
  const pieces: string[] = [];
  let size = Math.floor(MAX_RECORD_BYTES / 4);
  for (let at = 0; at < json.length; ) {
    let piece = json.slice(at, at + size);
    while (Buffer.byteLength(JSON.stringify(piece)) + 64 > MAX_RECORD_BYTES) {
      size = Math.floor(size / 2);
      piece = json.slice(at, at + size);
    }
    pieces.push(piece);
    at += piece.length;
  }
  return pieces;
}

/** Folds one changelog partition, in offset order, into its last complete snapshot. */
class PartitionReader {
  private readonly committed = new Map<string, string>();
  /** Records after the last meta record (null: a delete). */
  private readonly tail = new Map<string, string | null>();
  private meta: PartitionMeta | undefined;
  private readonly metaKey: string;
  private readonly entityPrefix: string;

  constructor(scope: string) {
    this.metaKey = metaKey(scope);
    this.entityPrefix = `e|${scope}|`;
  }

  apply(key: string | undefined, value: string | null): void {
    if (key === undefined) return;
    // Another events topic's state: not ours to restore or repair.
    if (key !== this.metaKey && !key.startsWith(this.entityPrefix) && !(key.startsWith('c|') && key.includes(`|${this.entityPrefix}`))) return;
    if (key !== this.metaKey) {
      this.tail.set(key, value);
      return;
    }
    if (value === null) return;
    for (const [k, v] of this.tail) {
      if (v === null) this.committed.delete(k);
      else this.committed.set(k, v);
    }
    this.tail.clear();
    const parsed = JSON.parse(value) as { applied: string; maxEventTime: number | null };
    this.meta = { applied: parsed.applied, maxEventTime: parsed.maxEventTime ?? Number.NEGATIVE_INFINITY };
  }

  finish(partition: number): RestoredPartition {
    const repair: OutgoingMessage[] = [];
    for (const key of this.tail.keys()) repair.push({ key, value: this.committed.get(key) ?? null, partition });
    const entities: RestoredEntity[] = [];
    const wide = new Map<string, number>();
    const used = new Set<string>();
    let dropped = 0;
    for (const [key, value] of this.committed) {
      if (!key.startsWith(this.entityPrefix)) continue;
      const rest = key.slice(this.entityPrefix.length);
      const bar = rest.indexOf('|');
      if (bar < 0) continue;
      used.add(key);
      try {
        const parsed = JSON.parse(value) as { o: number; v?: unknown; n?: number; d?: string };
        let data: unknown = parsed.v;
        if (parsed.n !== undefined) {
          let json = parsed.d ?? '';
          for (let i = 1; i < parsed.n; i++) {
            const chunk = this.committed.get(chunkKey(key, i));
            if (chunk === undefined) throw new Error(`chunk ${i} of ${parsed.n} missing`);
            used.add(chunkKey(key, i));
            json += (JSON.parse(chunk) as { d: string }).d;
          }
          data = JSON.parse(json);
          wide.set(key, parsed.n);
        }
        entities.push({ ruleId: rest.slice(0, bar), key: rest.slice(bar + 1), order: parsed.o, value: data });
      } catch {
        dropped += 1;
        repair.push({ key, value: null, partition });
      }
    }
    // Chunks no entity record refers to any more.
    for (const key of this.committed.keys()) if (key.startsWith('c|') && !used.has(key)) repair.push({ key, value: null, partition });
    entities.sort((a, b) => a.order - b.order);
    return { meta: this.meta, entities, wide, repair, dropped };
  }
}
