import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import type { StateChange } from './entity-state.ts';

/**
 * A streaming analytic: sees every normalized event in event-time order per source (the events
 * topic is keyed by source, so one instance sees all of a source's events), and reports
 * detections as they open and as they grow.
 */
export interface Analytic {
  readonly ruleId: string;
  /**
   * Feeds one event; returns detections opened or updated by it. `watermark` (epoch ms) is the
   * event-time watermark before this event: a stateful analytic first applies to the event's entity
   * what `advance(watermark)` would have done to it (close a quiet episode, forget an expired
   * window), so the result does not depend on where batch boundaries (and `advance` calls) fall.
   * @default -Infinity (nothing to settle)
   */
  observe(event: MamoriEvent, watermark?: number): MamoriDetection[];
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
  /**
   * What failed without failing the analytic since the last call (one rule of a rule set whose
   * evaluation threw: the other rules' results stand), as `<what>: <message>` lines, then cleared.
   */
  takeFailures?(): readonly string[];
}

/**
 * An analytic with per-entity window state that survives restarts and rebalances: the detector
 * stage runs one instance per input partition (`fork`) and writes each instance's changed entities
 * to the analytics changelog (docs/detections.md, "State across restarts").
 */
export interface StatefulAnalytic extends Analytic {
  /** A new, empty instance with the same configuration. */
  fork(): StatefulAnalytic;
  /** Entities whose state changed since the last call (null value: the entity's state is gone). */
  exportChanges(): StateChange[];
  /** Loads one entity exported by `exportChanges` (restore); called in ascending `order`. */
  importEntity(key: string, order: number, value: unknown): void;
  /** The stage dropped this fork (partition revoked, or reloaded from the changelog): forget links to it. */
  release?(): void;
}

export function isStateful(analytic: Analytic): analytic is StatefulAnalytic {
  return typeof (analytic as Partial<StatefulAnalytic>).fork === 'function';
}
