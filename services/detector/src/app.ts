import type { Logger } from '@mamori/core';
import type { Registry } from '@mamori/metrics';
import type { IndicatorIndex } from '@mamori/intel';
import type { Producer, Transport } from '@mamori/transport';
import { BeaconingAnalytic } from './analytics/beaconing.ts';
import { BruteForceAnalytic } from './analytics/brute-force.ts';
import { DnsTunnelingAnalytic } from './analytics/dns-tunneling.ts';
import { FirstSeenAnalytic } from './analytics/first-seen.ts';
import { DEFAULT_INTEL_MATCH_CONFIG, IntelMatchAnalytic } from './analytics/intel.ts';
import { LongConnectionAnalytic } from './analytics/long-connection.ts';
import { OutboundVolumeAnalytic } from './analytics/outbound-volume.ts';
import { PortScanAnalytic } from './analytics/port-scan.ts';
import { buildSigmaAnalytic } from './analytics/sigma.ts';
import type { Analytic } from './analytics/types.ts';
import type { DetectorConfig } from './config.ts';
import { DetectorStage, type DetectorCodecs } from './detector-stage.ts';
import { AnalyticsChangelog } from './state/analytics-changelog.ts';

export interface DetectorDeps {
  codecs: DetectorCodecs;
  registry: Registry;
  /** Reports an analytic that throws while event time advances. */
  logger?: Logger;
  /** Checksum of the active rule set, stamped on every detection. */
  rulesetChecksum?: string;
  /** Current threat-intel index (an IntelStore's `index`); intel matching runs only when given. */
  intelIndex?: () => IndicatorIndex;
  /** The intel analytic to register (`openIntelFeeds(...).analytic`, shared with retro-matching); built from `intelIndex` when absent. */
  intelAnalytic?: IntelMatchAnalytic;
  /** Watch the Sigma rule packs and reload on change. False for one-shot runs over files (`mamori hunt`). @default true */
  watchRules?: boolean;
  /**
   * Kafka clients for the analytics changelog: with them the per-source analytics' window state
   * survives restarts and rebalances (docs/detections.md). Without (`mamori hunt`, unit tests) it
   * lives in memory only.
   */
  state?: { transport: Transport; producer: Producer; replicationFactor?: number };
}

/** Builds the detector stage from config; the runner (CLI) connects it to Kafka. */
export function buildDetector(config: DetectorConfig, deps: DetectorDeps): DetectorStage {
  const checksum = deps.rulesetChecksum ?? '';
  const analytics: Analytic[] = [new PortScanAnalytic(config.portScan, checksum)];
  analytics.push(new BruteForceAnalytic(config.bruteForce, checksum));
  analytics.push(new BeaconingAnalytic(config.beaconing, checksum));
  analytics.push(new DnsTunnelingAnalytic(config.dnsTunneling, checksum));
  analytics.push(new LongConnectionAnalytic(config.longConnection, checksum));
  analytics.push(new OutboundVolumeAnalytic(config.outboundVolume, checksum));
  analytics.push(new FirstSeenAnalytic(config.firstSeen, checksum));
  const intel = deps.intelAnalytic ?? (deps.intelIndex ? new IntelMatchAnalytic(deps.intelIndex, { ...DEFAULT_INTEL_MATCH_CONFIG, dedupWindowMs: config.intel.dedupWindowMs, maxOpen: config.intel.maxOpen }, checksum) : undefined);
  if (intel) analytics.push(intel);
  if (config.sigma.rulesDirs.length > 0) analytics.push(buildSigmaAnalytic(config.sigma, undefined, { watch: deps.watchRules ?? true }));
  return new DetectorStage({
    eventsTopic: config.eventsTopic,
    detectionsTopic: config.detectionsTopic,
    analytics,
    codecs: deps.codecs,
    registry: deps.registry,
    ...(deps.logger ? { logger: deps.logger } : {}),
    allowedLatenessMs: config.allowedLatenessMs,
    idleCloseMs: config.idleCloseMs,
    ...(deps.state
      ? {
          changelog: new AnalyticsChangelog({
            transport: deps.state.transport,
            producer: deps.state.producer,
            groupPrefix: 'mamori-detector-analytics',
            topic: config.analyticsState.topic,
            restoreTimeoutMs: config.analyticsState.restoreTimeoutMs,
            ...(deps.state.replicationFactor ? { replicationFactor: deps.state.replicationFactor } : {}),
          }),
        }
      : {}),
  });
}
