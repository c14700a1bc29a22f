import { LRUCache } from 'lru-cache';
import type { DetectionRow } from '../rows/detection-row.ts';
import type { DetectionState } from './detection-state.ts';

/** Rough heap bytes of a row: its strings (two bytes a character) plus the object and arrays around them. */
function approximateBytes(row: DetectionRow): number {
  let chars = row.detectionId.length + row.orgId.length + row.ruleId.length + row.title.length + row.summary.length;
  chars += row.evidenceJson.length + row.entityValue.length + row.rulesetChecksum.length;
  for (const id of row.evidenceEventIds) chars += id.length + 16;
  for (const t of row.tactics) chars += t.length + 16;
  for (const t of row.techniques) chars += t.length + 16;
  for (const [k, v] of Object.entries(row.attributes)) chars += k.length + v.length + 32;
  return 2 * chars + 512;
}

/** Cache lookups of {@link DetectionRowCache}, for a metric. */
export interface DetectionRowCacheStats {
  hits: number;
  misses: number;
}

/**
 * Whole detection rows by (organization, id, version), bounded by their approximate size, least
 * recently used first out. A stored version of a detection never changes (an update is a new
 * version with its own number), so a cached row is the stored row for as long as it is cached: the
 * list still picks the page, with its filters, organization scope and current versions, from the
 * database on every request, and reads from the database only the rows of versions not cached. The
 * triage state changes in place: {@link TriageStateCache} holds it where the process is its only writer.
 */
export class DetectionRowCache {
  private readonly rows: LRUCache<string, DetectionRow>;
  readonly stats: DetectionRowCacheStats = { hits: 0, misses: 0 };

  /** @param maxBytes upper bound of the rows' approximate heap size; rows larger than a tenth of it are not kept. */
  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
    this.rows = new LRUCache<string, DetectionRow>({
      maxSize: maxBytes,
      maxEntrySize: Math.max(1, Math.floor(maxBytes / 10)),
      sizeCalculation: approximateBytes,
    });
  }

  private static key(orgId: string, detectionId: string, version: number): string {
    return `${orgId}\u0000${detectionId}\u0000${version}`;
  }

  get(orgId: string, detectionId: string, version: number): DetectionRow | undefined {
    const row = this.rows.get(DetectionRowCache.key(orgId, detectionId, version));
    if (row === undefined) this.stats.misses++;
    else this.stats.hits++;
    return row;
  }

  /** Keeps `row`, frozen (with its arrays and attributes): every later reader gets this object. */
  set(row: DetectionRow): void {
    Object.freeze(row.evidenceEventIds);
    Object.freeze(row.tactics);
    Object.freeze(row.techniques);
    Object.freeze(row.attributes);
    Object.freeze(row);
    this.rows.set(DetectionRowCache.key(row.orgId, row.detectionId, row.version), row);
  }

  /** Rows held now. */
  get size(): number {
    return this.rows.size;
  }

  /** Approximate bytes held now. */
  get bytes(): number {
    return this.rows.calculatedSize;
  }
}

/** Rough heap bytes of a cached triage state. */
function stateBytes(state: DetectionState | null): number {
  return state === null ? 96 : 2 * (state.detectionId.length + state.orgId.length + state.assignee.length + state.note.length + state.changedBy.length) + 256;
}

/**
 * The current triage state of detections by (organization, id), for an API process that is the only
 * writer of triage state: with embedded chDB the process owns the database, and every change goes
 * through its `PATCH /v1/detections/:id`, which records the new state here once stored. The list and
 * the entity page then read from ClickHouse only the states of detections they have not seen.
 * Not for a ClickHouse server, which other API processes may write to.
 *
 * Each entry is a state or `null` (no change recorded yet). Versions only move forward: a read that
 * started before a change and ends after it cannot put the older state back, and a `null` never
 * replaces a state. Two changes written with the same version (a race the storage settles by
 * insertion order) drop the entry, so the next read asks ClickHouse.
 */
export class TriageStateCache {
  private readonly states: LRUCache<string, { state: DetectionState | null }>;
  readonly stats: DetectionRowCacheStats = { hits: 0, misses: 0 };

  /** @param maxBytes upper bound of the states' approximate heap size. */
  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
    this.states = new LRUCache<string, { state: DetectionState | null }>({ maxSize: maxBytes, sizeCalculation: (e) => stateBytes(e.state) });
  }

  private static key(orgId: string, detectionId: string): string {
    return `${orgId}\u0000${detectionId}`;
  }

  /** The cached state, `null` for a detection known to have none, undefined when not cached. */
  get(orgId: string, detectionId: string): DetectionState | null | undefined {
    const entry = this.states.get(TriageStateCache.key(orgId, detectionId));
    if (entry === undefined) this.stats.misses++;
    else this.stats.hits++;
    return entry?.state;
  }

  /** What a read found: `state`, or no state (`null`) for `detectionId`; never replaces a newer entry. */
  read(orgId: string, detectionId: string, state: DetectionState | null): void {
    const key = TriageStateCache.key(orgId, detectionId);
    const held = this.states.get(key, { updateAgeOnGet: false });
    if (held !== undefined && (state === null || (held.state !== null && held.state.version >= state.version))) return;
    this.states.set(key, { state: state === null ? null : Object.freeze({ ...state }) });
  }

  /** A change this process stored: kept unless the same version is held already (then dropped). */
  wrote(state: DetectionState): void {
    const key = TriageStateCache.key(state.orgId, state.detectionId);
    const held = this.states.get(key, { updateAgeOnGet: false })?.state;
    if (held && held.version > state.version) return;
    if (held && held.version === state.version) {
      this.states.delete(key);
      return;
    }
    this.states.set(key, { state: Object.freeze({ ...state }) });
  }

  /** Forgets a detection's state (a change whose outcome is unknown). */
  forget(orgId: string, detectionId: string): void {
    this.states.delete(TriageStateCache.key(orgId, detectionId));
  }

  get size(): number {
    return this.states.size;
  }
}
