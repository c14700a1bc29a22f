import type { MamoriDetection, MamoriEvent } from '@mamori/events';

/**
 * A streaming analytic: sees every normalized event in event-time order per source (the events
 * topic is keyed by source, so one instance sees all of a source's events), and reports
 * detections as they open and as they grow.
 */
export interface Analytic {
  readonly ruleId: string;
  /** Feeds one event; returns detections opened or updated by it. */
  observe(event: MamoriEvent): MamoriDetection[];
  /**
   * Moves event time forward to `watermark` (epoch ms): episodes that went quiet before it close
   * and are reported a last time. `Infinity` closes everything (input idle or shutdown).
   */
  advance(watermark: number, now: number): MamoriDetection[];
  /** Sources with state, for the state-size gauge. */
  size(): number;
  /**
   * Rule-engine counters since the rule set was (re)loaded, for analytics that evaluate rules
   * (Sigma): rules loaded, rule evaluations and matches.
   */
  ruleStats?(): { rules: number; evaluated: number; matches: number };
}
