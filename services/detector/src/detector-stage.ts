import { errorCode, errorMessage, type Logger } from '@mamori/core';
import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { Counter, Gauge, Histogram, type Registry } from '@mamori/metrics';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import type { ConsumedBatch, ConsumedMessage, OutgoingMessage, TopicPartition } from '@mamori/transport';
import { isStateful, type Analytic, type StatefulAnalytic } from './analytics/types.ts';
import type { AnalyticChanges, AnalyticsChangelog, PartitionMeta } from './state/analytics-changelog.ts';

/**
 * Codes this stage sets itself; listed in docs/errors.md. A decode failure that is already a
 * MamoriError (e.g. a CodecError `SCHEMA_UNKNOWN`) keeps its own code.
 *
 * Dead letters:
 * - `AVRO_DECODE_FAILED`: the event could not be decoded and the error carried no code of its own
 *   (e.g. the record has no value); also a CodecErrorCode.
 * - `DETECTOR_ANALYTIC_FAILED`: an analytic threw on the event (a defect, reported instead of stalling).
 *
 * Batch failures of the analytics changelog (the batch is not committed and comes back):
 * - `DETECTOR_STATE_RESTORE_TIMEOUT`: a partition's state was not read back in time (retryable).
 * - `DETECTOR_STATE_TOPIC_MISMATCH`: the changelog topic has fewer partitions than the events topic.
 *
 * The correlation stage (state/correlation-stage.ts):
 * - `CORRELATION_RECORD_INVALID` (dead letter): a repartition record that cannot be decoded.
 * - `CORRELATION_FAILED` (logged and counted, no record at fault): a group window threw while
 *   evaluated, or a match could not be made into a detection or chained facts.
 */
export const STAGE_ERROR_CODES = [
  'AVRO_DECODE_FAILED',
  'DETECTOR_ANALYTIC_FAILED',
  'DETECTOR_STATE_RESTORE_TIMEOUT',
  'DETECTOR_STATE_TOPIC_MISMATCH',
  'CORRELATION_RECORD_INVALID',
  'CORRELATION_FAILED',
] as const;
type StageErrorCode = (typeof STAGE_ERROR_CODES)[number];

/** One event in this many has its evaluation timed per analytic. */
const EVALUATION_SAMPLE = 16;

export interface DetectorCodecs {
  /** Resolves unseen Schema Registry ids of a batch before it is decoded (no-op without a registry). */
  prefetch?(values: (Buffer | null)[]): Promise<void>;
  decodeEvent(bytes: Buffer): MamoriEvent;
  encodeDetection(detection: MamoriDetection): Buffer;
}

export interface DetectorStageOptions {
  eventsTopic: string;
  detectionsTopic: string;
  analytics: readonly Analytic[];
  codecs: DetectorCodecs;
  registry: Registry;
  /** Where an analytic that throws while event time advances is reported (an event's failure goes to its dead letter). */
  logger?: Logger;
  /** Events up to this much older than the newest seen still count. @default 5000 */
  allowedLatenessMs: number;
  /** With no input on a partition for this long (wall clock), its open episodes are closed and reported. @default 10000 */
  idleCloseMs: number;
  /**
   * Where the per-source analytics' window state is snapshotted and restored from. Without it the
   * state lives only in memory (a crash loses open episodes; a clean stop closes and reports them).
   */
  changelog?: AnalyticsChangelog;
}

/** The analytics and event time of one input partition. */
interface PartitionState {
  /** One slot per configured analytic: a per-partition instance of a stateful one, else the shared one. */
  readonly slots: Analytic[];
  readonly stateful: StatefulAnalytic[];
  maxEventTime: number;
  /** Offset of the last record applied to this state (undefined: none since it was created or restored). */
  applied: string | undefined;
  /** Records up to this offset are already in the restored state and are skipped. */
  skipThrough: bigint;
  lastInputAt: number;
  idleClosed: boolean;
  /** Entities written in several chunks (see AnalyticsChangelog). */
  readonly wide: Map<string, number>;
}

