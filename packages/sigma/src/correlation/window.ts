import { createHash } from 'node:crypto';
import { HyperLogLog, INVERSE_POWERS, estimateFromSums } from './hyperloglog.ts';
import { conditionHolds } from './parse.ts';
import type { CorrelationMatch, CorrelationRule, KeyedFact } from './types.ts';

/** A fact as window state keeps it (short keys: this is also the changelog's JSON). */
export interface FactRecord {
  /** Event time, epoch ms. */
  t: number;
  /** Rule index in the correlation's `rules`. */
  r: number;
  /** Condition field value (dropped once value_count switched to its sketch). */
  v?: string | number;
  /** Event id or derived match id. */
  id: string;
}

export interface WindowLimits {
  /** value_count keeps exact distinct values up to this many per group, then a HyperLogLog. @default 10000 */
  exactDistinctLimit: number;
  /** Facts kept per group window; beyond it the oldest are dropped and counted as overflow. @default 100000 */
  maxFactsPerGroup: number;
  /** Evidence references per match. @default 20 */
  maxRefs: number;
  /** HyperLogLog precision (registers = 2^precision). @default 11 */
  hllPrecision: number;
}

export const DEFAULT_WINDOW_LIMITS: WindowLimits = { exactDistinctLimit: 10_000, maxFactsPerGroup: 100_000, maxRefs: 20, hllPrecision: 11 };

/** Serialized group state (changelog value). */
export interface GroupStateJson {
  c: string;
  k: string;
  g: string[];
  p: FactRecord[];
  w: FactRecord[];
  /** Suppressed until (window end of the last match + timespan); null = never matched. */
  s: number | null;
  /** value_count sketch mode: slot index -> registers (base64). */
  h?: [number, string][];
  /** Fingerprint of the correlation's definition when written (`correlationFingerprints`); absent in older state. */
  f?: string;
}

/** Counters the group reports to its partition. */
export interface WindowCounters {
  evaluations: number;
  overflow: number;
}

/** Slots per timespan for value_count's sketch mode: windows are exact to 1/16 of the timespan there. */
const HLL_SLOTS = 16;

