import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode, errorMessage, type Logger } from '@mamori/core';
import type { MamoriDetection } from '@mamori/events';
import { IntelStore, indicatorKey, type Indicator, type IndicatorIndex } from '@mamori/intel';
import { Gauge, type Registry } from '@mamori/metrics';
import type { StorageDriver } from '@mamori/storage';
import { IntelMatchAnalytic } from './analytics/intel.ts';
import type { IntelConfig } from './config.ts';
import { IntelRetroMatcher } from './intel-retro.ts';
import type { IntelKnownLog } from './state/intel-known.ts';

export interface IntelFeeds {
  /** The current index (swapped whole on every refresh). */
  index(): IndicatorIndex;
  /** The live matching analytic (register it with the detector: retro-matching shares its deduplication). */
  readonly analytic: IntelMatchAnalytic;
  /**
   * Retro-matches the indicators each later refresh adds (not the boot load, except what it has
   * beyond the `knownLog` of an earlier run) against stored events (INTEL_RETRO_LOOKBACK_MS; 0 =
   * this does nothing) and sends the detections with `send`.
   */
  enableRetroMatching(deps: { storage: StorageDriver | undefined; connect?: boolean; send(detections: MamoriDetection[]): Promise<void> }): void;
  /** Refreshes now and waits for the retro-matching it starts. */
  refresh(): Promise<void>;
  close(): void;
}

/**
 * Loads the configured feeds and warning lists, refreshes them on the interval, and reports per
 * feed when it last refreshed and how many indicators are active (bounded labels: feed names come
 * from config). A feed that fails keeps its last good indicators and its success time ages, which
 * is what the MamoriIntelFeedStale alert watches.
 */
