import { ConfigError, MamoriError, sleep, type Logger } from '@mamori/core';
import { Counter, Gauge, type Registry } from '@mamori/metrics';
import { loadRuleDirectory, type LoadedRules } from '@mamori/sigma';
import { CorrelationRuleError, parseCorrelationRules, type CorrelationSet } from '@mamori/sigma/correlation';
import type { Admin, Producer, Transport } from '@mamori/transport';
import type { BaseRuleSource } from './analytics/correlation.ts';
import { sigmaRuleSource } from './analytics/sigma-rule-source.ts';
import type { DetectorConfig } from './config.ts';
import type { DetectorCodecs } from './detector-stage.ts';
import { ChangelogStandby } from './state/changelog.ts';
import { CorrelationStage } from './state/correlation-stage.ts';
import { CorrelationSourceStage } from './state/source-stage.ts';
import { ensureCorrelationTopics } from './state/topics.ts';
import { DebouncedDirectoryWatch } from './rule-watch.ts';

/** Correlation rules of the rule packs with the base rules they refer to. */
export interface LoadedCorrelations {
  readonly set: CorrelationSet;
  readonly baseRules: BaseRuleSource;
  readonly loaded: LoadedRules;
}

/**
 * The correlation rules of loaded packs, resolved against the packs' base rules (an empty set when
 * the packs hold none). Throws {@link CorrelationRuleError} for a broken correlation or one that
 * names a rule no pack defines.
 */
export function correlationsOf(loaded: LoadedRules): LoadedCorrelations {
  const set = parseCorrelationRules(
    loaded.correlations.map((c) => ({ path: c.path, doc: c.document })),
    { knownBaseRules: loaded.rules.map((r) => ({ id: r.rule.id, ...(r.rule.name !== undefined ? { name: r.rule.name } : {}) })) },
  );
  return { set, baseRules: sigmaRuleSource(loaded, set), loaded };
}

/**
 * Reads the correlation rules of `dirs` (the same packs as the Sigma analytic) and adapts the
 * compiled base rules to a {@link BaseRuleSource}. Undefined when no pack holds a correlation (for
 * one-shot runs: `mamori hunt`). A broken correlation, or one that names a rule no pack defines, is
 * a ConfigError naming the file.
 */
export function loadCorrelations(dirs: readonly string[]): LoadedCorrelations | undefined {
  if (dirs.length === 0) return undefined;
  const loaded = loadRuleDirectory(dirs);
  if (loaded.correlations.length === 0) return undefined;
  return resolveAtStart(loaded);
}

/** {@link correlationsOf} at start-up: a correlation problem is a ConfigError naming the file. */
function resolveAtStart(loaded: LoadedRules): LoadedCorrelations {
  try {
    return correlationsOf(loaded);
  } catch (error) {
    if (error instanceof CorrelationRuleError) throw new ConfigError(`DETECTOR_RULES_DIRS: ${error.message} [${error.code}]`, { cause: error });
    throw error;
  }
}

/** One file that kept a reload from being applied. */
export interface CorrelationReloadProblem {
  path: string;
  code: string;
  reason: string;
}

/** What a reload of the correlation rule packs did. */
export interface CorrelationReloadReport {
  /** `applied`: the new set is active; `unchanged`: same checksum, nothing swapped; `rejected`: the previous set stays. */
  result: 'applied' | 'unchanged' | 'rejected';
  /** Correlation rules active after the reload. */
  correlations: number;
  /** Checksum of the active rule set after the reload. */
  checksum: string;
  problems: CorrelationReloadProblem[];
}

/**
 * Correlation rules from the rule pack directories, hot-reloaded: file changes are debounced,
 * the directories loaded again, and the new set goes to the subscribers (the correlation stages)
 * only when every rule of the packs compiles and every correlation resolves. Otherwise the
 * previous set stays active and the problems are reported with their file and reason.
 */
export class CorrelationRulePacks {
  private active: LoadedCorrelations;
  private readonly listeners: ((next: LoadedCorrelations) => void)[] = [];
  private readonly watcher: DebouncedDirectoryWatch;
  /** Reloads by result, for the metrics. */
  readonly reloads = { applied: 0, unchanged: 0, rejected: 0 };

  constructor(
    private readonly dirs: readonly string[],
    initial: LoadedCorrelations,
    private readonly onReport: (report: CorrelationReloadReport) => void = () => {},
    private readonly load: (dirs: readonly string[]) => LoadedRules = (d) => loadRuleDirectory(d),
  ) {
    this.watcher = new DebouncedDirectoryWatch(dirs, () => this.reload());
    this.active = initial;
  }

