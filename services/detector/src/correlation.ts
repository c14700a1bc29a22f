import { ConfigError, MamoriError, sleep, type Logger } from '@mamori/core';
import type { Registry } from '@mamori/metrics';
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

/** Correlation rules of the rule packs with the base rules they refer to. */
export interface LoadedCorrelations {
  readonly set: CorrelationSet;
  readonly baseRules: BaseRuleSource;
  readonly loaded: LoadedRules;
}

/**
 * Reads the correlation rules of `dirs` (the same packs as the Sigma analytic) and adapts the
 * compiled base rules to a {@link BaseRuleSource}. Undefined when no pack holds a correlation. A
 * broken correlation, or one that names a rule no pack defines, is a ConfigError naming the file.
 */
export function loadCorrelations(dirs: readonly string[]): LoadedCorrelations | undefined {
  if (dirs.length === 0) return undefined;
  const loaded = loadRuleDirectory(dirs);
  if (loaded.correlations.length === 0) return undefined;
  let set: CorrelationSet;
  try {
    set = parseCorrelationRules(
      loaded.correlations.map((c) => ({ path: c.path, doc: c.document })),
      { knownBaseRules: loaded.rules.map((r) => ({ id: r.rule.id, ...(r.rule.name !== undefined ? { name: r.rule.name } : {}) })) },
    );
  } catch (error) {
    if (error instanceof CorrelationRuleError) throw new ConfigError(`DETECTOR_RULES_DIRS: ${error.message} [${error.code}]`, { cause: error });
    throw error;
  }
  return { set, baseRules: sigmaRuleSource(loaded, set), loaded };
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
}

/** The correlation half of a detector process: two stages and the changelog replica they restore from. */
export interface DetectorCorrelation {
  readonly set: CorrelationSet;
  /** Creates the repartition and state topics, starts the replica, returns the stages to run. */
  start(): Promise<{ source: CorrelationSourceStage; correlation: CorrelationStage }>;
  close(): Promise<void>;
}

/**
 * Builds distributed correlation for a detector process when its rule packs hold correlation
 * rules; undefined otherwise (nothing extra runs). The events topic must exist before `start`
 * (its partition count is the number of watermark sources).
 */
export function buildDetectorCorrelation(config: DetectorConfig, deps: DetectorCorrelationDeps): DetectorCorrelation | undefined {
  const loaded = loadCorrelations(config.sigma.rulesDirs);
  if (!loaded) return undefined;
  const c = config.correlation;
  const partitions = c.partitions > 0 ? c.partitions : deps.defaultPartitions;
  let standby: ChangelogStandby | undefined;
  let admin: Admin | undefined;
  return {
    set: loaded.set,
    async start() {
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
        correlations: loaded.set,
        baseRules: loaded.baseRules,
        codecs: deps.codecs,
      });
      const correlation = new CorrelationStage({
        correlations: loaded.set,
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
        rulesetChecksum: loaded.loaded.checksum,
        idleSourceMs: c.idleSourceMs,
      });
      return { source, correlation };
    },
    async close() {
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