function compareFacts(a: FactRecord, b: FactRecord): number {
  return a.t - b.t || a.r - b.r || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Deterministic match id: correlation id + group key + window start. */
export function correlationMatchId(correlationId: string, groupKey: string, windowStart: number): string {
  return createHash('sha256').update(`${correlationId}\u0000${groupKey}\u0000${windowStart}`).digest('hex').slice(0, 32);
}

/**
 * One correlation's state for one group: facts waiting for the watermark (`pending`) and facts in
 * the sliding window (`window`, sorted by time). Facts are admitted strictly in event-time order
 * when the watermark passes them, so the result does not depend on arrival order within lateness.
 *
 * Window semantics: at every event time t at which facts are admitted, the window is
 * [t - timespan, t] (both ends inclusive) and the condition is evaluated. After a match ending at
 * t, the group is quiet until t + timespan: each fact contributes to at most one match of a
 * correlation, and a burst yields one detection, not one per event.
 */
export class GroupWindow {
  pending: FactRecord[] = [];
  window: FactRecord[] = [];
  suppressedUntil = Number.NEGATIVE_INFINITY;
  private sum = 0;
  /** Non-integer values in the window: while 0 the running sum is exact; otherwise it is recomputed. */
  private fractional = 0;
  private readonly ruleCounts: number[];
  private distinct: Map<string, number> | undefined;
  private slots: Map<number, HyperLogLog> | undefined;
  /**
   * Max-merge of the live sketch slots, kept with its running sum and zero count so that an estimate
   * costs O(1): rebuilt when the live slot range moves (every 1/16 timespan of event time), updated
   * register by register in between (admission is in time order, so only the newest slot changes).
   */
  private merged: { upTo: number; from: number; registers: Uint8Array; sum: number; zeros: number } | undefined;

  constructor(
    readonly rule: CorrelationRule,
    readonly groupKey: string,
    readonly groupValues: readonly string[],
    private readonly limits: WindowLimits,
  ) {
    this.ruleCounts = rule.rules.map(() => 0);
    if (rule.type === 'value_count' || rule.type === 'value_percentile') this.distinct = new Map();
  }

  /** Facts held (pending + window), for the state-size gauge. */
  size(): number {
    return this.pending.length + this.window.length;
  }

  /** Newest fact time held, or -Infinity. */
  newest(): number {
    const last = this.window[this.window.length - 1];
    let newest = last ? last.t : Number.NEGATIVE_INFINITY;
    for (const f of this.pending) if (f.t > newest) newest = f.t;
    return newest;
  }

  /** True when no future fact (time > watermark) can ever share a window with what is held. */
  expired(watermark: number): boolean {
    return this.pending.length === 0 && (this.window.length === 0 || this.newest() + this.rule.timespanMs < watermark) && !this.slots?.size;
  }

  add(fact: KeyedFact): void {
    this.pending.push({ t: fact.time, r: fact.ruleIndex, ...(fact.value !== undefined ? { v: fact.value } : {}), id: fact.ref });
  }

  /** Admits every pending fact with time <= watermark, in event-time order; returns the matches. */
  advance(watermark: number, counters: WindowCounters): CorrelationMatch[] {
    if (this.pending.length === 0) {
      this.expireSlots(watermark);
      return [];
    }
    const ready = this.pending.filter((f) => f.t <= watermark);
    if (ready.length === 0) return [];
    this.pending = this.pending.filter((f) => f.t > watermark);
    ready.sort(compareFacts);
    const matches: CorrelationMatch[] = [];
    let i = 0;
    while (i < ready.length) {
      const t = ready[i]!.t;
      const admitted: FactRecord[] = [];
      while (i < ready.length && ready[i]!.t === t) admitted.push(ready[i++]!);
      for (const f of admitted) this.admit(f, counters);
      this.evict(t);
      counters.evaluations += 1;
      const match = this.evaluate(t, admitted);
      if (match) matches.push(match);
    }
    return matches;
  }

  private admit(f: FactRecord, counters: WindowCounters): void {
    if (this.window.length >= this.limits.maxFactsPerGroup) {
      this.removeOldest();
      counters.overflow += 1;
    }
    // Admission is in time order, so appending keeps the window sorted.
    this.window.push(f);
    this.ruleCounts[f.r] = (this.ruleCounts[f.r] ?? 0) + 1;
    this.addNumber(f.v, 1);
    if (this.slots) {
      const index = this.slotFor(f.t).add(String(f.v));
      if (index >= 0 && this.merged && Math.floor(f.t / this.slotMs()) === this.merged.upTo) this.raiseMerged(index, this.slotFor(f.t).registers[index]!);
      delete f.v;
    } else if (this.distinct && f.v !== undefined && typeof f.v === 'string') {
      this.distinct.set(f.v, (this.distinct.get(f.v) ?? 0) + 1);
      if (this.rule.type === 'value_count' && this.distinct.size > this.limits.exactDistinctLimit) this.toSketch();
    } else if (this.distinct && typeof f.v === 'number' && this.rule.type === 'value_count') {
      const key = String(f.v);
      this.distinct.set(key, (this.distinct.get(key) ?? 0) + 1);
    }
  }

  private removeOldest(): void {
    const f = this.window.shift();
    if (!f) return;
    this.ruleCounts[f.r] = (this.ruleCounts[f.r] ?? 1) - 1;
    this.addNumber(f.v, -1);
    if (this.distinct && f.v !== undefined) {
      const key = String(f.v);
      const n = (this.distinct.get(key) ?? 1) - 1;
      if (n <= 0) this.distinct.delete(key);
      else this.distinct.set(key, n);
    }
  }

  private addNumber(v: FactRecord['v'], sign: 1 | -1): void {
    if (typeof v !== 'number') return;
    this.sum += sign * v;
    if (!Number.isInteger(v)) this.fractional += sign;
  }

  /**
   * The window's sum. Integers add and subtract exactly, so the running sum is used; with fractions
   * it is recomputed, so the result never depends on the order facts entered and left the window
   * (a restored state must give the same bits as one that never stopped).
   */
  private windowSum(): number {
    if (this.fractional === 0 && Number.isSafeInteger(this.sum)) return this.sum;
    let sum = 0;
    for (const f of this.window) if (typeof f.v === 'number') sum += f.v;
    return sum;
  }

  private evict(t: number): void {
    const from = t - this.rule.timespanMs;
    let n = 0;
    while (n < this.window.length && this.window[n]!.t < from) n++;
    for (let k = 0; k < n; k++) this.removeOldest();
    this.expireSlots(t);
  }

  private slotMs(): number {
    return Math.max(1, Math.ceil(this.rule.timespanMs / HLL_SLOTS));
  }

  private slotFor(t: number): HyperLogLog {
    const slot = Math.floor(t / this.slotMs());
    let hll = this.slots!.get(slot);
    if (!hll) {
      hll = new HyperLogLog(this.limits.hllPrecision);
      this.slots!.set(slot, hll);
    }
    return hll;
  }

  /** Drops sketch slots that end before the window that ends at `t` starts. */
  private expireSlots(t: number): void {
    if (!this.slots) return;
    const firstLive = Math.floor((t - this.rule.timespanMs) / this.slotMs());
    for (const slot of this.slots.keys()) if (slot < firstLive) this.slots.delete(slot);
  }

  private toSketch(): void {
    this.slots = new Map();
    for (const f of this.window) {
      if (f.v !== undefined) this.slotFor(f.t).add(String(f.v));
      delete f.v;
    }
    this.distinct = undefined;
    this.merged = undefined;
  }

  private raiseMerged(index: number, rank: number): void {
    const merged = this.merged!;
    const old = merged.registers[index]!;
    if (rank <= old) return;
    merged.registers[index] = rank;
    merged.sum += INVERSE_POWERS[rank]! - INVERSE_POWERS[old]!;
    if (old === 0) merged.zeros -= 1;
  }

  private sketchEstimate(t: number): number {
    const slotMs = this.slotMs();
    const current = Math.floor(t / slotMs);
    const firstLive = Math.floor((t - this.rule.timespanMs) / slotMs);
    if (!this.merged || this.merged.upTo !== current || this.merged.from !== firstLive) {
      const registers = new Uint8Array(1 << this.limits.hllPrecision);
      for (const [slot, hll] of this.slots!) {
        if (slot > current || slot < firstLive) continue;
        const r = hll.registers;
        for (let j = 0; j < registers.length; j++) if (r[j]! > registers[j]!) registers[j] = r[j]!;
      }
      let sum = 0;
      let zeros = 0;
      for (let j = 0; j < registers.length; j++) {
        sum += INVERSE_POWERS[registers[j]!]!;
        if (registers[j] === 0) zeros += 1;
      }
      this.merged = { upTo: current, from: firstLive, registers, sum, zeros };
    }
    return estimateFromSums(this.merged.registers.length, this.merged.sum, this.merged.zeros);
  }

  private evaluate(t: number, admitted: readonly FactRecord[]): CorrelationMatch | undefined {
    if (t <= this.suppressedUntil) return undefined;
    const rule = this.rule;
    let value: number;
    let estimated = false;
    switch (rule.type) {
      case 'event_count':
        value = this.window.length;
        break;
      case 'value_count':
        if (this.slots) {
          value = this.sketchEstimate(t);
          estimated = true;
        } else value = this.distinct!.size;
        break;
      case 'temporal':
        value = this.ruleCounts.filter((n) => n > 0).length;
        break;
      case 'temporal_ordered': {
        // Greedy: earliest occurrence of each rule after the previous one (ties count as in order).
        let next = 0;
        for (const f of this.window) if (f.r === next) next += 1;
        value = next;
        break;
      }
      case 'value_sum':
        value = this.windowSum();
        break;
      case 'value_avg':
        value = this.window.length === 0 ? 0 : this.windowSum() / this.window.length;
        break;
      case 'value_percentile': {
        // The percentile rank of each newly admitted value among the window's values: numbers by
        // order (share of values <= it), other values by frequency (share equal to it). The first
        // admitted value that satisfies the condition fires.
        const n = this.window.length;
        let found: number | undefined;
        for (const f of admitted) {
          if (f.v === undefined) continue;
          let rank: number;
          if (typeof f.v === 'number') {
            let le = 0;
            for (const w of this.window) if (typeof w.v === 'number' && w.v <= f.v) le += 1;
            rank = (100 * le) / n;
          } else rank = (100 * (this.distinct!.get(f.v) ?? 0)) / n;
          if (conditionHolds(rule.condition, rank)) {
            found = rank;
            break;
          }
        }
        if (found === undefined) return undefined;
        value = found;
        break;
      }
    }
    if (rule.type !== 'value_percentile' && !conditionHolds(rule.condition, value)) return undefined;
    this.suppressedUntil = t + rule.timespanMs;
    const windowStart = this.window[0]?.t ?? t;
    const group: Record<string, string> = {};
    rule.groupBy.forEach((name, i) => (group[name] = this.groupValues[i] ?? ''));
    return {
      correlationId: rule.id,
      ...(rule.name !== undefined ? { correlationName: rule.name } : {}),
      type: rule.type,
      groupKey: this.groupKey,
      group,
      windowStart,
      windowEnd: t,
      value,
      refs: this.window.slice(0, this.limits.maxRefs).map((f) => f.id),
      factCount: this.window.length,
      estimated,
      id: correlationMatchId(rule.id, this.groupKey, windowStart),
    };
  }

  toJSON(): GroupStateJson {
    return {
      c: this.rule.id,
      k: this.groupKey,
      g: [...this.groupValues],
      p: this.pending,
      w: this.window,
      s: Number.isFinite(this.suppressedUntil) ? this.suppressedUntil : null,
      ...(this.slots ? { h: [...this.slots].map(([slot, hll]): [number, string] => [slot, Buffer.from(hll.registers).toString('base64')]) } : {}),
    };
  }

  static fromJSON(json: GroupStateJson, rule: CorrelationRule, limits: WindowLimits): GroupWindow {
    const g = new GroupWindow(rule, json.k, json.g, limits);
    g.pending = json.p;
    g.suppressedUntil = json.s ?? Number.NEGATIVE_INFINITY;
    if (json.h) {
      g.slots = new Map(json.h.map(([slot, b64]) => [slot, new HyperLogLog(limits.hllPrecision, new Uint8Array(Buffer.from(b64, 'base64')))]));
      g.distinct = undefined;
    }
    // Rebuild the aggregates by re-adding the window (cheap, and keeps one code path).
    for (const f of json.w) {
      g.window.push(f);
      g.ruleCounts[f.r] = (g.ruleCounts[f.r] ?? 0) + 1;
      g.addNumber(f.v, 1);
      if (g.distinct && f.v !== undefined) g.distinct.set(String(f.v), (g.distinct.get(String(f.v)) ?? 0) + 1);
    }
    return g;
  }
}