  get current(): LoadedCorrelations {
    return this.active;
  }

  /** Called with every newly applied set. */
  subscribe(listener: (next: LoadedCorrelations) => void): void {
    this.listeners.push(listener);
  }

  /** Loads the directories again now and applies the result if it is sound. */
  reload(): CorrelationReloadReport {
    const report = this.tryReload();
    this.reloads[report.result] += 1;
    this.onReport(report);
    return report;
  }

  private tryReload(): CorrelationReloadReport {
    const rejected = (problems: CorrelationReloadProblem[]): CorrelationReloadReport => ({ result: 'rejected', correlations: this.active.set.rules.length, checksum: this.active.loaded.checksum, problems });
    let loaded: LoadedRules;
    try {
      loaded = this.load(this.dirs);
    } catch (error) {
      return rejected([{ path: this.dirs.join(','), code: error instanceof MamoriError ? error.code : 'SIGMA_RULE_INVALID', reason: (error as Error).message }]);
    }
    if (loaded.errors.length > 0) return rejected(loaded.errors.map((e) => ({ path: e.path, code: e.code, reason: e.reason })));
    if (loaded.checksum === this.active.loaded.checksum) return { result: 'unchanged', correlations: this.active.set.rules.length, checksum: loaded.checksum, problems: [] };
    let next: LoadedCorrelations;
    try {
      next = correlationsOf(loaded);
    } catch (error) {
      if (!(error instanceof CorrelationRuleError)) throw error;
      return rejected([{ path: error.path, code: error.code, reason: error.message }]);
    }
    this.active = next;
    for (const listener of this.listeners) listener(next);
    return { result: 'applied', correlations: next.set.rules.length, checksum: loaded.checksum, problems: [] };
  }

  /** Watches the directories (recursively) and reloads after `debounceMs` of quiet. */
  watch(debounceMs: number): void {
    this.watcher.start(debounceMs);
  }

  close(): void {
    this.watcher.close();
  }
}

/** Reload counters and the active-correlations gauge (bounded labels: `result` has three values). */
function registerReloadMetrics(registry: Registry, packs: CorrelationRulePacks): void {
  const seen = { applied: 0, unchanged: 0, rejected: 0 };
  const reloads: Counter<'result'> = new Counter({
    name: 'mamori_correlation_rule_reloads_total',
    help: 'Reloads of the correlation rule packs by result: applied, unchanged, rejected (the previous set stays active).',
    labelNames: ['result'],
    registers: [registry],
    collect: () => {
      for (const result of ['applied', 'unchanged', 'rejected'] as const) {
        reloads.inc({ result }, Math.max(0, packs.reloads[result] - seen[result]));
        seen[result] = packs.reloads[result];
      }
    },
  });
  const active: Gauge = new Gauge({ name: 'mamori_correlation_rules', help: 'Correlation rules in the active (hot-reloaded) set.', registers: [registry], collect: () => active.set(packs.current.set.rules.length) });
}

export interface DetectorCorrelationDeps {
  transport: Transport;
  producer: Producer;
  codecs: DetectorCodecs;
  registry: Registry;
  logger: Logger;
  /** Partitions of the correlation topics when DETECTOR_CORRELATION_PARTITIONS is 0 (MAMORI_TOPIC_PARTITIONS). */
  defaultPartitions: number;
  replicationFactor?: number;
  /** Watch the rule packs and reload correlations on change. @default true */
  watchRules?: boolean;
}

/** The correlation half of a detector process: two stages and the changelog replica they restore from. */
export interface DetectorCorrelation {
  /** The active correlation set (swapped by hot reload). */
  readonly set: CorrelationSet;
  /** The hot-reloaded rule packs behind the stages. */
  readonly packs: CorrelationRulePacks;
  /** Creates the repartition and state topics, starts the replica, returns the stages to run. */
  start(): Promise<{ source: CorrelationSourceStage; correlation: CorrelationStage }>;
  close(): Promise<void>;
}

/**
 * Builds distributed correlation for a detector process whenever it has rule pack directories
 * (DETECTOR_RULES_DIRS), even when they hold no correlation yet; undefined without directories
 * (nothing could ever be loaded). The stages exist from the start because the source stage's
 * consumer group position decides from which event a correlation applies: run with an empty set,
 * the group commits as events pass (reading them without decoding), so a first correlation added
 * later applies from the events after its reload, the same events a restart with the rule in place
 * would start from. A stage created only when the first rule appears would have no committed
 * position and replay the whole retained events topic through it. The events topic must exist
 * before `start` (its partition count is the number of watermark sources).
 */
