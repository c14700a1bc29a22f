import { errorCode, errorMessage, type Logger } from '@mamori/core';
import type { MamoriDetection } from '@mamori/events';
import type { Indicator } from '@mamori/intel';
import { Counter, type Registry } from '@mamori/metrics';
import type { StorageDriver } from '@mamori/storage';
import type { OutgoingMessage } from '@mamori/transport';
import { retroMatch, type IntelMatchAnalytic } from './analytics/intel.ts';
import { detectionMessage } from './detector-stage.ts';

/** How a retro-match run ended (the `outcome` label of `mamori_intel_retro_runs_total`). */
export type RetroOutcome = 'matched' | 'no_match' | 'not_applicable' | 'no_storage' | 'failed';

export interface IntelRetroOptions {
  /** The live intel analytic: retro sightings share its deduplication and detection ids. */
  analytic: IntelMatchAnalytic;
  /** Where stored events are; undefined when this process reaches none (logged once, counted). */
  storage: StorageDriver | undefined;
  /** Call `storage.connect()` before each run (a ClickHouse server this process does not own, which may come up later). */
  connect?: boolean;
  /** The detection output path (the detections topic, same key and encoding as live detections). */
  send(detections: MamoriDetection[]): Promise<void>;
  /** Look-back of stored events (INTEL_RETRO_LOOKBACK_MS). */
  lookbackMs: number;
  /** Rows one query returns at most (INTEL_RETRO_MAX_ROWS). */
  maxRows: number;
  /** New indicators matched per run at most; the rest are counted as skipped (INTEL_RETRO_MAX_INDICATORS). */
  maxIndicators: number;
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

/** Indicators per query: bounds the parameter arrays and the per-row work of one statement. */
const CHUNK = 1000;

/**
 * Runs new indicators (those a feed refresh added) against the stored events of the look-back
 * window and sends what they find as detections marked `retro`, through the same output path and
 * deduplication as live matches. Runs one at a time, in refresh order; a failure is counted and
 * logged, never thrown into the refresh loop.
 */
export class IntelRetroMatcher {
  private readonly runs: Counter<'outcome'>;
  private readonly detections: Counter;
  private readonly skipped: Counter;
  private queue: Promise<unknown> = Promise.resolve();
  private warnedNoStorage = false;

  constructor(private readonly options: IntelRetroOptions) {
    const registers = [options.registry];
    this.runs = new Counter({ name: 'mamori_intel_retro_runs_total', help: 'Retro-matching runs after feed refreshes that added indicators, by outcome.', labelNames: ['outcome'], registers });
    this.detections = new Counter({ name: 'mamori_intel_retro_detections_total', help: 'Detection records sent by retro-matching (stored events that touched new indicators).', registers });
    this.skipped = new Counter({ name: 'mamori_intel_retro_skipped_indicators_total', help: 'New indicators not retro-matched because a refresh added more than INTEL_RETRO_MAX_INDICATORS.', registers });
  }

  /** Queues a run for the indicators a refresh added; resolves with its outcome once it has run. */
  run(added: readonly Indicator[]): Promise<RetroOutcome> {
    const next = this.queue.then(() => this.runNow(added));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(added: readonly Indicator[]): Promise<RetroOutcome> {
    const outcome = await this.match(added);
    this.runs.inc({ outcome });
    return outcome;
  }

  private async match(all: readonly Indicator[]): Promise<RetroOutcome> {
    const { storage, logger } = this.options;
    const candidates = all.filter((i) => i.kind === 'ip' || i.kind === 'domain');
    if (candidates.length === 0) return 'not_applicable';
    if (!storage) {
      if (!this.warnedNoStorage) {
        this.warnedNoStorage = true;
        logger.warn('intel retro-matching skipped: no event storage is reachable from this process (run the detector with the writer, or set CLICKHOUSE_URL)');
      }
      return 'no_storage';
    }
    const indicators = candidates.length > this.options.maxIndicators ? candidates.slice(0, this.options.maxIndicators) : candidates;
    if (indicators.length < candidates.length) this.skipped.inc(candidates.length - indicators.length);
    try {
      if (this.options.connect) await storage.connect();
      const until = this.options.now?.() ?? Date.now();
      const found = new Map<string, MamoriDetection>();
      for (let i = 0; i < indicators.length; i += CHUNK) {
        const chunk = indicators.slice(i, i + CHUNK);
        // A later chunk may update a detection of an earlier one (same id): the last version is sent.
        for (const d of await retroMatch(storage, this.options.analytic, chunk, { until, lookbackMs: this.options.lookbackMs, maxRows: this.options.maxRows })) found.set(d.detection_id, d);
      }
      if (found.size === 0) return 'no_match';
      await this.options.send([...found.values()]);
      this.detections.inc(found.size);
      return 'matched';
    } catch (error) {
      logger.error({ err: error, error_code: errorCode(error) }, `intel retro-matching failed: ${errorMessage(error)}`);
      return 'failed';
    }
  }
}

/** Detection records as the detector stage writes them to the detections topic (key `org|entity`). */
export function detectionMessages(detections: readonly MamoriDetection[], encode: (d: MamoriDetection) => Buffer): OutgoingMessage[] {
  return detections.map((d) => detectionMessage(d, encode(d)));
}
