import { errorMessage, type Logger } from '@mamori/core';
import type { Registry } from '@mamori/metrics';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import {
  CorrelationPartition,
  CorrelationRouter,
  CorrelationStats,
  reportedCorrelations,
  type CorrelationSet,
  type PartitionOptions,
  type WindowLimits,
} from '@mamori/sigma/correlation';
import type { ConsumedBatch, ConsumedMessage, OutgoingMessage, Producer } from '@mamori/transport';
import { correlationDetection } from '../analytics/correlation.ts';
import { detectionMessage, type DetectorCodecs } from '../detector-stage.ts';
import type { StateSource } from './changelog.ts';
import { registerCorrelationMetrics } from './metrics.ts';
import { CORRELATION_TOPICS, decodeRecord, encodeRecord, factKey } from './records.ts';

export interface CorrelationStageOptions {
  correlations: CorrelationSet;
  /** Partitions of the input (events) topic: one base watermark source each. */
  sourcePartitions: number;
  /** Partitions of the repartition and state topics (the same count). */
  partitions: number;
  /** Facts up to this much older than the slowest source's newest event still count. */
  allowedLatenessMs: number;
  eventsTopic: string;
  detectionsTopic: string;
  /** @default 'telemetry.detector.repartition' */
  repartitionTopic?: string;
  /** @default 'telemetry.detector.state' */
  stateTopic?: string;
  limits?: Partial<WindowLimits>;
  /** Sends detections and chained facts before the changelog is written (order matters for recovery). */
  producer: Producer;
  state: StateSource;
  codecs: Pick<DetectorCodecs, 'encodeDetection'>;
  registry: Registry;
  rulesetChecksum?: string;
  /** Receives a warning per correlation failure (a group window or a match whose handling threw). */
  logger?: Logger;
  /**
   * Idleness timeout (wall clock, ms): an input partition with no watermark report for this long
   * stops holding windows open (it is reported as at the slowest active partition); when every
   * input partition is idle, windows close up to the newest event seen (the lateness is waived).
   * Runs on `tick`. 0 = never: windows wait for every partition (deterministic). @default 0
   */
  idleSourceMs?: number;
}

/**
 * Second half of distributed correlation: owns the partitions of the repartition topic assigned to
 * this instance, one {@link CorrelationPartition} each.
 *
 * Per batch and partition: facts are offered (redeliveries dropped by source sequence), watermark
 * reports applied, every depth advanced; then (1) detections and chained facts are sent and
 * acknowledged, (2) the changed state is returned for the runner to write to the compacted state
 * topic (same partition number), (3) the runner commits. A crash between (1) and (2) replays the
 * batch on the old state: the same detections again, with the same ids. A crash between (2) and (3)
 * redelivers records the state already holds: they are skipped by the `applied` offset stored with
 * the state.
 *
 * A partition's state is (re)loaded from the changelog replica whenever this instance did not hold
 * it through the previous offset: first sight, or the batch does not start right after the offset
 * the in-memory state applied (someone else processed in between).
 */
