import { LRUCache } from 'lru-cache';

const HOUR_MS = 3_600_000;

/** The latest version of one detection, as a heads table's `FINAL` has it. */
export interface DetectionHead {
  orgId: string;
  detectionId: string;
  version: number;
  /** `last_seen` of that version, epoch ms. */
  lastSeen: number;
}

/**
 * What an entry knows of its subject: every head whose `lastSeen` is above `floor`, and none other
 * (`-Infinity`: every head the subject has), in the list's order ({@link sortHeads}).
 */
export interface HeldHeads {
  heads: readonly DetectionHead[];
  floor: number;
}

export interface DetectionHeadsCacheStats {
  /** Pages picked from a held entry with nothing to read. */
  hits: number;
  /** Entries filled (the subject's newest heads read). */
  misses: number;
  /** Entries brought up to date by reading only the detections inserted since (by id). */
  refreshes: number;
  /** Pages the held heads could not decide (they reach below the entry's floor): picked in ClickHouse. */
  fallbacks: number;
}

interface Entry {
  /** The organizations of the entry's scope; undefined: every organization. */
  orgs: ReadonlySet<string> | undefined;
  heads: Map<string, DetectionHead>;
  /** `heads` in the list's order, made on first use after each change. */
  sorted: readonly DetectionHead[] | undefined;
  /** Heads with `lastSeen` at or below it are not held (some may exist). */
  floor: number;
  /** Ids of detections of the scope inserted since the entry's last read: read again before the next use. */
  pending: Set<string>;
  /** A read under way (the fill or a refresh): users wait for it. */
  reading: Promise<void> | undefined;
  /** The count of insert notes when the last read began. */
  readFrom: number;
  /** Dropped (evicted, expired, or a failed fill): a read still under way keeps nothing. */
  dropped: boolean;
}

/**
 * Reads the entry's subject in its organizations scope. Without `ids`: its heads with the newest
 * `last_seen`, at most `max + 1` (any order; the engine may cut ties at the last place either way).
 * With `ids`: the heads of those detections that belong to the subject.
 */
export type DetectionHeadsReader = (ids: readonly string[] | undefined, max: number) => Promise<DetectionHead[]>;

/** A list page's window over heads: `last_seen` in [since, until), and below a cursor's key in the default order. */
export interface HeadsWindow {
  since?: number | undefined;
  until?: number | undefined;
  /** The last row of the previous page (last_seen, detection id): the page starts after it. */
  after?: { lastSeen: number; detectionId: string } | undefined;
}

const HEAD_BYTES = 160;

/**
 * The newest detection heads of a subject (an organizations scope's whole list, or one address's),
 * per scope and subject: for each detection, its latest version and `last_seen`. The first pages of
 * the subject's list in the default order without other filters are then picked from here
 * (`listDetections`) instead of a heads table's `FINAL`, which merges every part holding the scope's
 * rows and costs more with each fresh part that live detections add.
 *
 * An entry holds the subject's `maxHeads` newest heads, or all of them when it has fewer, and knows
 * where that stops (its floor): a page the held heads cannot decide is picked in ClickHouse.
 *
 * Kept exact as the rollup cache is (entity-cache.ts), only where this process's driver sees every
 * insert (embedded chDB): {@link observeInsert} notes the ids of detections inserted for an
 * organization of each entry, and the next use reads those ids' heads (one small read by key, the
 * engine deciding which belong to the subject) before answering. A head that moves to or below the
 * floor leaves the entry; one that grows past `maxHeads` raises the floor. A note that arrives while
 * an entry is being read is kept for the next use, so a list never misses a detection inserted
 * before it was asked for. Entries expire after `ttlMs`.
 */
export class DetectionHeadsCache {
  // Each entry sits in a box of its own: setting a new box is what makes the cache size the entry
  // again (setting the same object keeps its old size).
  private readonly entries: LRUCache<string, { entry: Entry }>;
  /** Inserts of detections noted so far. */
  private notes = 0;
  /** Heads an entry holds at most (bounded by maxBytes too). */
  readonly maxHeads: number;
  readonly stats: DetectionHeadsCacheStats = { hits: 0, misses: 0, refreshes: 0, fallbacks: 0 };

