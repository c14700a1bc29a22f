import { errorCode, errorMessage } from '@mamori/core';
import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { Counter, Gauge, Histogram, type Registry } from '@mamori/metrics';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import type { ConsumedBatch, OutgoingMessage } from '@mamori/transport';
import type { Analytic } from './analytics/types.ts';

/**
 * Dead-letter codes this stage sets itself; listed in docs/errors.md. A decode failure that is already
 * a MamoriError (e.g. a CodecError `SCHEMA_UNKNOWN`) keeps its own code.
 *
 * - `AVRO_DECODE_FAILED`: the event could not be decoded and the error carried no code of its own
 *   (e.g. the record has no value); also a CodecErrorCode.
 * - `DETECTOR_ANALYTIC_FAILED`: an analytic threw on the event (a defect, reported instead of stalling).
 */
export const STAGE_ERROR_CODES = ['AVRO_DECODE_FAILED', 'DETECTOR_ANALYTIC_FAILED'] as const;
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
  /** Events up to this much older than the newest seen still count. @default 5000 */
  allowedLatenessMs: number;
  /** With no input for this long (wall clock), every open episode is closed and reported. @default 10000 */
  idleCloseMs: number;
}

/**
 * Feeds normalized events to every analytic in event time. The watermark is the newest event time
 * seen minus the allowed lateness; episodes that went quiet before it are closed. When the input
 * goes idle, all episodes close, so a finished attack is reported with its final count.
 */
export class DetectorStage implements Stage {
  readonly name = 'detector';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private lastInputAt = Date.now();
  private idleClosed = true;
  private readonly stateGauge: Gauge<'analytic'>;
  private readonly latency: Histogram<'analytic'>;
  private readonly emitted: Counter<'analytic' | 'severity'>;
  private readonly byRule: Counter<'rule_id' | 'severity'>;
  private readonly byTechnique: Counter<'technique'>;
  private readonly late: Counter;
  private readonly evaluationSeconds: Counter<'analytic'>;
  private observed = 0;

  constructor(private readonly options: DetectorStageOptions) {
    this.inputTopics = [options.eventsTopic];
    this.outputTopics = [options.detectionsTopic];
    this.stateGauge = new Gauge({
      name: 'mamori_detector_state_entities',
      help: 'Entities (e.g. sources) an analytic holds state for.',
      labelNames: ['analytic'],
      registers: [options.registry],
      collect: () => {
        for (const analytic of options.analytics) this.stateGauge.set({ analytic: analytic.ruleId }, analytic.size());
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
    this.late = new Counter({
      name: 'mamori_detector_late_events_total',
      help: 'Events older than the watermark when they arrived (still evaluated; windows already closed may miss them).',
      registers: [options.registry],
    });
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const detections: MamoriDetection[] = [];
    const deadLetters: DeadLetter[] = [];
    await this.options.codecs.prefetch?.(batch.messages.map((m) => m.value));
    for (const message of batch.messages) {
      let event: MamoriEvent;
      try {
        if (!message.value) throw new Error('record has no value');
        event = this.options.codecs.decodeEvent(message.value);
      } catch (error) {
        deadLetters.push({ message, code: errorCode(error) === 'INTERNAL' ? ('AVRO_DECODE_FAILED' satisfies StageErrorCode) : errorCode(error), reason: errorMessage(error) });
        continue;
      }
      try {
        detections.push(...this.observe(event));
      } catch (error) {
        // A defect in one analytic must not stall the partition: the event is dead-lettered with the reason.
        deadLetters.push({ message, code: 'DETECTOR_ANALYTIC_FAILED' satisfies StageErrorCode, reason: errorMessage(error) });
      }
    }
    if (batch.messages.length > 0) {
      this.lastInputAt = Date.now();
      this.idleClosed = false;
    }
    detections.push(...this.advanceWatermark(Date.now()));
    return { outputs: [this.toOutput(detections)], deadLetters };
  }

  /**
   * Decoded events through the same path as a consumed batch (`mamori hunt` over files): each
   * event to every analytic, then the watermark advanced once. An analytic that throws is skipped
   * for that event and reported through `onError`.
   */
  observeEvents(events: readonly MamoriEvent[], onError: (event: MamoriEvent, error: unknown) => void = () => {}): MamoriDetection[] {
    const detections: MamoriDetection[] = [];
    for (const event of events) {
      try {
        detections.push(...this.observe(event));
      } catch (error) {
        onError(event, error);
      }
    }
    if (events.length > 0) {
      this.lastInputAt = Date.now();
      this.idleClosed = false;
    }
    detections.push(...this.advanceWatermark(Date.now()));
    return detections;
  }

  /** End of input: closes every open episode (what an idle or final tick does). */
  closeAll(now = Date.now()): MamoriDetection[] {
    const detections: MamoriDetection[] = [];
    for (const analytic of this.options.analytics) detections.push(...this.measured(analytic, analytic.advance(Number.POSITIVE_INFINITY, now)));
    this.idleClosed = true;
    return detections;
  }

  private observe(event: MamoriEvent): MamoriDetection[] {
    if (event.time < this.maxEventTime - this.options.allowedLatenessMs) this.late.inc();
    if (event.time > this.maxEventTime) this.maxEventTime = event.time;
    const detections: MamoriDetection[] = [];
    // Evaluation time is sampled (one event in EVALUATION_SAMPLE) so that timing costs almost nothing.
    const timed = ++this.observed % EVALUATION_SAMPLE === 0;
    for (const analytic of this.options.analytics) {
      if (!timed) {
        detections.push(...this.measured(analytic, analytic.observe(event)));
        continue;
      }
      const started = process.hrtime.bigint();
      const found = analytic.observe(event);
      this.evaluationSeconds.inc({ analytic: analytic.ruleId }, (Number(process.hrtime.bigint() - started) / 1e9) * EVALUATION_SAMPLE);
      detections.push(...this.measured(analytic, found));
    }
    return detections;
  }

  private advanceWatermark(now: number): MamoriDetection[] {
    const watermark = this.maxEventTime - this.options.allowedLatenessMs;
    const detections: MamoriDetection[] = [];
    for (const analytic of this.options.analytics) detections.push(...this.measured(analytic, analytic.advance(watermark, now)));
    return detections;
  }

  async tick(now: number, final: boolean): Promise<StageResult> {
    if (this.idleClosed) return { outputs: [], deadLetters: [] };
    if (!final && now - this.lastInputAt < this.options.idleCloseMs) return { outputs: [], deadLetters: [] };
    return { outputs: [this.toOutput(this.closeAll(now))], deadLetters: [] };
  }

  private measured(analytic: Analytic, detections: MamoriDetection[]): MamoriDetection[] {
    if (detections.length === 0) return detections;
    const now = Date.now();
    for (const d of detections) {
      this.emitted.inc({ analytic: analytic.ruleId, severity: d.severity });
      this.byRule.inc({ rule_id: d.rule_id, severity: d.severity });
      for (const technique of d.techniques.slice(0, 8)) this.byTechnique.inc({ technique });
      this.latency.observe({ analytic: analytic.ruleId }, Math.max(0, now - d.last_seen) / 1000);
    }
    return detections;
  }

  private toOutput(detections: MamoriDetection[]): { topic: string; messages: OutgoingMessage[] } {
    return {
      topic: this.options.detectionsTopic,
      messages: detections.map((d) => ({
        key: `${d.org_id}|${d.entity.value}`,
        value: this.options.codecs.encodeDetection(d),
        headers: { 'mamori.rule_id': d.rule_id },
      })),
    };
  }
}