export class CorrelationStage implements Stage {
  readonly name = 'detector-correlation';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];
  private readonly partitions = new Map<number, CorrelationPartition>();
  private set: CorrelationSet;
  private router: CorrelationRouter;
  private reported: ReadonlySet<string>;
  private rulesetChecksum: string | undefined;
  /** A reloaded rule set waiting for the next batch or tick boundary. */
  private next: { set: CorrelationSet; checksum: string } | undefined;
  private readonly stats = new CorrelationStats();
  private readonly repartitionTopic: string;
  private readonly stateTopic: string;
  private readonly partitionOptions: PartitionOptions;
  /** Last level watermark broadcast per partition and depth. */
  private readonly broadcast = new Map<string, number>();
  /** Per held partition: each base source's newest reported time and the wall time its last report arrived. */
  private readonly sourceActivity = new Map<number, Map<string, { time: number; at: number }>>();
  /** Wall time each partition was (re)loaded: a source that never reported counts as silent since then. */
  private readonly heldSince = new Map<number, number>();
  restores = 0;
  /** Rule set swaps applied, and group windows kept and dropped by them (tests, logs). */
  readonly reloadStats = { reloads: 0, kept: 0, dropped: 0 };

  constructor(private readonly options: CorrelationStageOptions) {
    this.repartitionTopic = options.repartitionTopic ?? CORRELATION_TOPICS.repartition;
    this.stateTopic = options.stateTopic ?? CORRELATION_TOPICS.state;
    this.inputTopics = [this.repartitionTopic];
    this.outputTopics = [options.detectionsTopic, this.stateTopic, this.repartitionTopic];
    this.set = options.correlations;
    this.router = new CorrelationRouter(options.correlations);
    this.reported = reportedCorrelations(options.correlations);
    this.rulesetChecksum = options.rulesetChecksum;
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));
    this.partitionOptions = {
      allowedLatenessMs: options.allowedLatenessMs,
      watermarks: { kind: 'sources', baseSources: ids(options.sourcePartitions), levelSources: ids(options.partitions) },
      ...(options.limits ? { limits: options.limits } : {}),
      stats: this.stats,
    };
    registerCorrelationMetrics(options.registry, {
      stats: this.stats,
      openWindows: () => [...this.partitions.values()].reduce((n, p) => n + p.groupCount(), 0),
      stateFacts: () => [...this.partitions.values()].reduce((n, p) => n + p.factCount(), 0),
      restores: () => this.restores,
      reloadWindows: () => this.reloadStats,
    });
  }

  /** Partitions held in memory (for tests and the gauges). */
  heldPartitions(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  /** The active correlation set. */
  get correlations(): CorrelationSet {
    return this.set;
  }

  /**
   * A reloaded rule set, applied at the next batch (or tick) boundary: every held partition keeps
   * the windows of correlations whose definition is unchanged and drops the others (see
   * `CorrelationPartition.reload`); detections from then on carry `checksum`. Partitions restored
   * later filter their changelog state the same way (by definition fingerprint).
   */
  reload(set: CorrelationSet, checksum: string): void {
    this.next = { set, checksum };
  }

  /** Applies a pending reload; returns the held partitions whose state changed by it. */
  private applyReload(): number[] {
    const next = this.next;
    if (!next) return [];
    this.next = undefined;
    this.set = next.set;
    this.router = new CorrelationRouter(next.set);
    this.reported = reportedCorrelations(next.set);
    this.rulesetChecksum = next.checksum;
    const touched: number[] = [];
    for (const [q, held] of this.partitions) {
      const { partition, kept, dropped } = CorrelationPartition.reload(held, next.set, this.partitionOptions);
      this.partitions.set(q, partition);
      this.reloadStats.kept += kept;
      this.reloadStats.dropped += dropped;
      touched.push(q);
    }
    // Level broadcasts restart: the set of depths may have changed.
    this.broadcast.clear();
    this.reloadStats.reloads += 1;
    return touched;
  }

  /** Forgets partitions this instance no longer owns (their state lives on in the changelog). */
  revoke(partitions: readonly number[]): void {
    for (const p of partitions) {
      this.partitions.delete(p);
      this.sourceActivity.delete(p);
      this.heldSince.delete(p);
    }
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const byPartition = new Map<number, ConsumedMessage[]>();
    for (const m of batch.messages) {
      let list = byPartition.get(m.partition);
      if (!list) byPartition.set(m.partition, (list = []));
      list.push(m);
    }
    const repartition: OutgoingMessage[] = [];
    const detections: OutgoingMessage[] = [];
    const changelog: OutgoingMessage[] = [];
    const deadLetters: DeadLetter[] = [];
    const reloaded = this.applyReload();
    for (const [q, messages] of byPartition) {
      const state = await this.stateFor(q, messages[0]!.offset);
      for (const m of messages) {
        if (state.applied !== undefined && BigInt(m.offset) <= BigInt(state.applied)) continue;
        try {
          if (!m.value) throw new Error('record has no value');
          const record = decodeRecord(m.value);
          if (record.kind === 'fact') state.offer(record.fact, { id: record.source, seq: record.seq });
          else {
            state.report(record.source, record.time);
            if (record.source.startsWith('b:')) this.noteActivity(q, record.source, record.time, Date.now());
          }
        } catch (error) {
          deadLetters.push({ message: m, code: 'CORRELATION_RECORD_INVALID', reason: errorMessage(error) });
        }
      }
      state.applied = messages[messages.length - 1]!.offset;
      state.touch();
      this.advance(q, state, repartition, detections);
      for (const change of state.takeChanges()) changelog.push({ key: change.key, value: change.value, partition: q });
    }
    // Held partitions without input in this batch still write what the reload dropped.
    for (const q of reloaded) {
      if (byPartition.has(q)) continue;
      const state = this.partitions.get(q);
      if (state) for (const change of state.takeChanges()) changelog.push({ key: change.key, value: change.value, partition: q });
    }
    await this.send(repartition, detections);
    return { outputs: [{ topic: this.stateTopic, messages: changelog }], deadLetters };
  }

  /**
   * Idleness: an input partition that sent no watermark report for `idleSourceMs` stops holding
   * windows. It is reported as at the slowest active input partition (excluded from the minimum);
   * when every input partition is idle, every source is reported as at the newest event seen plus
   * the lateness, so windows up to the newest event close (input stopped: nothing later can come on
   * time). Late data after that is counted as late. Costs determinism, hence opt-in.
   */
  async tick(now: number, final: boolean): Promise<StageResult> {
    const idleMs = this.options.idleSourceMs ?? 0;
    // A shutdown keeps windows open: their state lives on in the changelog.
    if (final || idleMs <= 0) return { outputs: [], deadLetters: [] };
    const repartition: OutgoingMessage[] = [];
    const detections: OutgoingMessage[] = [];
    const changelog: OutgoingMessage[] = [];
    const reloaded = new Set(this.applyReload());
    for (const [q, state] of this.partitions) {
      if (reloaded.has(q)) for (const change of state.takeChanges()) changelog.push({ key: change.key, value: change.value, partition: q });
      const activity = this.sourceActivity.get(q) ?? new Map<string, { time: number; at: number }>();
      this.sourceActivity.set(q, activity);
      const since = this.heldSince.get(q) ?? now;
      const idle: string[] = [];
      let newest = Number.NEGATIVE_INFINITY;
      let activeMin = Number.POSITIVE_INFINITY;
      for (let i = 0; i < this.options.sourcePartitions; i++) {
        const id = `b:${i}`;
        const seen = activity.get(id);
        if (seen) newest = Math.max(newest, seen.time);
        if (now - (seen?.at ?? since) >= idleMs) idle.push(id);
        else activeMin = Math.min(activeMin, seen?.time ?? Number.NEGATIVE_INFINITY);
      }
      if (idle.length === 0 || !Number.isFinite(newest)) continue;
      const target = idle.length === this.options.sourcePartitions ? newest + this.options.allowedLatenessMs + 1 : activeMin;
      if (!Number.isFinite(target)) continue;
      let moved = false;
      for (const id of idle) {
        const seen = activity.get(id);
        if ((seen?.time ?? Number.NEGATIVE_INFINITY) >= target) continue;
        state.report(id, target);
        activity.set(id, { time: target, at: seen?.at ?? since });
        moved = true;
      }
      if (!moved) continue;
      this.advance(q, state, repartition, detections);
      for (const change of state.takeChanges()) changelog.push({ key: change.key, value: change.value, partition: q });
    }
    await this.send(repartition, detections);
    return { outputs: [{ topic: this.stateTopic, messages: changelog }], deadLetters: [] };
  }

  private noteActivity(q: number, source: string, time: number, at: number): void {
    let activity = this.sourceActivity.get(q);
    if (!activity) this.sourceActivity.set(q, (activity = new Map()));
    const seen = activity.get(source);
    activity.set(source, { time: Math.max(time, seen?.time ?? Number.NEGATIVE_INFINITY), at });
  }

  private async send(repartition: OutgoingMessage[], detections: OutgoingMessage[]): Promise<void> {
    const sends: Promise<void>[] = [];
    if (repartition.length > 0) sends.push(this.options.producer.send(this.repartitionTopic, repartition));
    if (detections.length > 0) sends.push(this.options.producer.send(this.options.detectionsTopic, detections));
    await Promise.all(sends);
  }

  /**
   * Advances every depth of a partition. A group window whose evaluation throws is dropped by the
   * partition, and a match whose detection (built and Avro-encoded here, so an encode failure is the
   * match's alone) or derived facts cannot be built is skipped; both are
   * counted (`mamori_correlation_failures_total`) and logged, and the rest of the batch goes on: a
   * throw here would otherwise fail every retry of the batch and stall the partition.
   */
  private advance(q: number, state: CorrelationPartition, repartition: OutgoingMessage[], detections: OutgoingMessage[]): void {
    const set = this.set;
    for (let depth = 0; depth <= set.maxDepth; depth++) {
      for (const match of state.advanceDepth(depth)) {
        const rule = set.byId.get(match.correlationId)!;
        let detection: OutgoingMessage | undefined;
        let derived;
        try {
          if (this.reported.has(match.correlationId)) {
            const d = correlationDetection(match, rule, { eventsTopic: this.options.eventsTopic, now: match.windowEnd, ...(this.rulesetChecksum ? { rulesetChecksum: this.rulesetChecksum } : {}) });
            detection = detectionMessage(d, this.options.codecs.encodeDetection(d));
          }
          derived = this.router.routeDerived(match);
        } catch (error) {
          state.recordMatchFailure(match, error);
          continue;
        }
        if (detection) detections.push(detection);
        for (const fact of derived) {
          state.emitSeq += 1;
          repartition.push({ key: factKey(fact), value: encodeRecord({ kind: 'fact', source: `l:${q}`, seq: state.emitSeq, fact }) });
        }
      }
      for (const failure of state.takeFailures()) {
        this.options.logger?.warn(
          { partition: q, correlation: failure.correlationId, correlationType: failure.type, group: failure.groupKey, reason: failure.message },
          'correlation failed: its group window was dropped or its match skipped; the others go on',
        );
      }
      if (depth < set.maxDepth) {
        const wm = state.processedWatermark(depth);
        const id = `l${depth}:${q}`;
        if (Number.isFinite(wm) && wm > (this.broadcast.get(id) ?? Number.NEGATIVE_INFINITY)) {
          this.broadcast.set(id, wm);
          const value = encodeRecord({ kind: 'wm', source: id, time: wm });
          for (let target = 0; target < this.options.partitions; target++) repartition.push({ key: `~wm|${id}`, value, partition: target });
        }
      }
    }
  }

  private async stateFor(q: number, firstOffset: string): Promise<CorrelationPartition> {
    const held = this.partitions.get(q);
    if (held && (held.applied === undefined || BigInt(firstOffset) <= BigInt(held.applied) + 1n)) return held;
    const entries = await this.options.state.read(q);
    const restored = CorrelationPartition.restore(this.set, this.partitionOptions, entries);
    this.restores += 1;
    this.partitions.set(q, restored);
    this.heldSince.set(q, Date.now());
    this.sourceActivity.delete(q);
    // Level broadcasts restart from what the restored state already reported.
    for (let depth = 0; depth < this.set.maxDepth; depth++) this.broadcast.delete(`l${depth}:${q}`);
    return restored;
  }
}
