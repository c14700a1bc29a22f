import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import { DEFAULT_PORT_SCAN_CONFIG, type PortScanConfig } from './analytics/port-scan.ts';

export interface DetectorConfig {
  /** @default 'telemetry.events' */
  eventsTopic: string;
  /** @default 'telemetry.detections' */
  detectionsTopic: string;
  /** DETECTOR_ALLOWED_LATENESS_MS. @default 5000 */
  allowedLatenessMs: number;
  /** DETECTOR_IDLE_CLOSE_MS. @default 10000 */
  idleCloseMs: number;
  /** DETECTOR_MAX_BATCH_RECORDS. @default 2000 */
  maxBatchRecords: number;
  portScan: PortScanConfig;
}

/** Reads the detector's settings; every key and default is listed in docs/configuration.md. */
export function loadDetectorConfig(env: Env): Readonly<DetectorConfig> {
  const r = new EnvReader(env);
  const d = DEFAULT_PORT_SCAN_CONFIG;
  const config: DetectorConfig = {
    eventsTopic: r.string('MAMORI_TOPIC_EVENTS', TOPICS.events),
    detectionsTopic: r.string('MAMORI_TOPIC_DETECTIONS', TOPICS.detections),
    allowedLatenessMs: r.integer('DETECTOR_ALLOWED_LATENESS_MS', 5000, { min: 0, max: 3_600_000 }),
    idleCloseMs: r.integer('DETECTOR_IDLE_CLOSE_MS', 10_000, { min: 100, max: 3_600_000 }),
    maxBatchRecords: r.integer('DETECTOR_MAX_BATCH_RECORDS', 2000, { min: 1, max: 100_000 }),
    portScan: {
      windowMs: r.integer('PORTSCAN_WINDOW_MS', d.windowMs, { min: 1000, max: 86_400_000 }),
      horizontalMinHosts: r.integer('PORTSCAN_HORIZONTAL_MIN_HOSTS', d.horizontalMinHosts, { min: 2, max: 1_000_000 }),
      verticalMinPorts: r.integer('PORTSCAN_VERTICAL_MIN_PORTS', d.verticalMinPorts, { min: 2, max: 65_536 }),
      episodeGapMs: r.integer('PORTSCAN_EPISODE_GAP_MS', d.episodeGapMs, { min: 1000, max: 86_400_000 }),
      maxProbesPerSource: r.integer('PORTSCAN_MAX_PROBES_PER_SOURCE', d.maxProbesPerSource, { min: 100, max: 10_000_000 }),
      maxSources: r.integer('PORTSCAN_MAX_SOURCES', d.maxSources, { min: 100, max: 100_000_000 }),
      maxEvidence: r.integer('PORTSCAN_MAX_EVIDENCE', d.maxEvidence, { min: 1, max: 1000 }),
      updateIntervalMs: r.integer('PORTSCAN_UPDATE_INTERVAL_MS', d.updateIntervalMs, { min: 0, max: 86_400_000 }),
    },
  };
  return r.done(config);
}
