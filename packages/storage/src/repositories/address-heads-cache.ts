import { LRUCache } from 'lru-cache';

const HOUR_MS = 3_600_000;

/** The latest version of one detection about an address, as `detections_by_ip FINAL` has it. */
export interface AddressHead {
  orgId: string;
  detectionId: string;
  version: number;
  /** `last_seen` of that version, epoch ms. */
  lastSeen: number;
}

export interface AddressHeadsCacheStats {
  /** Lists picked from a held entry with nothing to read. */
  hits: number;
  /** Entries filled (every head of the address read). */
  misses: number;
  /** Entries brought up to date by reading only the detections inserted since (by id). */
  refreshes: number;
  /** Addresses with more heads than an entry holds: their lists are picked in ClickHouse. */
  oversized: number;
}

interface Entry {
  /** The organizations of the entry's scope; undefined: every organization. */
  orgs: ReadonlySet<string> | undefined;
  heads: Map<string, AddressHead>;
  /** Ids of detections of the scope inserted since the entry's last read: read again before the next use. */
  pending: Set<string>;
  /** A read under way (the fill or a refresh): users wait for it. */
  reading: Promise<void> | undefined;
  /** The count of insert notes when the last read began. */
  readFrom: number;
  /** Too many heads to hold: the list is picked in ClickHouse. */
  oversized: boolean;
  /** Dropped (evicted, expired, or a failed fill): a read still under way keeps nothing. */
  dropped: boolean;
}

/** Reads every head of the entry's address, at most `max + 1`; or, with `ids`, the heads of those detections. */
export type AddressHeadsReader = (ids: readonly string[] | undefined, max: number) => Promise<AddressHead[]>;

const HEAD_BYTES = 160;

/**
 * The detection heads of the addresses whose lists were read (the entity page), per organizations
 * scope and address: for each detection about the address (its source, or its `ip` entity), the
 * latest version and its `last_seen`. A list of the address without other filters is then picked
 * from here (`listDetections`) instead of `detections_by_ip FINAL`.
 *
 * Kept exact as the rollup cache is (entity-cache.ts), only where this process's driver sees every
 * insert (embedded chDB): {@link observeInsert} notes the ids of detections inserted for an
 * organization of each entry, and the next use reads those ids' heads for the address (one small
 * read by key, the engine deciding which of them are about the address) before answering. A note
 * that arrives while an entry is being read is kept for the next use, so a list never misses a
 * detection inserted before it was asked for. Entries expire after `ttlMs`; an address with more
 * than `maxHeads` heads is not held (a note says so, and its lists are picked in ClickHouse).
 */
export class AddressHeadsCache {
  // Each entry sits in a box of its own: setting a new box is what makes the cache size the entry
  // again (setting the same object keeps its old size).
  private readonly entries: LRUCache<string, { entry: Entry }>;
  /** Inserts of detections noted so far. */
  private notes = 0;
  /** Heads an entry holds at most (bounded by maxBytes too). */
  readonly maxHeads: number;
  readonly stats: AddressHeadsCacheStats = { hits: 0, misses: 0, refreshes: 0, oversized: 0 };

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

  static key(orgIds: readonly string[] | undefined, ip: string): string {
    return `${orgIds === undefined ? '*' : [...orgIds].sort().join(',')}\u0000${ip}`;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }

  /**
   * Every head of the address `ip` within `orgIds` (undefined: every organization), up to date with
   * every insert made before the call; undefined when the address has more than `maxHeads`.
   */
  async heads(orgIds: readonly string[] | undefined, ip: string, read: AddressHeadsReader): Promise<AddressHead[] | undefined> {
    const key = AddressHeadsCache.key(orgIds, ip);
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
          pending: new Set(),
          reading: undefined,
          readFrom: this.notes,
          oversized: false,
          dropped: false,
        };
        this.entries.set(key, { entry });
        this.stats.misses++;
        mine = entry.reading = this.fill(key, entry, read);
      } else if (entry.reading === undefined && entry.pending.size > 0 && !entry.oversized) {
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
      if (entry.oversized) {
        this.stats.oversized++;
        return undefined;
      }
      if (entry.dropped && !readHere) continue;
      if (!readHere) this.stats.hits++;
      return [...entry.heads.values()];
    }
    return undefined;
  }

  private async fill(key: string, entry: Entry, read: AddressHeadsReader): Promise<void> {
    try {
      const rows = await read(undefined, this.maxHeads);
      // Notes taken during the read stay pending: the read may or may not have seen those rows.
      if (rows.length > this.maxHeads) {
        entry.oversized = true;
        entry.pending.clear();
      } else {
        for (const row of rows) upsert(entry.heads, row);
      }
      if (!entry.dropped) this.entries.set(key, { entry });
    } catch (error) {
      entry.dropped = true;
      if (this.entries.peek(key)?.entry === entry) this.entries.delete(key);
      throw error;
    } finally {
      entry.reading = undefined;
    }
  }

  private async refresh(key: string, entry: Entry, read: AddressHeadsReader): Promise<void> {
    const ids = [...entry.pending];
    entry.pending = new Set();
    try {
      const rows = await read(ids, ids.length);
      for (const row of rows) upsert(entry.heads, row);
      // Grown past what an entry holds: picked in ClickHouse from now on, as if found at the fill.
      if (entry.heads.size > this.maxHeads) {
        entry.oversized = true;
        entry.heads.clear();
        entry.pending.clear();
      }
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
      if (entry.oversized) continue;
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

function upsert(heads: Map<string, AddressHead>, row: AddressHead): void {
  const key = `${row.orgId}\u0000${row.detectionId}`;
  const held = heads.get(key);
  if (held === undefined || row.version > held.version) heads.set(key, row);
}

/** ClickHouse's order of two Strings (bytes of UTF-8), which JavaScript's differs from only past U+D7FF. */
export function compareUtf8(a: string, b: string): number {
  if (/[\ud800-\uffff]/.test(a) || /[\ud800-\uffff]/.test(b)) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The list `detections_by_ip FINAL` picks for one address, default order: the heads with
 * `last_seen` in [since, until), newest first, then detection id descending; one per detection id
 * (`LIMIT 1 BY detection_id`: the same id in two organizations is listed once); the first `limit`.
 */
export function pickHeads(heads: readonly AddressHead[], since: number | undefined, until: number | undefined, limit: number): AddressHead[] {
  const inRange = heads.filter((h) => (since === undefined || h.lastSeen >= since) && (until === undefined || h.lastSeen < until));
  inRange.sort((a, b) => b.lastSeen - a.lastSeen || compareUtf8(b.detectionId, a.detectionId));
  const seen = new Set<string>();
  const out: AddressHead[] = [];
  for (const h of inRange) {
    if (seen.has(h.detectionId)) continue;
    seen.add(h.detectionId);
    out.push(h);
    if (out.length >= limit) break;
  }
  return out;
}