export function buildDetectorCorrelation(config: DetectorConfig, deps: DetectorCorrelationDeps): DetectorCorrelation | undefined {
  if (config.sigma.rulesDirs.length === 0) return undefined;
  const loaded = resolveAtStart(loadRuleDirectory(config.sigma.rulesDirs));
  const packs = new CorrelationRulePacks(config.sigma.rulesDirs, loaded, (report) => {
    if (report.result === 'rejected') {
      for (const p of report.problems.slice(0, 20)) deps.logger.error({ path: p.path, code: p.code, reason: p.reason, checksum: report.checksum }, 'correlation rule reload rejected; the previous rule set stays active');
    } else if (report.result === 'applied') deps.logger.info({ correlations: report.correlations, checksum: report.checksum }, 'correlation rules reloaded');
  });
  registerReloadMetrics(deps.registry, packs);
  const c = config.correlation;
  const partitions = c.partitions > 0 ? c.partitions : deps.defaultPartitions;
  let standby: ChangelogStandby | undefined;
  let admin: Admin | undefined;
  return {
    get set() {
      return packs.current.set;
    },
    packs,
    async start() {
      const current = packs.current;
      admin = deps.transport.admin();
      await admin.connect();
      const a = admin;
      // Topics just created may not be served by every broker for a moment (metadata propagation).
      const { sourcePartitions, stateParts, repartitionParts } = await retryRetryable(async () => {
        await ensureCorrelationTopics(a, {
          partitions,
          repartitionTopic: c.repartitionTopic,
          stateTopic: c.stateTopic,
          ...(deps.replicationFactor ? { replicationFactor: deps.replicationFactor } : {}),
        });
        return {
          sourcePartitions: (await a.endOffsets(config.eventsTopic)).length,
          stateParts: (await a.endOffsets(c.stateTopic)).length,
          repartitionParts: (await a.endOffsets(c.repartitionTopic)).length,
        };
      });
      if (sourcePartitions === 0) throw new ConfigError(`topic ${config.eventsTopic} has no partitions; create it before the correlation stages start`);
      if (stateParts !== repartitionParts) {
        throw new ConfigError(`${c.repartitionTopic} and ${c.stateTopic} must have the same partition count (a group's facts and its state share a partition number); recreate them or set DETECTOR_CORRELATION_PARTITIONS to match`);
      }
      standby = new ChangelogStandby({ transport: deps.transport, admin, topic: c.stateTopic, groupPrefix: 'mamori-detector-correlation', logger: deps.logger });
      await standby.start();
      const source = new CorrelationSourceStage({
        eventsTopic: config.eventsTopic,
        repartitionTopic: c.repartitionTopic,
        repartitionPartitions: stateParts,
        correlations: current.set,
        baseRules: current.baseRules,
        codecs: deps.codecs,
      });
      const correlation = new CorrelationStage({
        correlations: current.set,
        sourcePartitions,
        partitions: stateParts,
        allowedLatenessMs: config.allowedLatenessMs,
        eventsTopic: config.eventsTopic,
        detectionsTopic: config.detectionsTopic,
        repartitionTopic: c.repartitionTopic,
        stateTopic: c.stateTopic,
        producer: deps.producer,
        state: standby,
        codecs: deps.codecs,
        registry: deps.registry,
        rulesetChecksum: current.loaded.checksum,
        idleSourceMs: c.idleSourceMs,
        logger: deps.logger,
      });
      // Each stage swaps to a reloaded set at its next batch boundary.
      packs.subscribe((next) => {
        source.reload(next.set, next.baseRules);
        correlation.reload(next.set, next.loaded.checksum);
      });
      // Watch only once started (close() stops it): a recursive watch keeps the process alive.
      if (deps.watchRules ?? true) packs.watch(config.sigma.reloadDebounceMs);
      return { source, correlation };
    },
    async close() {
      packs.close();
      await standby?.close();
      await admin?.close();
    },
  };
}

async function retryRetryable<T>(fn: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryable = error instanceof MamoriError ? error.retryable : false;
      if (!retryable || attempt >= attempts) throw error;
      await sleep(Math.min(2_000, 200 * attempt));
    }
  }
}
