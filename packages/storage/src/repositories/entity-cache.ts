import { LRUCache } from 'lru-cache';
import type { EntityHour, EntityPeerTotal, EntityPort } from './aggregates.ts';

const HOUR_MS = 3_600_000;

/**
 * The busiest rows of a top list over some hours. Either `complete` (every row of those hours), or
 * the first rows in rank order with `bound`: no row left out has more than `bound` connections.
 */
export interface TopCandidates<T> {
  rows: readonly T[];
  complete: boolean;
  bound: number;
}

/** The roll-ups of one address over its settled hours [first hour, `settledUntil`). */
export interface SettledEntityRollups {
  /** End (exclusive, epoch ms, on an hour) of the hours this entry covers. */
  settledUntil: number;
  /** The timeline's hours before `settledUntil`, oldest first. */
  timeline: readonly EntityHour[];
  peers: TopCandidates<EntityPeerTotal>;
  ports: TopCandidates<EntityPort>;
  /** First hour and end of the last hour the address was seen in (all time, when read); undefined if never. */
  seen: { first: number; last: number } | undefined;
}

/** Peers in the roll-up's order: connections, then ClickHouse's text of the stored address. */
export function comparePeers(a: EntityPeerTotal, b: EntityPeerTotal): number {
  return b.connections - a.connections || (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0);
}

/** Ports in the roll-up's order: connections, then port, then protocol. */
export function comparePorts(a: EntityPort, b: EntityPort): number {
  return b.connections - a.connections || a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0);
}

/** The first `limit + 1` rows of a top list read in rank order, as candidates. */
export function topCandidates<T extends { connections: number }>(rows: readonly T[], limit: number): TopCandidates<T> {
  if (rows.length <= limit) return { rows, complete: true, bound: 0 };
  return { rows: rows.slice(0, limit), complete: false, bound: rows[limit]!.connections };
}

/**
 * What the entity page reads of the hours after the settled ones, ranked by the engine (entityRange):
 * `candidates`, the candidates that have live rows, with their totals (settled plus live), the first
 * `n + 1` in rank order; `others`, the other rows with live rows, with their live counts, the first
 * `n + 1` in rank order.
 */
export interface LiveRanks<T> {
  candidates: readonly T[];
  others: readonly T[];
}

/**
 * The exact top `n` over the settled hours and the live ones, or undefined when what was read cannot
 * decide it. Exact totals: the candidates read; a candidate not read whose settled total ranks before
 * the last candidate read (had it live rows it would have been read, so its total is its settled
 * one); and, when the candidates are complete, the other rows read. A candidate not read that ranks
 * after the last one read, and, with complete candidates, an other row not read, rank after `n + 1`
 * rows whose totals are exact, so they cannot be in the top `n`. Rows outside incomplete candidates
 * have at most `bound` plus the largest live count read for one: the top `n` of the exact totals
 * stands when its n-th is above that.
 */
export function mergeTop<T extends { connections: number }>(settled: TopCandidates<T>, live: LiveRanks<T>, n: number, keyOf: (row: T) => string, compare: (a: T, b: T) => number): T[] | undefined {
  const exact = new Map<string, T>();
  for (const row of live.candidates) exact.set(keyOf(row), row);
  const candidateCut = live.candidates.length > n ? live.candidates[live.candidates.length - 1] : undefined;
  for (const row of settled.rows) {
    const key = keyOf(row);
    if (!exact.has(key) && (candidateCut === undefined || compare(row, candidateCut) < 0)) exact.set(key, row);
  }
  if (settled.complete) for (const row of live.others) exact.set(keyOf(row), row);
  const top = [...exact.values()].sort(compare).slice(0, n);
  if (settled.complete) return top;
  const ceiling = settled.bound + (live.others[0]?.connections ?? 0);
  const last = top[n - 1];
  return last !== undefined && last.connections > ceiling ? top : undefined;
}

/** Lookups and upkeep of {@link EntityRollupCache}, for metrics. */
export interface EntityRollupCacheStats {
  hits: number;
  misses: number;
  /** Top lists the candidates could not decide, read over the whole range instead. */
  fallbacks: number;
  /** Entries dropped because rows arrived for hours they cover. */
  invalidations: number;
}

interface Entry {
  orgIds: readonly string[];
  value: SettledEntityRollups;
}

function entryBytes(entry: Entry): number {
  const { timeline, peers, ports } = entry.value;
  let bytes = 512 + 160 * timeline.length + 96 * ports.rows.length;
  for (const p of peers.rows) bytes += 128 + 2 * (p.ip.length + p.sortKey.length);
  return bytes;
}