export async function openIntelFeeds(config: IntelConfig, registry: Registry, logger: Logger, options: { knownLog?: IntelKnownLog } = {}): Promise<IntelFeeds | undefined> {
  if (config.feeds.length === 0) return undefined;
  // The indicators an earlier run indexed: what the boot load has beyond them was added while the
  // detector was down, and is retro-matched once retro-matching is enabled (then recorded).
  const knownLog = config.retroLookbackMs > 0 ? options.knownLog : undefined;
  let known: Set<string> | undefined;
  if (knownLog) {
    try {
      known = await knownLog.read();
    } catch (error) {
      logger.warn({ err: error, error_code: errorCode(error) }, `known intel indicators not read; indicators added while the detector was down are not retro-matched: ${errorMessage(error)}`);
    }
  }
  let boot: { added: Indicator[]; removed: string[] } | undefined;
  let recorded: Promise<unknown> = Promise.resolve();
  const record = (added: readonly Indicator[], removed: readonly string[]): Promise<unknown> => {
    if (!knownLog || (added.length === 0 && removed.length === 0)) return Promise.resolve();
    return knownLog.write(added.map(indicatorKey), removed).catch((error: unknown) => logger.warn({ err: error, error_code: errorCode(error) }, `known intel indicators not recorded: ${errorMessage(error)}`));
  };
  const registers = [registry];
  const lastSuccess = new Gauge({ name: 'mamori_intel_feed_last_success_timestamp_seconds', help: 'When a feed last loaded successfully (Unix seconds).', labelNames: ['feed'], registers });
  const interval = new Gauge({ name: 'mamori_intel_feed_refresh_interval_seconds', help: 'Configured refresh interval of a feed.', labelNames: ['feed'], registers });
  const indexed = new Gauge({ name: 'mamori_intel_indicators', help: 'Indicators active in the match index (after warning lists), per feed.', labelNames: ['feed'], registers });
  const suppressed = new Gauge({ name: 'mamori_intel_suppressed_indicators', help: 'Indicators dropped because a warning list covers them.', registers });
  const failures = new Gauge({ name: 'mamori_intel_feed_failing', help: '1 while the last refresh of a feed failed.', labelNames: ['feed'], registers });
  for (const feed of config.feeds) interval.set({ feed: feed.name }, config.refreshIntervalMs / 1000);

  const analytic = new IntelMatchAnalytic(() => store.index, { dedupWindowMs: config.dedupWindowMs, maxOpen: config.maxOpen, retroLookbackMs: config.retroLookbackMs, retroMaxRows: config.retroMaxRows });
  let onAdded: ((added: Indicator[]) => Promise<unknown>) | undefined;
  let retroRuns: Promise<unknown> = Promise.resolve();
  const store = new IntelStore({
    feeds: config.feeds,
    warningLists: expandWarningLists(config.warningLists),
    onUpdate: (report) => {
      const failed = new Set(report.errors.map((e) => e.feed));
      for (const feed of config.feeds) {
        failures.set({ feed: feed.name }, failed.has(feed.name) ? 1 : 0);
        if (!failed.has(feed.name)) lastSuccess.set({ feed: feed.name }, Date.now() / 1000);
      }
      for (const feed of config.feeds) indexed.set({ feed: feed.name }, report.indexedByFeed[feed.name] ?? 0);
      suppressed.set(report.suppressed);
      for (const error of report.errors) logger.warn({ feed: error.feed, error_code: error.code }, `intel feed refresh failed: ${error.message}`);
      if (!onAdded) {
        // The boot load (or a refresh before retro-matching is enabled): kept for enableRetroMatching.
        boot = { added: [...(boot?.added ?? []), ...(known === undefined || known.size === 0 ? [] : report.added)], removed: [...(boot?.removed ?? []), ...report.removed] };
        if (known === undefined || known.size === 0) recorded = recorded.then(() => record(report.added, []));
        return;
      }
      const run: Promise<unknown> = report.added.length > 0 ? onAdded(report.added) : Promise.resolve();
      retroRuns = run;
      // Recorded once retro-matched: a crash in between retro-matches them again after the restart.
      recorded = recorded.then(() => run).then(() => record(report.added, report.removed));
    },
    ...(known && known.size > 0 ? { known } : {}),
  });
  await store.refresh();
  const stop = store.start(config.refreshIntervalMs, (error) => logger.error({ err: error, error_code: 'INTEL_REFRESH_FAILED' }, `intel refresh failed: ${errorMessage(error)}`));
  return {
    index: () => store.index,
    analytic,
    enableRetroMatching: (deps) => {
      if (config.retroLookbackMs <= 0) return;
      const matcher = new IntelRetroMatcher({
        ...deps,
        analytic,
        lookbackMs: config.retroLookbackMs,
        maxRows: config.retroMaxRows,
        maxIndicators: config.retroMaxIndicators,
        registry,
        logger,
      });
      onAdded = (added) => matcher.run(added);
      const pending = boot;
      boot = undefined;
      if (pending && (pending.added.length > 0 || pending.removed.length > 0)) {
        const run: Promise<unknown> = pending.added.length > 0 ? matcher.run(pending.added) : Promise.resolve();
        retroRuns = run;
        recorded = recorded.then(() => run).then(() => record(pending.added, pending.removed));
      }
    },
    refresh: async () => {
      await store.refresh();
      await retroRuns;
      await recorded;
    },
    close: stop,
  };
}

/**
 * Folders are searched for MISP warning lists: every `.json` file below them (the misp-warninglists
 * repository keeps one `list.json` per folder; exports often flatten them to `<name>.json`).
 */
function expandWarningLists(locations: readonly string[]): string[] {
  const out: string[] = [];
  for (const location of locations) {
    if (/^https?:\/\//.test(location)) {
      out.push(location);
      continue;
    }
    let stats;
    try {
      stats = statSync(location);
    } catch {
      out.push(location); // reported by the store as a failed list
      continue;
    }
    if (!stats.isDirectory()) {
      out.push(location);
      continue;
    }
    const walk = (dir: string, depth: number): void => {
      if (depth > 4) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path, depth + 1);
        else if (entry.name.endsWith('.json')) out.push(path);
      }
    };
    walk(location, 0);
  }
  return out;
}
