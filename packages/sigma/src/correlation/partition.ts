import { errorMessage } from '@mamori/core';
import { correlationFingerprints } from './fingerprint.ts';
import type { CorrelationMatch, CorrelationSet, CorrelationType, KeyedFact } from './types.ts';
import { DEFAULT_WINDOW_LIMITS, GroupWindow, type GroupStateJson, type WindowLimits } from './window.ts';

/**
 * Where watermarks come from. `local`: one process sees every fact; the watermark is the newest
 * fact time minus the lateness. `sources`: facts arrive from several producers through a
 * repartition topic; each producer reports the newest event time of its input, and a depth's
 * watermark is the minimum over every expected source (so a slow or restarting producer holds
 * windows open instead of making its facts late).
 */
export type WatermarkMode =
  | { kind: 'local' }
  | {
      kind: 'sources';
      /** Ids of every base-fact source (e.g. one per input partition). */
      baseSources: readonly string[];
      /** Ids of every partition that reports level watermarks for chained correlations. */
      levelSources: readonly string[];
    };

export interface PartitionOptions {
  /** Facts up to this much older than the watermark's source time still count. */
  allowedLatenessMs: number;
  watermarks: WatermarkMode;
  limits?: Partial<WindowLimits>;
  /** Receives counts for metrics. */
  stats?: CorrelationStats;
}

/** Plain counters (no metrics library here); the detector exports them to Prometheus. */
export class CorrelationStats {
  readonly evaluations = new Map<CorrelationType, number>();
  readonly matches = new Map<CorrelationType, number>();
  readonly late = new Map<CorrelationType, number>();
  /** Group windows dropped because their evaluation threw, and matches that could not be used ({@link CorrelationFailure}). */
  readonly failures = new Map<CorrelationType, number>();
  duplicates = 0;
  overflow = 0;

  bump(map: Map<CorrelationType, number>, type: CorrelationType, n = 1): void {
    map.set(type, (map.get(type) ?? 0) + n);
  }
}

/**
 * A group window whose evaluation threw (a defect, not bad input: facts are validated when offered).
 * The window is dropped with its facts, so the partition's other groups and later windows go on;
 * without that, the same throw would fail every retry of the batch and stall the partition.
 */
export interface CorrelationFailure {
  correlationId: string;
  type: CorrelationType;
  groupKey: string;
  message: string;
}

/** Failures kept until taken; more are counted in the stats only. */
export const MAX_CORRELATION_FAILURES_KEPT = 100;
const NO_FAILURES: readonly CorrelationFailure[] = Object.freeze([]);

/** Outcome of offering a fact. `late`: older than the watermark already evaluated; counted, not admitted. */
export type OfferResult = 'accepted' | 'duplicate' | 'late' | 'unknown_correlation';

/** Changelog entry: `value` null deletes the key. */
export interface StateChange {
  key: string;
  value: string | null;
}

interface MetaJson {
  seq: Record<string, number>;
  rep: Record<string, number>;
  done: (number | null)[];
  emit: number;
  applied: string | null;
  max: number | null;
}

export const META_KEY = 'm';
const groupStateKey = (correlationId: string, groupKey: string): string => `g|${correlationId}|${groupKey}`;
const toNum = (n: number | null | undefined): number => (n === null || n === undefined ? Number.NEGATIVE_INFINITY : n);
const fromNum = (n: number): number | null => (Number.isFinite(n) ? n : null);

/**
 * Correlation state for one partition of the group space: every group's window, the watermark
 * reports, the per-source sequence numbers used to drop redelivered facts, and the changes since
 * the last changelog write. Deterministic: the same facts give the same matches whatever their
 * arrival order within the lateness, and a restored partition continues exactly where the
 * original stopped.
 */