/** Epoch ms of an inserted event row's `time` text (`YYYY-MM-DD hh:mm:ss.sss`, UTC, as toDateTime64 writes it); NaN otherwise. */
function rowTime(text: string): number {
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$/.test(text) ? Date.parse(`${text.replace(' ', 'T')}Z`) : Number.NaN;
}

/**
 * The entity page's roll-ups over settled hours, by (organizations, address, first hour), for a
 * process that is the only writer of its database (embedded chDB, where the writer runs in the API's
 * process): the timeline, the busiest peers and ports as candidates, and first/last seen. An hour is
 * settled once `settleMs` has passed since its end; the page reads the hours after the entry from
 * ClickHouse on every request, ranked there against the candidates, and merges them in ({@link mergeTop}).
 *
 * Rows that arrive later for a settled hour (a sensor days behind, a replay) are seen by
 * {@link observeInsert}, which every insert through the driver reaches: it drops the entries of that
 * organization covering the hour, and a read that was under way when they arrived is not stored
 * ({@link set} with the generation taken before the read). Entries expire after `ttlMs` at most.
 */
export class EntityRollupCache {
  private readonly entries: LRUCache<string, Entry>;
  private generationValue = 0;
  readonly stats: EntityRollupCacheStats = { hits: 0, misses: 0, fallbacks: 0, invalidations: 0 };

  constructor(
    readonly maxBytes: number,
    readonly settleMs: number,
    readonly ttlMs: number = HOUR_MS,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
    if (!Number.isSafeInteger(settleMs) || settleMs < 0) throw new RangeError('settleMs must be a non-negative integer');
    this.entries = new LRUCache<string, Entry>({
      maxSize: maxBytes,
      maxEntrySize: Math.max(1, Math.floor(maxBytes / 4)),
      sizeCalculation: entryBytes,
      ttl: ttlMs,
    });
  }

  /** The end of the hours settled at `now`: entries cover hours before it. */
  settledUntil(now: number): number {
    return Math.floor((now - this.settleMs) / HOUR_MS) * HOUR_MS;
  }

  static key(orgIds: readonly string[], ip: string, firstHour: number): string {
    return `${[...orgIds].sort().join(',')}\u0000${ip}\u0000${firstHour}`;
  }

  /** Changes whenever rows arrived for settled hours; take it before reading what {@link set} will keep. */
  get generation(): number {
    return this.generationValue;
  }

  get(key: string): SettledEntityRollups | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) this.stats.misses++;
    else this.stats.hits++;
    return entry?.value;
  }

  /** Keeps `value` unless rows for settled hours arrived since `generation` was taken. */
  set(key: string, orgIds: readonly string[], value: SettledEntityRollups, generation: number): boolean {
    if (generation !== this.generationValue) return false;
    this.entries.set(key, { orgIds: [...orgIds], value });
    return true;
  }

  /** Drops the entries of `orgId` that cover `hour` (epoch ms on an hour) or later hours. */
  invalidate(orgId: string, hour: number): void {
    this.generationValue++;
    for (const [key, entry] of this.entries.entries()) {
      if (entry.value.settledUntil > hour && entry.orgIds.includes(orgId)) {
        this.entries.delete(key);
        this.stats.invalidations++;
      }
    }
  }

  /** Drops every entry. */
  clear(): void {
    this.generationValue++;
    this.stats.invalidations += this.entries.size;
    this.entries.clear();
  }

  /**
   * An insert listener for the driver: for rows of `events`, the earliest time per organization;
   * where it falls in a settled hour, {@link invalidate}. Rows it cannot read drop everything.
   */
  observeInsert(table: string, rows: readonly Record<string, unknown>[], now: number = Date.now()): void {
    if (table !== 'events' || rows.length === 0) return;
    // The writer's rows carry `time` as fixed-width text, whose order is the time order: compared
    // as text here and parsed once per organization.
    const earliestText = new Map<string, string>();
    const earliest = new Map<string, number>();
    for (const row of rows) {
      const org = row['org_id'];
      const time = row['time'];
      if (typeof org !== 'string') return this.clear();
      if (typeof time === 'string') {
        const seen = earliestText.get(org);
        if (seen === undefined || time < seen) earliestText.set(org, time);
      } else if (typeof time === 'number' && Number.isFinite(time)) {
        const seen = earliest.get(org);
        if (seen === undefined || time < seen) earliest.set(org, time);
      } else {
        return this.clear();
      }
    }
    for (const [org, text] of earliestText) {
      const time = rowTime(text);
      if (Number.isNaN(time)) return this.clear();
      earliest.set(org, Math.min(time, earliest.get(org) ?? time));
    }
    const settled = this.settledUntil(now);
    for (const [org, time] of earliest) {
      if (time < settled) this.invalidate(org, Math.floor(time / HOUR_MS) * HOUR_MS);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }
}