/** A snapshot waiting for the batch's detections to be acknowledged. */
interface PendingSnapshot {
  partition: number;
  analytics: AnalyticChanges[];
  meta: PartitionMeta;
  state: PartitionState;
}

/** Partition key of events observed outside Kafka (`mamori hunt`, observeEvents). */
const NO_PARTITION = -1;

/**
 * Feeds normalized events to every analytic in event time. The watermark is the newest event time
 * seen minus the allowed lateness; episodes that went quiet before it are closed. When the input
 * goes idle, all episodes close, so a finished attack is reported with its final count.
 */
export class DetectorStage implements Stage {
  readonly name = 'detector';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];
  private readonly partitions = new Map<number, PartitionState>();
  private pending: PendingSnapshot[] = [];
  /** The analytic each detection came from, for charging an encode failure to it. */
  private readonly origin = new WeakMap<MamoriDetection, string>();
  private assignment: (() => readonly TopicPartition[]) | undefined;
  private topicReady = false;
  private readonly stateGauge: Gauge<'analytic'>;
  private readonly latency: Histogram<'analytic'>;
  private readonly emitted: Counter<'analytic' | 'severity'>;
  private readonly byRule: Counter<'rule_id' | 'severity'>;
  private readonly byTechnique: Counter<'technique'>;
  private readonly late: Counter;
  private readonly evaluationSeconds: Counter<'analytic'>;
  private observed = 0;
  /** What threw while the last event was observed (`<analytic>: <message>`), empty when nothing did. */
  private failures: string[] = [];
  private readonly analyticFailures: Counter<'analytic'>;

  constructor(private readonly options: DetectorStageOptions) {
    this.inputTopics = [options.eventsTopic];
    this.outputTopics = [options.detectionsTopic];
    this.stateGauge = new Gauge({
      name: 'mamori_detector_state_entities',
      help: 'Entities (e.g. sources) an analytic holds state for.',
      labelNames: ['analytic'],
      registers: [options.registry],
      collect: () => {
        options.analytics.forEach((analytic, i) => {
          let size = isStateful(analytic) ? 0 : analytic.size();
          if (isStateful(analytic)) for (const state of this.partitions.values()) size += state.slots[i]!.size();
          this.stateGauge.set({ analytic: analytic.ruleId }, size);
        });
      },
    });
    this.latency = new Histogram({
      name: 'mamori_detection_latency_seconds',
      help: 'From the sensor timestamp of the newest evidence to the detection being emitted (replays of old data land in the top bucket).',
      labelNames: ['analytic'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [options.registry],
    });
    this.emitted = new Counter({
      name: 'mamori_detections_emitted_total',
      help: 'Detection records (new detections and updates of open ones) emitted, per analytic and severity.',
      labelNames: ['analytic', 'severity'],
      registers: [options.registry],
    });
    this.evaluationSeconds = new Counter({
      name: 'mamori_detector_evaluation_seconds_total',
      help: 'Time spent evaluating events per analytic (sampled one event in 16, scaled up).',
      labelNames: ['analytic'],
      registers: [options.registry],
    });
    const seen = new Map<string, { evaluated: number; matches: number }>();
    const ruleAnalytics = options.analytics.filter((a) => a.ruleStats);
    const delta = (analytic: string, key: 'evaluated' | 'matches', total: number): number => {
      const last = seen.get(analytic) ?? { evaluated: 0, matches: 0 };
      // A reload starts the rule set's counters again from zero.
      const d = total >= last[key] ? total - last[key] : total;
      last[key] = total;
      seen.set(analytic, last);
      return d;
    };
    const ruleEvaluations: Counter<'analytic'> = new Counter({
      name: 'mamori_rule_evaluations_total',
      help: 'Rule evaluations by rule-evaluating analytics (rules routed and checked against an event).',
      labelNames: ['analytic'],
      registers: [options.registry],
      collect: () => {
        for (const a of ruleAnalytics) ruleEvaluations.inc({ analytic: a.ruleId }, delta(a.ruleId, 'evaluated', a.ruleStats!().evaluated));
      },
    });
    const ruleMatches: Counter<'analytic'> = new Counter({
      name: 'mamori_rule_matches_total',
      help: 'Rule matches by rule-evaluating analytics.',
      labelNames: ['analytic'],
      registers: [options.registry],
      collect: () => {
        for (const a of ruleAnalytics) ruleMatches.inc({ analytic: a.ruleId }, delta(a.ruleId, 'matches', a.ruleStats!().matches));
      },
    });
    const rulesLoaded: Gauge<'analytic'> = new Gauge({
      name: 'mamori_loaded_rules',
      help: 'Rules in the active rule set of a rule-evaluating analytic.',
      labelNames: ['analytic'],
      registers: [options.registry],
      collect: () => {
        for (const a of ruleAnalytics) rulesLoaded.set({ analytic: a.ruleId }, a.ruleStats!().rules);
      },
    });
    // Rule ids and ATT&CK techniques are bounded by the configured analytics and rule packs.
    this.byRule = new Counter({
      name: 'mamori_detections_by_rule_total',
      help: 'Detection records per rule id and severity (bounded by the loaded rules).',
      labelNames: ['rule_id', 'severity'],
      registers: [options.registry],
    });
    this.byTechnique = new Counter({
      name: 'mamori_detections_by_technique_total',
      help: 'Detection records per ATT&CK technique id (bounded by the loaded rules).',
      labelNames: ['technique'],
      registers: [options.registry],
    });
    const changelog = options.changelog;
    if (changelog) {
      const stateCounter = (name: string, help: string, read: () => number): void => {
        let last = 0;
        const counter: Counter = new Counter({
          name,
          help,
          registers: [options.registry],
          collect: () => {
            const total = read();
            counter.inc(Math.max(0, total - last));
            last = total;
          },
        });
      };
      stateCounter('mamori_detector_state_restores_total', 'Input partitions whose analytics state was restored from the changelog.', () => changelog.stats.restores);
      stateCounter('mamori_detector_state_records_written_total', 'Records written to the analytics changelog (entity states, chunks, deletes, partition meta).', () => changelog.stats.records);
      stateCounter('mamori_detector_state_written_bytes_total', 'Bytes (keys and values) written to the analytics changelog.', () => changelog.stats.bytes);
      stateCounter('mamori_detector_state_dropped_entities_total', 'Entities whose changelog state could not be read back on restore (incomplete or unreadable): dropped and deleted.', () => changelog.stats.dropped);
    }
    this.analyticFailures = new Counter({
      name: 'mamori_detector_analytic_failures_total',
      help: 'Events an analytic threw on, advances of event time it threw in, and detections it built that do not fit the schema (a defect): the other analytics go on; a failed event is dead-lettered (DETECTOR_ANALYTIC_FAILED) naming the analytic, a failed advance or a left-out detection is logged.',
      labelNames: ['analytic'],
      registers: [options.registry],
    });
    this.late = new Counter({
      name: 'mamori_detector_late_events_total',
      help: 'Events older than their partition watermark when they arrived (still evaluated, on their own event time; a late source adds up within a batch, not across batches).',
      registers: [options.registry],
    });
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const detections: MamoriDetection[] = [];
    const deadLetters: DeadLetter[] = [];
    this.discardUndelivered();
    await this.options.codecs.prefetch?.(batch.messages.map((m) => m.value));
    const byPartition = new Map<number, ConsumedMessage[]>();
    for (const m of batch.messages) {
      let list = byPartition.get(m.partition);
      if (!list) byPartition.set(m.partition, (list = []));
      list.push(m);
    }
    await this.restoreIfNeeded(byPartition);
    const now = Date.now();
    for (const [partition, messages] of byPartition) {
      const state = this.partitions.get(partition) ?? this.createPartition(partition);
      for (const message of messages) {
        if (BigInt(message.offset) <= state.skipThrough) continue;
        let event: MamoriEvent;
        try {
          if (!message.value) throw new Error('record has no value');
          event = this.options.codecs.decodeEvent(message.value);
        } catch (error) {
          deadLetters.push({ message, code: errorCode(error) === 'INTERNAL' ? ('AVRO_DECODE_FAILED' satisfies StageErrorCode) : errorCode(error), reason: errorMessage(error) });
          continue;
        }
        detections.push(...this.observe(state, event));
        if (this.failures.length > 0) {
          // A defect in one analytic must not stall the partition nor blind the other analytics: they
          // saw the event (their detections stand), and the event is dead-lettered naming the ones that threw.
          deadLetters.push({ message, code: 'DETECTOR_ANALYTIC_FAILED' satisfies StageErrorCode, reason: this.failures.join('; ') });
        }
      }
      // The state reflects at least what the restored snapshot held (a redelivered batch may end before it).
      const last = BigInt(messages[messages.length - 1]!.offset);
      state.applied = (last > state.skipThrough ? last : state.skipThrough).toString();
      state.lastInputAt = now;
      state.idleClosed = false;
      detections.push(...this.advancePartition(state, now));
      this.snapshot(partition, state);
    }
    return { outputs: [this.toOutput(detections)], deadLetters };
  }

  /**
   * Writes the snapshots of the last `process` or `tick` to the changelog. The runner calls it once
   * the batch's detections and dead letters are acknowledged and before it commits the input
   * offsets, so a detection is never lost: a crash before the snapshot replays the batch on the
   * previous state and sends the same detections again (same ids).
   */
  async afterDeliver(): Promise<void> {
    const changelog = this.options.changelog;
    const pending = this.pending;
    this.pending = [];
    if (!changelog) return;
    try {
      for (const snapshot of pending) await changelog.write(snapshot.partition, snapshot.analytics, snapshot.meta, snapshot.state.wide);
    } catch (error) {
      // The in-memory state is now ahead of the changelog: forget it, so the redelivered batch is
      // processed on the restored state.
      for (const snapshot of pending) if (this.partitions.get(snapshot.partition) === snapshot.state) this.drop(snapshot.partition);
      throw error;
    }
  }

  /** Receives the consumer's assignment from the runner: partitions no longer assigned are dropped on tick. */
  attachFlowControl(control: { assignment?(): readonly TopicPartition[] }): void {
    if (control.assignment) this.assignment = () => control.assignment!();
  }

  /** Input partitions whose state this instance holds (for tests and the state gauge). */
  heldPartitions(): number[] {
    return [...this.partitions.keys()].filter((p) => p !== NO_PARTITION).sort((a, b) => a - b);
  }

  /**
   * Decoded events through the same path as a consumed batch (`mamori hunt` over files): each
   * event to every analytic, then the watermark advanced once. An analytic that throws is skipped
   * for that event (the others still see it) and reported through `onError`, naming the analytic.
   */
  observeEvents(events: readonly MamoriEvent[], onError: (event: MamoriEvent, error: unknown) => void = () => {}): MamoriDetection[] {
    const detections: MamoriDetection[] = [];
    const state = this.partitions.get(NO_PARTITION) ?? this.createPartition(NO_PARTITION);
    for (const event of events) {
      detections.push(...this.observe(state, event));
      if (this.failures.length > 0) onError(event, new Error(this.failures.join('; ')));
    }
    if (events.length > 0) {
      state.lastInputAt = Date.now();
      state.idleClosed = false;
    }
    detections.push(...this.advancePartition(state, Date.now()));
    return detections;
  }

  /** End of input: closes every open episode of every partition held (what an idle or final tick does). */
  closeAll(now = Date.now()): MamoriDetection[] {
    const detections: MamoriDetection[] = [];
    for (const state of this.partitions.values()) detections.push(...this.closePartition(state, now));
    return detections;
  }

  private closePartition(state: PartitionState, now: number): MamoriDetection[] {
    const detections: MamoriDetection[] = [];
    for (const analytic of state.slots) this.advanceOne(analytic, Number.POSITIVE_INFINITY, now, detections);
    state.idleClosed = true;
    return detections;
  }

  private createPartition(partition: number): PartitionState {
    const slots = this.options.analytics.map((a) => (isStateful(a) ? a.fork() : a));
    const stateful = slots.filter(isStateful);
    // Start change tracking (an instance records changes only once it has been asked for them).
    for (const a of stateful) a.exportChanges();
    const state: PartitionState = {
      slots, stateful, maxEventTime: Number.NEGATIVE_INFINITY, applied: undefined, skipThrough: -1n, lastInputAt: Date.now(), idleClosed: true, wide: new Map(),
    };
    this.partitions.set(partition, state);
    return state;
  }

  /**
   * With a changelog, a partition's in-memory state is used only while it is continuous: the batch
   * starts right after the last record applied to it. Otherwise (first sight after an assignment,
   * another instance processed the partition in between, or this batch is a redelivery after a
   * failure) the state is reloaded from the changelog: every such partition of the batch, and every
   * other assigned partition not held yet, in one read.
   */
  private async restoreIfNeeded(byPartition: Map<number, ConsumedMessage[]>): Promise<void> {
    const changelog = this.options.changelog;
    if (!changelog) return;
    const needed = new Set<number>();
    for (const [partition, messages] of byPartition) {
      const held = this.partitions.get(partition);
      if (held && held.applied !== undefined && BigInt(messages[0]!.offset) === BigInt(held.applied) + 1n) continue;
      if (held && held.applied === undefined && (held.skipThrough < 0n || BigInt(messages[0]!.offset) <= held.skipThrough + 1n)) continue;
      needed.add(partition);
    }
    if (needed.size === 0) return;
    for (const tp of this.assignment?.() ?? []) if (tp.topic === this.options.eventsTopic && !this.partitions.has(tp.partition)) needed.add(tp.partition);
    if (!this.topicReady) {
      await changelog.ensureTopicFor(this.options.eventsTopic);
      this.topicReady = true;
    }
    const restored = await changelog.restore([...needed].sort((a, b) => a - b));
    for (const [partition, snapshot] of restored) {
      this.drop(partition);
      const state = this.createPartition(partition);
      for (const entity of snapshot.entities) {
        const index = this.options.analytics.findIndex((a) => a.ruleId === entity.ruleId);
        const analytic = index >= 0 ? state.slots[index] : undefined;
        if (analytic && isStateful(analytic)) analytic.importEntity(entity.key, entity.order, entity.value);
      }
      // Restoring is not a change: the changelog already holds it.
      for (const a of state.stateful) a.exportChanges();
      for (const [key, chunks] of snapshot.wide) state.wide.set(key, chunks);
      if (snapshot.meta) {
        state.maxEventTime = snapshot.meta.maxEventTime;
        state.skipThrough = BigInt(snapshot.meta.applied);
        state.idleClosed = false;
      }
      this.restores += 1;
      if (snapshot.repair.length > 0) await changelog.send(snapshot.repair);
      // An assigned partition restored ahead of its first batch with nothing in the changelog is not
      // kept: with no offset to check its next batch against, it could not tell whether another
      // instance wrote state for it in the meantime. It is read again with its first batch.
      if (!snapshot.meta && !byPartition.has(partition)) this.drop(partition);
    }
  }

  /**
   * Snapshots still pending when the next batch or tick starts belong to a batch whose delivery
   * failed (the runner never called afterDeliver): their partitions' state is ahead of what Kafka
   * holds, so it is dropped and restored when the batch comes back.
   */
  private discardUndelivered(): void {
    for (const snapshot of this.pending) if (this.partitions.get(snapshot.partition) === snapshot.state) this.drop(snapshot.partition);
    this.pending = [];
  }

  /** Forgets a partition's state (its analytics' forks are released). */
  private drop(partition: number): void {
    const state = this.partitions.get(partition);
    if (!state) return;
    this.partitions.delete(partition);
    for (const a of state.stateful) a.release?.();
  }

  /** Restores from the changelog since start (for tests and the metrics). */
  restores = 0;

  private snapshot(partition: number, state: PartitionState): void {
    // A partition restored but not fed yet (closed by the idle tick) is at its snapshot's offset.
    const applied = state.applied ?? (state.skipThrough >= 0n ? state.skipThrough.toString() : undefined);
    if (!this.options.changelog || applied === undefined) return;
    const analytics: AnalyticChanges[] = [];
    for (const a of state.stateful) {
      const changes = a.exportChanges();
      if (changes.length > 0) analytics.push({ ruleId: a.ruleId, changes });
    }
    this.pending.push({ partition, analytics, meta: { applied, maxEventTime: state.maxEventTime }, state });
  }

  /**
   * The event through every analytic of the partition. One that throws is counted and named in
   * `failures`; the ones after it still see the event and the detections of the others stand (a
   * defect in one rule-evaluating analytic used to drop the event for every analytic after it).
   */
  private observe(state: PartitionState, event: MamoriEvent): MamoriDetection[] {
    const partitionWatermark = state.maxEventTime - this.options.allowedLatenessMs;
    // A late event (a lagging sensor, a backlog flushed while other sensors are live) settles its
    // entity on its own time, not on the partition's: otherwise every late probe of a source would
    // find the source's window already expired and start over, and a late scan could never add up.
    // On-time events (the normal case) settle on the partition watermark exactly as before, so their
    // results stay independent of batch boundaries; a late source's episode is still closed by the
    // partition watermark at the end of the batch.
    const late = event.time < partitionWatermark;
    if (late) this.late.inc();
    const watermark = late ? event.time : partitionWatermark;
    const detections: MamoriDetection[] = [];
    if (this.failures.length > 0) this.failures = [];
    // Evaluation time is sampled (one event in EVALUATION_SAMPLE) so that timing costs almost nothing.
    const timed = ++this.observed % EVALUATION_SAMPLE === 0;
    for (const analytic of state.slots) {
      try {
        if (!timed) {
          detections.push(...this.measured(analytic, analytic.observe(event, watermark)));
        } else {
          const started = process.hrtime.bigint();
          const found = analytic.observe(event, watermark);
          this.evaluationSeconds.inc({ analytic: analytic.ruleId }, (Number(process.hrtime.bigint() - started) / 1e9) * EVALUATION_SAMPLE);
          detections.push(...this.measured(analytic, found));
        }
      } catch (error) {
        this.analyticFailures.inc({ analytic: analytic.ruleId });
        this.failures.push(`${analytic.ruleId}: ${errorMessage(error)}`);
      }
      // Failures the analytic survived (one Sigma rule that threw): reported the same way.
      const partial = analytic.takeFailures?.();
      if (partial !== undefined && partial.length > 0) {
        this.analyticFailures.inc({ analytic: analytic.ruleId }, partial.length);
        for (const f of partial) this.failures.push(`${analytic.ruleId}: ${f}`);
      }
    }
    if (event.time > state.maxEventTime) state.maxEventTime = event.time;
    return detections;
  }

  /** The partition's watermark (its newest event time minus the lateness) applied to its analytics. */
  private advancePartition(state: PartitionState, now: number): MamoriDetection[] {
    const watermark = state.maxEventTime - this.options.allowedLatenessMs;
    const detections: MamoriDetection[] = [];
    for (const analytic of state.slots) this.advanceOne(analytic, watermark, now, detections);
    return detections;
  }

  /**
   * One analytic's `advance`, isolated: one that throws is counted and logged, and the others still
   * close their episodes. Before, the throw failed the batch, which came back and failed again: a
   * defect in one analytic stalled the partition for all of them.
   */
  private advanceOne(analytic: Analytic, watermark: number, now: number, into: MamoriDetection[]): void {
    try {
      into.push(...this.measured(analytic, analytic.advance(watermark, now)));
    } catch (error) {
      this.analyticFailures.inc({ analytic: analytic.ruleId });
      this.options.logger?.error({ analytic: analytic.ruleId, err: error }, 'analytic failed to advance event time; its open episodes may be reported late');
    }
  }

  /**
   * Time-driven output: a partition with no input for `idleCloseMs` has its episodes closed and
   * reported (and, with a changelog, the closed state snapshotted). Partitions no longer assigned to
   * this instance are dropped first. With a changelog a shutdown closes nothing: open episodes live
   * on in the changelog for the next owner; without one the final tick closes everything.
   */
  async tick(now: number, final: boolean): Promise<StageResult> {
    this.discardUndelivered();
    const assigned = this.assignment?.();
    if (assigned && !final) {
      const mine = new Set(assigned.filter((tp) => tp.topic === this.options.eventsTopic).map((tp) => tp.partition));
      for (const partition of [...this.partitions.keys()]) if (partition !== NO_PARTITION && !mine.has(partition)) this.drop(partition);
    }
    if (final && this.options.changelog) return { outputs: [], deadLetters: [] };
    const detections: MamoriDetection[] = [];
    for (const [partition, state] of this.partitions) {
      if (state.idleClosed) continue;
      if (!final && now - state.lastInputAt < this.options.idleCloseMs) continue;
      detections.push(...this.closePartition(state, now));
      this.snapshot(partition, state);
    }
    if (detections.length === 0 && this.pending.length === 0) return { outputs: [], deadLetters: [] };
    return { outputs: [this.toOutput(detections)], deadLetters: [] };
  }

  async close(): Promise<void> {
    await this.options.changelog?.close();
  }

  private measured(analytic: Analytic, detections: MamoriDetection[]): MamoriDetection[] {
    if (detections.length === 0) return detections;
    const now = Date.now();
    for (const d of detections) {
      this.origin.set(d, analytic.ruleId);
      this.emitted.inc({ analytic: analytic.ruleId, severity: d.severity });
      this.byRule.inc({ rule_id: d.rule_id, severity: d.severity });
      for (const technique of d.techniques.slice(0, 8)) this.byTechnique.inc({ technique });
      this.latency.observe({ analytic: analytic.ruleId }, Math.max(0, now - d.last_seen) / 1000);
    }
    return detections;
  }

  /**
   * Detections as records, each encoded on its own: one an analytic built wrong (it does not fit the
   * Avro schema) is counted as that analytic's failure, logged and left out, and the others go out.
   * Thrown from here it would fail every retry of the batch and stall the partition.
   */
  private toOutput(detections: MamoriDetection[]): { topic: string; messages: OutgoingMessage[] } {
    const messages: OutgoingMessage[] = [];
    for (const d of detections) {
      let value: Buffer;
      try {
        value = this.options.codecs.encodeDetection(d);
      } catch (error) {
        const analytic = this.origin.get(d) ?? d.rule_id;
        this.analyticFailures.inc({ analytic });
        this.options.logger?.error({ analytic, rule: d.rule_id, detection: d.detection_id, err: error }, 'detection does not fit the schema and was left out');
        continue;
      }
      messages.push(detectionMessage(d, value));
    }
    return { topic: this.options.detectionsTopic, messages };
  }
}

/** A detection as a record of the detections topic: key `org|entity` (one entity's versions on one partition), the rule in a header. */
export function detectionMessage(d: MamoriDetection, value: Buffer): OutgoingMessage {
  return { key: `${d.org_id}|${d.entity.value}`, value, headers: { 'mamori.rule_id': d.rule_id } };
}