export class CorrelationPartition {
  private readonly groups = new Map<string, GroupWindow>();
  private readonly pendingByDepth: Set<string>[];
  private readonly processed: number[];
  private readonly lastSweep: number[];
  private readonly seq = new Map<string, number>();
  private readonly reported = new Map<string, number>();
  private maxSeen = Number.NEGATIVE_INFINITY;
  private readonly dirty = new Set<string>();
  private metaDirty = false;
  private readonly limits: WindowLimits;
  private readonly fingerprints: ReadonlyMap<string, string>;
  readonly stats: CorrelationStats;
  /** Sequence of derived facts this partition emitted (their dedupe key downstream). */
  emitSeq = 0;
  /** Input offset applied through (set by the stage; persisted with the state). */
  applied: string | undefined;
  private failures: CorrelationFailure[] = [];

  constructor(
    readonly set: CorrelationSet,
    private readonly options: PartitionOptions,
  ) {
    this.limits = { ...DEFAULT_WINDOW_LIMITS, ...options.limits };
    this.stats = options.stats ?? new CorrelationStats();
    this.fingerprints = correlationFingerprints(set);
    const depths = set.maxDepth + 1;
    this.pendingByDepth = Array.from({ length: depths }, () => new Set<string>());
    this.processed = Array.from({ length: depths }, () => Number.NEGATIVE_INFINITY);
    this.lastSweep = Array.from({ length: depths }, () => Number.NEGATIVE_INFINITY);
  }

  /** Open group windows. */
  groupCount(): number {
    return this.groups.size;
  }

  /** Facts held across all groups. */
  factCount(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.size();
    return n;
  }

  /**
   * Offers a fact. With `source`, a fact whose sequence number is not above the last one applied
   * from that source is a redelivery and is dropped (producers resend from their last commit).
   */
  offer(fact: KeyedFact, source?: { id: string; seq: number }): OfferResult {
    const rule = this.set.byId.get(fact.correlationId);
    if (!rule) return 'unknown_correlation';
    if (source) {
      if (source.seq <= (this.seq.get(source.id) ?? -1)) {
        this.stats.duplicates += 1;
        return 'duplicate';
      }
      this.seq.set(source.id, source.seq);
      this.metaDirty = true;
    }
    if (fact.time > this.maxSeen) {
      this.maxSeen = fact.time;
      this.metaDirty = true;
    }
    if (fact.time <= this.processed[rule.depth]!) {
      this.stats.bump(this.stats.late, rule.type);
      return 'late';
    }
    const key = groupStateKey(rule.id, fact.groupKey);
    let group = this.groups.get(key);
    if (!group) {
      group = new GroupWindow(rule, fact.groupKey, fact.groupValues, this.limits);
      this.groups.set(key, group);
    }
    group.add(fact);
    this.pendingByDepth[rule.depth]!.add(key);
    this.dirty.add(key);
    return 'accepted';
  }

  /** A source's newest event time (base sources) — reports only move forward. */
  report(sourceId: string, time: number): void {
    if (time > (this.reported.get(sourceId) ?? Number.NEGATIVE_INFINITY)) {
      this.reported.set(sourceId, time);
      this.metaDirty = true;
    }
  }

  /** Watermark of a depth now (what `advanceDepth` would advance to). */
  watermark(depth: number): number {
    const mode = this.options.watermarks;
    if (mode.kind === 'local') {
      // Minus one: a fact exactly `lateness` older than the newest is still on time.
      return depth === 0 ? this.maxSeen - this.options.allowedLatenessMs - 1 : this.processed[depth - 1]!;
    }
    let base = Number.POSITIVE_INFINITY;
    for (const id of mode.baseSources) base = Math.min(base, this.reported.get(`b:${id}`) ?? Number.NEGATIVE_INFINITY);
    base -= this.options.allowedLatenessMs + 1;
    if (depth === 0) return base;
    let level = Number.POSITIVE_INFINITY;
    for (const id of mode.levelSources) level = Math.min(level, this.reported.get(`l${depth - 1}:${id}`) ?? Number.NEGATIVE_INFINITY);
    return Math.min(base, level);
  }

