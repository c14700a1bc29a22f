import { open } from 'node:fs/promises';
import { errorCode, errorMessage } from '@mamori/core';
import { IntelError } from './errors.ts';
import { parseList, parseMispFeed, parseStixBundle } from './feeds.ts';
import { IndicatorIndex } from './indicator-index.ts';
import type { Indicator, Unsupported } from './types.ts';
import { WarningLists } from './warning-lists.ts';

/** One configured feed. */
export interface FeedSpec {
  name: string;
  format: 'stix' | 'misp' | 'list';
  /** A file path or an http(s) URL. */
  location: string;
  /** Confidence (0..100) for indicators that carry none. @default 50 */
  confidence?: number;
  /** Validity of indicators without an end (lists): this long after load. @default Infinity */
  ttlMs?: number;
}

export interface FetchLimits {
  /** Per request. @default 30000 */
  timeoutMs: number;
  /** A feed above this is refused (the previous copy stays). @default 268435456 (256 MiB) */
  maxBytes: number;
}

export const DEFAULT_FETCH_LIMITS: Readonly<FetchLimits> = Object.freeze({ timeoutMs: 30_000, maxBytes: 256 * 1024 * 1024 });

/** Reads a file or fetches a URL, refusing more than `maxBytes` and giving up after `timeoutMs`. */
export async function readSource(location: string, limits: FetchLimits = DEFAULT_FETCH_LIMITS): Promise<string> {
  if (/^https?:\/\//i.test(location)) {
    let response: Response;
    try {
      response = await fetch(location, { signal: AbortSignal.timeout(limits.timeoutMs), redirect: 'follow' });
    } catch (cause) {
      throw new IntelError('INTEL_FEED_FETCH_FAILED', `${location}: ${errorMessage(cause)}`, { cause });
    }
    if (!response.ok) throw new IntelError('INTEL_FEED_FETCH_FAILED', `${location}: HTTP ${response.status}`);
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > limits.maxBytes) throw new IntelError('INTEL_FEED_TOO_LARGE', `${location}: ${declared} bytes exceeds ${limits.maxBytes}`);
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body ?? []) {
        total += chunk.length;
        if (total > limits.maxBytes) {
          await response.body?.cancel().catch(() => undefined);
          throw new IntelError('INTEL_FEED_TOO_LARGE', `${location}: more than ${limits.maxBytes} bytes`);
        }
        chunks.push(Buffer.from(chunk));
      }
    } catch (cause) {
      if (cause instanceof IntelError) throw cause;
      throw new IntelError('INTEL_FEED_FETCH_FAILED', `${location}: ${errorMessage(cause)}`, { cause });
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  const path = location.startsWith('file://') ? new URL(location) : location;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new IntelError('INTEL_FEED_FETCH_FAILED', `${location}: ${errorMessage(cause)}`, { cause });
  }
  try {
    const { size } = await handle.stat();
    if (size > limits.maxBytes) throw new IntelError('INTEL_FEED_TOO_LARGE', `${location}: ${size} bytes exceeds ${limits.maxBytes}`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** What one refresh did. */
export interface RefreshReport {
  /** Indicators loaded from all feeds (before warning lists). */
  loaded: number;
  /** Indicators in the new index. */
  indexed: number;
  /** Indicators in the new index per feed (after warning lists). */
  indexedByFeed: Record<string, number>;
  /** Indicators dropped by warning lists, in total and per list name. */
  suppressed: number;
  suppressedByList: Record<string, number>;
  unsupported: Unsupported[];
  /** Feeds that failed this time (their previous indicators were kept). */
  errors: { feed: string; code: string; message: string }[];
  /**
   * Indicators whose feed, kind and value were not in the previous index (for retro-matching); on the
   * first load, all of them unless the store was given the keys of an earlier run (`known`).
   */
  added: Indicator[];
  /** Keys ({@link indicatorKey}) of the previous index that this one no longer has. */
  removed: string[];
}

export interface IntelStoreOptions {
  feeds: readonly FeedSpec[];
  /** MISP warning list files or URLs. */
  warningLists?: readonly string[];
  limits?: FetchLimits;
  /** Called after every refresh that changed the index. */
  onUpdate?: (report: RefreshReport, index: IndicatorIndex) => void;
  now?: () => number;
  /**
   * Keys ({@link indicatorKey}) of the indicators an earlier run had indexed: the first load then
   * reports as `added` only what is new since (what a feed gained while the detector was down).
   */
  known?: Iterable<string>;
}

/**
 * What makes an indicator new: its feed, kind and value (and a certificate's issuer), not its id,
 * so that a list whose lines shift (ids are `<file>:<line>`) does not make old values look new.
 */
export const indicatorKey = (i: Indicator): string => `${i.source}\u0000${i.kind}\u0000${i.value}\u0000${i.issuer ?? ''}`;

/**
 * Loads feeds and warning lists, builds a fresh {@link IndicatorIndex} and swaps it in whole, so
 * matching never sees a half-built index. A feed that fails keeps its last good indicators.
 */
export class IntelStore {
  private current = new IndicatorIndex();
  private readonly lastGood = new Map<string, Indicator[]>();
  private known: Set<string>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RefreshReport> | undefined;

  constructor(private readonly options: IntelStoreOptions) {
    this.known = new Set(options.known ?? []);
  }

  get index(): IndicatorIndex {
    return this.current;
  }

  /** Refreshes now; concurrent calls share one run. */
  refresh(): Promise<RefreshReport> {
    this.running ??= this.load().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Refreshes every `intervalMs` (errors are in the reports); returns a stop function. */
  start(intervalMs: number, onError: (error: unknown) => void = () => undefined): () => void {
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
    return () => clearInterval(this.timer);
  }

  private async load(): Promise<RefreshReport> {
    const limits = this.options.limits ?? DEFAULT_FETCH_LIMITS;
    const now = this.options.now?.() ?? Date.now();
    const report: RefreshReport = { loaded: 0, indexed: 0, indexedByFeed: {}, suppressed: 0, suppressedByList: {}, unsupported: [], errors: [], added: [], removed: [] };
    const warnings = new WarningLists();
    for (const location of this.options.warningLists ?? []) {
      try {
        warnings.add(WarningLists.fromJson(await readSource(location, limits), location));
      } catch (error) {
        report.errors.push({ feed: location, code: errorCode(error), message: errorMessage(error) });
      }
    }
    for (const feed of this.options.feeds) {
      try {
        const text = await readSource(feed.location, limits);
        const defaults = { source: feed.name, now, ...(feed.confidence !== undefined ? { confidence: feed.confidence } : {}), ...(feed.ttlMs !== undefined ? { ttlMs: feed.ttlMs } : {}) };
        const parsed = feed.format === 'stix' ? parseStixBundle(text, defaults) : feed.format === 'misp' ? parseMispFeed(text, defaults) : parseList(text, defaults);
        this.lastGood.set(feed.name, parsed.indicators);
        report.unsupported.push(...parsed.unsupported);
      } catch (error) {
        report.errors.push({ feed: feed.name, code: errorCode(error), message: errorMessage(error) });
      }
    }
    const index = new IndicatorIndex(warnings);
    const known = new Set<string>();
    for (const [feed, indicators] of this.lastGood) {
      report.indexedByFeed[feed] = 0;
      for (const indicator of indicators) {
        report.loaded++;
        const list = warnings.coversIndicator(indicator);
        if (list) {
          report.suppressed++;
          report.suppressedByList[list] = (report.suppressedByList[list] ?? 0) + 1;
          continue;
        }
        index.add(indicator);
        report.indexedByFeed[feed] = (report.indexedByFeed[feed] ?? 0) + 1;
        const key = indicatorKey(indicator);
        known.add(key);
        if (!this.known.has(key)) report.added.push(indicator);
      }
    }
    for (const key of this.known) if (!known.has(key)) report.removed.push(key);
    report.indexed = index.size;
    this.current = index;
    this.known = known;
    this.options.onUpdate?.(report, index);
    return report;
  }
}
