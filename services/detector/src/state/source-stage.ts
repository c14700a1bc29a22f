import { errorCode, errorMessage } from '@mamori/core';
import type { MamoriEvent } from '@mamori/events';
import type { DeadLetter, Stage, StageResult } from '@mamori/pipeline';
import { CorrelationRouter, type CorrelationSet } from '@mamori/sigma/correlation';
import type { ConsumedBatch, OutgoingMessage } from '@mamori/transport';
import type { BaseRuleSource } from '../analytics/correlation.ts';
import type { DetectorCodecs } from '../detector-stage.ts';
import { CORRELATION_TOPICS, encodeRecord, factKey, factSeq } from './records.ts';

export interface CorrelationSourceStageOptions {
  eventsTopic: string;
  /** @default 'telemetry.detector.repartition' */
  repartitionTopic?: string;
  /** Partitions of the repartition topic (watermark reports go to each). */
  repartitionPartitions: number;
  correlations: CorrelationSet;
  baseRules: BaseRuleSource;
  codecs: Pick<DetectorCodecs, 'decodeEvent' | 'prefetch'>;
}

/**
 * First half of distributed correlation: evaluates base rules on each event and re-keys every
 * resulting fact by `<correlation id>|<group key>` into the repartition topic, so one group's facts
 * meet in one partition whichever detector instance saw the events. After a batch's facts it
 * reports, to every repartition partition, the newest event time of each input partition it read
 * (in the same send, so a report never overtakes the facts it covers).
 *
 * With an empty correlation set (rule packs without correlations, or all of them removed by a
 * reload) a batch is passed without decoding and nothing is sent: the consumer group's position
 * still advances, so a correlation added later applies from the events after its reload.
 */
export class CorrelationSourceStage implements Stage {
  readonly name = 'detector-correlation-source';
  readonly inputTopics: readonly string[];
  readonly outputTopics: readonly string[];
  private router: CorrelationRouter;
  private active: CorrelationSet;
  private baseRules: BaseRuleSource;
  private next: { set: CorrelationSet; baseRules: BaseRuleSource } | undefined;
  private readonly topic: string;
  /** Newest event time per input partition (restarts from the committed offset rebuild it). */
  private readonly newest = new Map<number, number>();

  constructor(private readonly options: CorrelationSourceStageOptions) {
    this.inputTopics = [options.eventsTopic];
    this.topic = options.repartitionTopic ?? CORRELATION_TOPICS.repartition;
    this.outputTopics = [this.topic];
    this.router = new CorrelationRouter(options.correlations);
    this.active = options.correlations;
    this.baseRules = options.baseRules;
  }

  /** The correlation set batches are evaluated with (a reload takes effect at the next batch). */
  get correlations(): CorrelationSet {
    return this.active;
  }

  /** A reloaded rule set: used from the next batch on (a batch is never split between two sets). */
  reload(set: CorrelationSet, baseRules: BaseRuleSource): void {
    this.next = { set, baseRules };
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const messages: OutgoingMessage[] = [];
    const deadLetters: DeadLetter[] = [];
    const touched = new Set<number>();
    if (this.next) {
      this.router = new CorrelationRouter(this.next.set);
      this.active = this.next.set;
      this.baseRules = this.next.baseRules;
      this.next = undefined;
    }
    if (this.active.rules.length === 0) return { outputs: [{ topic: this.topic, messages }], deadLetters };
    await this.options.codecs.prefetch?.(batch.messages.map((m) => m.value));
    for (const message of batch.messages) {
      touched.add(message.partition);
      let event: MamoriEvent;
      try {
        if (!message.value) throw new Error('record has no value');
        event = this.options.codecs.decodeEvent(message.value);
      } catch (error) {
        deadLetters.push({ message, code: errorCode(error) === 'INTERNAL' ? 'AVRO_DECODE_FAILED' : errorCode(error), reason: errorMessage(error) });
        continue;
      }
      if (event.time > (this.newest.get(message.partition) ?? Number.NEGATIVE_INFINITY)) this.newest.set(message.partition, event.time);
      let ordinal = 0;
      try {
        for (const match of this.baseRules.match(event)) {
          for (const fact of this.router.routeBase(match)) {
            messages.push({ key: factKey(fact), value: encodeRecord({ kind: 'fact', source: `b:${message.partition}`, seq: factSeq(message.offset, ordinal++), fact }) });
          }
        }
      } catch (error) {
        deadLetters.push({ message, code: 'DETECTOR_ANALYTIC_FAILED', reason: errorMessage(error) });
      }
      // A base rule that threw: the others' facts are sent; the event is dead-lettered naming the rule.
      const failed = this.baseRules.takeFailures?.();
      if (failed !== undefined && failed.length > 0) deadLetters.push({ message, code: 'DETECTOR_ANALYTIC_FAILED', reason: failed.join('; ') });
    }
    for (const partition of [...touched].sort((a, b) => a - b)) {
      const time = this.newest.get(partition);
      if (time === undefined) continue;
      const value = encodeRecord({ kind: 'wm', source: `b:${partition}`, time });
      for (let target = 0; target < this.options.repartitionPartitions; target++) messages.push({ key: `~wm|b:${partition}`, value, partition: target });
    }
    return { outputs: [{ topic: this.topic, messages }], deadLetters };
  }
}
