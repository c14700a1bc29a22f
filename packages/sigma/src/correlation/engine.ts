import { CorrelationPartition, CorrelationStats, type PartitionOptions } from './partition.ts';
import { CorrelationRouter } from './router.ts';
import type { BaseRuleMatch, CorrelationMatch, CorrelationSet } from './types.ts';
import type { WindowLimits } from './window.ts';

/**
 * Which correlations report their matches as detections. A correlation nobody refers to always
 * does; one that another correlation refers to does only when a referrer says `generate: true`
 * (otherwise it only feeds the chain).
 */
export function reportedCorrelations(set: CorrelationSet): ReadonlySet<string> {
  const referenced = new Map<string, boolean>();
  for (const rule of set.rules) {
    for (const ref of rule.rules) {
      if (ref.kind !== 'correlation') continue;
      referenced.set(ref.correlationId!, (referenced.get(ref.correlationId!) ?? false) || rule.generate);
    }
  }
  return new Set(set.rules.filter((r) => referenced.get(r.id) ?? true).map((r) => r.id));
}

/**
 * Base rules (ids or names as written) that only feed correlations: referred to by correlations of
 * which none says `generate: true`. Their own matches should not become stand-alone detections.
 */
export function correlationOnlyBaseRules(set: CorrelationSet): ReadonlySet<string> {
  const generate = new Map<string, boolean>();
  for (const rule of set.rules) {
    for (const ref of rule.rules) if (ref.kind === 'base') generate.set(ref.ref, (generate.get(ref.ref) ?? false) || rule.generate);
  }
  return new Set([...generate].filter(([, g]) => !g).map(([ref]) => ref));
}

export interface CorrelationEngineOptions {
  /** Facts up to this much older than the newest seen still count. @default 0 */
  allowedLatenessMs?: number;
  limits?: Partial<WindowLimits>;
  stats?: CorrelationStats;
}

/** A match and whether it should be reported (see {@link reportedCorrelations}). */
export interface EngineOutput {
  readonly match: CorrelationMatch;
  readonly report: boolean;
}

/**
 * Correlation in one process: every fact in, matches out, chains routed in memory. The detector's
 * distributed stage uses the same {@link CorrelationPartition} and {@link CorrelationRouter} with
 * facts repartitioned through Kafka; this class is the reference it must agree with.
 */
export class CorrelationEngine {
  private currentSet: CorrelationSet;
  private currentRouter: CorrelationRouter;
  private currentPartition: CorrelationPartition;
  private reported: ReadonlySet<string>;
  private readonly partitionOptions: PartitionOptions;

  constructor(set: CorrelationSet, options: CorrelationEngineOptions = {}) {
    this.partitionOptions = {
      allowedLatenessMs: options.allowedLatenessMs ?? 0,
      watermarks: { kind: 'local' },
      ...(options.limits ? { limits: options.limits } : {}),
      stats: options.stats ?? new CorrelationStats(),
    };
    this.currentSet = set;
    this.currentRouter = new CorrelationRouter(set);
    this.currentPartition = new CorrelationPartition(set, this.partitionOptions);
    this.reported = reportedCorrelations(set);
  }

  get set(): CorrelationSet {
    return this.currentSet;
  }

  get router(): CorrelationRouter {
    return this.currentRouter;
  }

  get partition(): CorrelationPartition {
    return this.currentPartition;
  }

  /**
   * Swaps in a reloaded rule set without losing the state of unchanged correlations (see
   * {@link CorrelationPartition.reload}): unchanged ones keep their windows, removed ones drop
   * their state, changed ones start fresh. Returns how many group windows were kept and dropped.
   */
  reload(set: CorrelationSet): { kept: number; dropped: number } {
    const { partition, kept, dropped } = CorrelationPartition.reload(this.currentPartition, set, this.partitionOptions);
    this.currentSet = set;
    this.currentRouter = new CorrelationRouter(set);
    this.currentPartition = partition;
    this.reported = reportedCorrelations(set);
    return { kept, dropped };
  }

  /** Feeds a base-rule match; returns how many facts it became and how many were late. */
  ingest(match: BaseRuleMatch): { facts: number; late: number } {
    let late = 0;
    const facts = this.router.routeBase(match);
    for (const fact of facts) if (this.partition.offer(fact) === 'late') late += 1;
    return { facts: facts.length, late };
  }

  /** Evaluates up to the watermark (newest time minus lateness); chains are resolved in the same call. */
  advance(): EngineOutput[] {
    return this.run(undefined);
  }

  /** End of input: evaluates everything held. */
  flush(): EngineOutput[] {
    return this.run(Number.POSITIVE_INFINITY);
  }

  private run(force: number | undefined): EngineOutput[] {
    const out: EngineOutput[] = [];
    for (let depth = 0; depth <= this.set.maxDepth; depth++) {
      const watermark = force ?? this.partition.watermark(depth);
      for (const match of this.partition.advanceDepth(depth, watermark)) {
        let derived;
        try {
          derived = this.router.routeDerived(match);
        } catch (error) {
          this.partition.recordMatchFailure(match, error);
          continue;
        }
        out.push({ match, report: this.reported.has(match.correlationId) });
        for (const fact of derived) this.partition.offer(fact);
      }
    }
    return out;
  }
}