  constructor(
    readonly maxBytes: number,
    maxHeads = 5_000,
    readonly ttlMs: number = HOUR_MS,
    /** Ids noted for one entry beyond which it is dropped rather than read by id. */
    readonly maxPending: number = 1_000,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
    if (!Number.isSafeInteger(maxHeads) || maxHeads < 1) throw new RangeError('maxHeads must be a positive integer');
    // A filled entry always fits, so that setting it never drops it.
    this.maxHeads = Math.max(1, Math.min(maxHeads, Math.floor((maxBytes - 64) / HEAD_BYTES)));
    this.entries = new LRUCache<string, { entry: Entry }>({
      maxSize: maxBytes,
      maxEntrySize: maxBytes,
      // The size is taken when an entry is set: an empty entry is set first (so that inserts during
      // its fill are noted), then set again, in a new box, once filled and after each refresh.
      sizeCalculation: ({ entry }) => 64 + entry.heads.size * HEAD_BYTES,
      ttl: ttlMs,
      dispose: ({ entry }, _key, reason) => {
        // A box replaced by the same entry's new box ('set') leaves the entry in place.
        if (reason !== 'set') entry.dropped = true;
      },
    });
  }

  static key(orgIds: readonly string[] | undefined, subject: string): string {
    return `${orgIds === undefined ? '*' : [...orgIds].sort().join(',')}\u0000${subject}`;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }

  /**
   * The first `limit` heads of `subject`'s list within `orgIds` (undefined: every organization) in
   * `window`, newest `last_seen` first then detection id descending (`onePerId`: the first of each
   * id only, as `LIMIT 1 BY detection_id`), up to date with every insert made before the call;
   * undefined when the held heads cannot decide the page (it is then picked in ClickHouse).
   */
  async pick(
    orgIds: readonly string[] | undefined,
    subject: string,
    read: DetectionHeadsReader,
    window: HeadsWindow,
    limit: number,
    onePerId: boolean,
  ): Promise<DetectionHead[] | undefined> {
    const held = await this.heads(orgIds, subject, read);
    const page = held === undefined ? undefined : pickHeads(held, window, limit, onePerId);
    if (held !== undefined && page === undefined) this.stats.fallbacks++;
    return page;
  }

  /**
   * The newest heads of `subject` within `orgIds`, up to date with every insert made before the call;
   * undefined when the entry could not be held (evicted again and again while being read).
   */
  async heads(orgIds: readonly string[] | undefined, subject: string, read: DetectionHeadsReader): Promise<HeldHeads | undefined> {
    const key = DetectionHeadsCache.key(orgIds, subject);
    const asked = this.notes;
    let readHere = false;
    // Other entries' fills can evict this one while it is read; after a few tries the caller reads it.
    for (let attempt = 0; attempt < 4; attempt++) {
      let entry = this.entries.get(key)?.entry;
      let mine: Promise<void> | undefined;
      if (entry === undefined) {
        entry = {
          orgs: orgIds === undefined ? undefined : new Set(orgIds),
          heads: new Map(),
          sorted: undefined,
          floor: -Infinity,
          pending: new Set(),
          reading: undefined,
          readFrom: this.notes,
          dropped: false,
        };
        this.entries.set(key, { entry });
        this.stats.misses++;
        mine = entry.reading = this.fill(key, entry, read);
      } else if (entry.reading === undefined && entry.pending.size > 0) {
        this.stats.refreshes++;
        entry.readFrom = this.notes;
        mine = entry.reading = this.refresh(key, entry, read);
      }
      const reading = entry.reading;
      if (reading !== undefined) {
        await reading;
        // A read that began with no insert noted since this call holds everything inserted before
        // it. Otherwise what arrived since is noted on the entry: look again.
        if (reading !== mine && entry.readFrom < asked) continue;
        readHere = true;
      }
      if (entry.dropped && !readHere) continue;
      if (!readHere) this.stats.hits++;
      // Sorted once per change, not per page: an entry holds up to thousands of heads.
      entry.sorted ??= sortHeads([...entry.heads.values()]);
      return { heads: entry.sorted, floor: entry.floor };
    }
    return undefined;
  }

  private async fill(key: string, entry: Entry, read: DetectionHeadsReader): Promise<void> {
    try {
      const rows = await read(undefined, this.maxHeads);
      // Notes taken during the read stay pending: the read may or may not have seen those rows.
      if (rows.length > this.maxHeads) {
        // The newest maxHeads + 1 heads: any head not read is no newer than the oldest read, and
        // the engine may have cut a tie there either way, so the entry holds those above it.
        let floor = Infinity;
        for (const row of rows) if (row.lastSeen < floor) floor = row.lastSeen;
        entry.floor = floor;
      }
      for (const row of rows) place(entry, row);
      entry.sorted = undefined;
      if (!entry.dropped) this.entries.set(key, { entry });
    } catch (error) {
      entry.dropped = true;
      if (this.entries.peek(key)?.entry === entry) this.entries.delete(key);
      throw error;
    } finally {
      entry.reading = undefined;
    }
  }

