import { LRUCache } from 'lru-cache';
import type { DetectionRow } from '../rows/detection-row.ts';

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
 * triage state is not cached (it changes in place).
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
