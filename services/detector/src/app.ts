import type { Registry } from '@mamori/metrics';
import { PortScanAnalytic } from './analytics/port-scan.ts';
import type { Analytic } from './analytics/types.ts';
import type { DetectorConfig } from './config.ts';
import { DetectorStage, type DetectorCodecs } from './detector-stage.ts';

export interface DetectorDeps {
  codecs: DetectorCodecs;
  registry: Registry;
  /** Checksum of the active rule set, stamped on every detection. */
  rulesetChecksum?: string;
}

/** Builds the detector stage from config; the runner (CLI) connects it to Kafka. */
export function buildDetector(config: DetectorConfig, deps: DetectorDeps): DetectorStage {
  const analytics: Analytic[] = [new PortScanAnalytic(config.portScan, deps.rulesetChecksum ?? '')];
  return new DetectorStage({
    eventsTopic: config.eventsTopic,
    detectionsTopic: config.detectionsTopic,
    analytics,
    codecs: deps.codecs,
    registry: deps.registry,
    allowedLatenessMs: config.allowedLatenessMs,
    idleCloseMs: config.idleCloseMs,
  });
}