  private async refresh(key: string, entry: Entry, read: DetectionHeadsReader): Promise<void> {
    const ids = [...entry.pending];
    entry.pending = new Set();
    try {
      const rows = await read(ids, ids.length);
      for (const row of rows) place(entry, row);
      if (entry.heads.size > this.maxHeads) trim(entry, this.maxHeads);
      entry.sorted = undefined;
      // Its size again, for the cache's bound.
      if (!entry.dropped) this.entries.set(key, { entry });
    } catch (error) {
      for (const id of ids) entry.pending.add(id);
      throw error;
    } finally {
      entry.reading = undefined;
    }
  }

  /**
   * Every insert through the driver: the ids of detections inserted for an organization are noted
   * on each entry whose scope holds it (read again before the entry's next use).
   */
  observeInsert(table: string, rows: readonly Record<string, unknown>[]): void {
    if (table !== 'detections' || rows.length === 0) return;
    this.notes++;
    if (this.entries.size === 0) return;
    const byOrg = new Map<string, Set<string>>();
    for (const row of rows) {
      const org = row['org_id'];
      const id = row['detection_id'];
      if (typeof org !== 'string' || typeof id !== 'string') {
        // Not a row this cache can place: nothing held can be trusted.
        this.entries.clear();
        return;
      }
      let ids = byOrg.get(org);
      if (ids === undefined) byOrg.set(org, (ids = new Set()));
      ids.add(id);
    }
    const tooMany: string[] = [];
    for (const [key, { entry }] of this.entries.entries()) {
      for (const [org, ids] of byOrg) {
        if (entry.orgs !== undefined && !entry.orgs.has(org)) continue;
        for (const id of ids) entry.pending.add(id);
      }
      if (entry.pending.size > this.maxPending) tooMany.push(key);
    }
    for (const key of tooMany) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** A head read for the entry: held when above its floor, dropped when it moved to or below it; never an older version over a newer. */
function place(entry: Entry, row: DetectionHead): void {
  const key = `${row.orgId}\u0000${row.detectionId}`;
  const held = entry.heads.get(key);
  if (held !== undefined && row.version < held.version) return;
  if (row.lastSeen > entry.floor) entry.heads.set(key, row);
  else entry.heads.delete(key);
}

/** Keeps the entry's `max` newest heads (fewer on a tie at the cut): the floor rises to the newest dropped. */
function trim(entry: Entry, max: number): void {
  const times = [...entry.heads.values()].map((h) => h.lastSeen).sort((a, b) => b - a);
  entry.floor = Math.max(entry.floor, times[max]!);
  for (const [key, head] of entry.heads) if (head.lastSeen <= entry.floor) entry.heads.delete(key);
}

/** ClickHouse's order of two Strings (bytes of UTF-8), which JavaScript's differs from only past U+D7FF. */
export function compareUtf8(a: string, b: string): number {
  if (/[\ud800-\uffff]/.test(a) || /[\ud800-\uffff]/.test(b)) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Heads in the list's default order, as ClickHouse sorts them: newest `last_seen` first, then detection id descending (sorted in place). */
export function sortHeads(heads: DetectionHead[]): DetectionHead[] {
  return heads.sort((a, b) => b.lastSeen - a.lastSeen || compareUtf8(b.detectionId, a.detectionId));
}

/**
 * The page a heads table's `FINAL` picks in the default order: the heads with `last_seen` in
 * [since, until) and after the cursor's key, newest first, then detection id descending (`onePerId`:
 * the first of each id, as `LIMIT 1 BY detection_id`); the first `limit`. Undefined when `held` cannot
 * decide it: fewer than `limit` above its floor while the window reaches down to the floor.
 */
export function pickHeads(held: HeldHeads, window: HeadsWindow, limit: number, onePerId: boolean): DetectionHead[] | undefined {
  const { since, until, after } = window;
  const seen = new Set<string>();
  const out: DetectionHead[] = [];
  // `held.heads` is in the list's order: skip those before the window and cursor, stop below `since`.
  for (const h of held.heads) {
    if (since !== undefined && h.lastSeen < since) break;
    if (until !== undefined && h.lastSeen >= until) continue;
    if (after !== undefined && (h.lastSeen > after.lastSeen || (h.lastSeen === after.lastSeen && compareUtf8(h.detectionId, after.detectionId) >= 0))) continue;
    if (onePerId) {
      if (seen.has(h.detectionId)) continue;
      seen.add(h.detectionId);
    }
    out.push(h);
    if (out.length >= limit) return out;
  }
  // Short of the limit: every head the window holds is known only when it lies above the floor.
  return held.floor === -Infinity || (since !== undefined && since > held.floor) ? out : undefined;
}