  /** The watermark a depth was last advanced to (reported to other partitions for chains). */
  processedWatermark(depth: number): number {
    return this.processed[depth] ?? Number.NEGATIVE_INFINITY;
  }

  /** Advances one depth to its watermark; returns its matches in event-time order. */
  advanceDepth(depth: number, watermark = this.watermark(depth)): CorrelationMatch[] {
    if (!(watermark > this.processed[depth]!)) return [];
    const matches: CorrelationMatch[] = [];
    const counters = { evaluations: 0, overflow: 0 };
    const pending = this.pendingByDepth[depth]!;
    for (const key of [...pending].sort()) {
      const group = this.groups.get(key);
      if (!group) {
        pending.delete(key);
        continue;
      }
      counters.evaluations = 0;
      let found: CorrelationMatch[];
      try {
        found = group.advance(watermark, counters);
      } catch (error) {
        this.dropFailed(key, group, error);
        pending.delete(key);
        continue;
      }
      this.stats.bump(this.stats.evaluations, group.rule.type, counters.evaluations);
      for (const m of found) this.stats.bump(this.stats.matches, m.type, 1);
      matches.push(...found);
      if (group.pending.length === 0) pending.delete(key);
      this.dirty.add(key);
    }
    this.stats.overflow += counters.overflow;
    this.processed[depth] = watermark;
    this.metaDirty = true;
    this.sweep(depth, watermark);
    matches.sort((a, b) => a.windowEnd - b.windowEnd || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return matches;
  }

  /** Group windows dropped since the last call because their evaluation threw (at most {@link MAX_CORRELATION_FAILURES_KEPT}). */
  takeFailures(): readonly CorrelationFailure[] {
    if (this.failures.length === 0) return NO_FAILURES;
    const taken = Object.freeze(this.failures);
    this.failures = [];
    return taken;
  }

  /** Records that a match's later handling (its detection or derived facts) threw, counted like a window failure. */
  recordMatchFailure(match: CorrelationMatch, error: unknown): void {
    this.recordFailure({ correlationId: match.correlationId, type: match.type, groupKey: match.groupKey, message: errorMessage(error) });
  }

  private recordFailure(failure: CorrelationFailure): void {
    this.stats.bump(this.stats.failures, failure.type);
    if (this.failures.length < MAX_CORRELATION_FAILURES_KEPT) this.failures.push(failure);
  }

  private dropFailed(key: string, group: GroupWindow, error: unknown): void {
    this.groups.delete(key);
    this.dirty.add(key);
    this.recordFailure({ correlationId: group.rule.id, type: group.rule.type, groupKey: group.groupKey, message: errorMessage(error) });
  }

  /** Drops groups whose facts can no longer share a window with any future fact. */
  private sweep(depth: number, watermark: number): void {
    const minSpan = this.set.rules.filter((r) => r.depth === depth).reduce((m, r) => Math.min(m, r.timespanMs), Number.POSITIVE_INFINITY);
    // O(groups): done at most every eighth of the shortest timespan of event time.
    if (watermark - this.lastSweep[depth]! < Math.max(1, minSpan / 8)) return;
    this.lastSweep[depth] = watermark;
    for (const [key, group] of this.groups) {
      if (group.rule.depth === depth && group.expired(watermark)) {
        this.groups.delete(key);
        this.dirty.add(key);
      }
    }
  }

  /** Changes since the last call: group states (null = deleted) and the partition's meta record. */
  takeChanges(): StateChange[] {
    const changes: StateChange[] = [];
    for (const key of [...this.dirty].sort()) {
      const group = this.groups.get(key);
      changes.push({ key, value: group ? JSON.stringify({ ...group.toJSON(), f: this.fingerprints.get(group.rule.id) }) : null });
    }
    this.dirty.clear();
    if (this.metaDirty || changes.length > 0) {
      const meta: MetaJson = {
        seq: Object.fromEntries(this.seq),
        rep: Object.fromEntries(this.reported),
        done: this.processed.map(fromNum),
        emit: this.emitSeq,
        applied: this.applied ?? null,
        max: fromNum(this.maxSeen),
      };
      changes.push({ key: META_KEY, value: JSON.stringify(meta) });
      this.metaDirty = false;
    }
    return changes;
  }

  /** Marks the meta record changed (e.g. after `applied` moved). */
  touch(): void {
    this.metaDirty = true;
  }

  /**
   * The same partition under a reloaded rule set. Groups of correlations whose definition is
   * unchanged (same fingerprint) keep their windows, pending facts and suppression; groups of
   * removed or changed correlations are dropped (their changelog keys are deleted with the next
   * `takeChanges`), so a changed correlation starts from an empty window. Watermarks, source
   * sequence numbers and the applied offset carry over: the input position does not move.
   */
  static reload(previous: CorrelationPartition, set: CorrelationSet, options: PartitionOptions): { partition: CorrelationPartition; kept: number; dropped: number } {
    const partition = new CorrelationPartition(set, options);
    for (const [k, v] of previous.seq) partition.seq.set(k, v);
    for (const [k, v] of previous.reported) partition.reported.set(k, v);
    for (let depth = 0; depth < partition.processed.length; depth++) {
      partition.processed[depth] = previous.processed[depth] ?? Number.NEGATIVE_INFINITY;
      partition.lastSweep[depth] = previous.lastSweep[depth] ?? Number.NEGATIVE_INFINITY;
    }
    partition.maxSeen = previous.maxSeen;
    partition.emitSeq = previous.emitSeq;
    partition.applied = previous.applied;
    for (const key of previous.dirty) partition.dirty.add(key);
    let kept = 0;
    let dropped = 0;
    for (const [key, group] of previous.groups) {
      const rule = set.byId.get(group.rule.id);
      const same = rule !== undefined && partition.fingerprints.get(rule.id) === previous.fingerprints.get(group.rule.id);
      if (!same) {
        dropped += 1;
        partition.dirty.add(key);
        continue;
      }
      const moved = GroupWindow.fromJSON(group.toJSON(), rule, partition.limits);
      partition.groups.set(key, moved);
      if (moved.pending.length > 0) partition.pendingByDepth[rule.depth]!.add(key);
      kept += 1;
    }
    partition.metaDirty = true;
    return { partition, kept, dropped };
  }

  /**
   * Rebuilds a partition from its latest changelog values (key -> value). Groups of correlations
   * that are no longer loaded, or whose definition changed since the state was written (another
   * fingerprint), are dropped: a changed correlation starts fresh after a restart too.
   */
  static restore(set: CorrelationSet, options: PartitionOptions, entries: ReadonlyMap<string, string>): CorrelationPartition {
    const partition = new CorrelationPartition(set, options);
    const metaText = entries.get(META_KEY);
    if (metaText !== undefined) {
      const meta = JSON.parse(metaText) as MetaJson;
      for (const [k, v] of Object.entries(meta.seq)) partition.seq.set(k, v);
      for (const [k, v] of Object.entries(meta.rep)) partition.reported.set(k, v);
      meta.done.forEach((n, depth) => {
        if (depth < partition.processed.length) partition.processed[depth] = toNum(n);
      });
      partition.emitSeq = meta.emit;
      partition.applied = meta.applied ?? undefined;
      partition.maxSeen = toNum(meta.max);
    }
    for (const [key, text] of entries) {
      if (key === META_KEY) continue;
      const json = JSON.parse(text) as GroupStateJson;
      const rule = set.byId.get(json.c);
      if (!rule || (json.f !== undefined && json.f !== partition.fingerprints.get(rule.id))) {
        partition.dirty.add(key);
        continue;
      }
      const group = GroupWindow.fromJSON(json, rule, partition.limits);
      partition.groups.set(key, group);
      if (group.pending.length > 0) partition.pendingByDepth[rule.depth]!.add(key);
    }
    return partition;
  }
}
