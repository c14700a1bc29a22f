import { EnvReader, type Env } from '@mamori/core';
import type { FeedSpec } from '@mamori/intel';
import { TOPICS } from '@mamori/pipeline';
import { DEFAULT_BEACONING_CONFIG, type BeaconingConfig } from './analytics/beaconing.ts';
import { DEFAULT_BRUTE_FORCE_CONFIG, type BruteForceConfig } from './analytics/brute-force.ts';
import { DEFAULT_DNS_TUNNELING_CONFIG, type DnsTunnelingConfig } from './analytics/dns-tunneling.ts';
import { DEFAULT_FIRST_SEEN_CONFIG, type FirstSeenConfig } from './analytics/first-seen.ts';
import { DEFAULT_INTEL_MATCH_CONFIG } from './analytics/intel.ts';
import { DEFAULT_LONG_CONNECTION_CONFIG, type LongConnectionConfig } from './analytics/long-connection.ts';
import { DEFAULT_OUTBOUND_VOLUME_CONFIG, type OutboundVolumeConfig } from './analytics/outbound-volume.ts';
import { DEFAULT_PORT_SCAN_CONFIG, type PortScanConfig } from './analytics/port-scan.ts';
import { DEFAULT_SIGMA_ANALYTIC_CONFIG, type SigmaAnalyticConfig } from './analytics/sigma.ts';

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
  /** Analytics window state changelog (docs/detections.md, "State across restarts and rebalances"). */
  analyticsState: AnalyticsStateConfig;
  portScan: PortScanConfig;
  /** Sigma rule packs (DETECTOR_RULES_DIRS, ...); see docs/sigma.md. */
  sigma: SigmaAnalyticConfig;
  /** Threat-intelligence feeds (INTEL_FEEDS, ...); none = intel matching off. */
  intel: IntelConfig;
  /** Sigma correlation rules found in the rule packs; see docs/correlation.md. */
  correlation: CorrelationConfig;
  bruteForce: BruteForceConfig;
  beaconing: BeaconingConfig;
  dnsTunneling: DnsTunnelingConfig;
  longConnection: LongConnectionConfig;
  outboundVolume: OutboundVolumeConfig;
  firstSeen: FirstSeenConfig;
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
    analyticsState: {
      topic: r.string('MAMORI_TOPIC_ANALYTICS_STATE', 'telemetry.detector.analytics'),
      restoreTimeoutMs: r.integer('DETECTOR_STATE_RESTORE_TIMEOUT_MS', 60_000, { min: 1000, max: 3_600_000 }),
    },
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
    bruteForce: {
      ...DEFAULT_BRUTE_FORCE_CONFIG,
      windowMs: r.integer('BRUTEFORCE_WINDOW_MS', DEFAULT_BRUTE_FORCE_CONFIG.windowMs, { min: 1000, max: 86_400_000 }),
      userMinFailures: r.integer('BRUTEFORCE_USER_MIN_FAILURES', DEFAULT_BRUTE_FORCE_CONFIG.userMinFailures, { min: 2, max: 1_000_000 }),
      targetMinFailures: r.integer('BRUTEFORCE_TARGET_MIN_FAILURES', DEFAULT_BRUTE_FORCE_CONFIG.targetMinFailures, { min: 2, max: 1_000_000 }),
      sprayMinUsers: r.integer('BRUTEFORCE_SPRAY_MIN_USERS', DEFAULT_BRUTE_FORCE_CONFIG.sprayMinUsers, { min: 2, max: 1_000_000 }),
      connMinAttempts: r.integer('BRUTEFORCE_CONN_MIN_ATTEMPTS', DEFAULT_BRUTE_FORCE_CONFIG.connMinAttempts, { min: 2, max: 1_000_000 }),
    },
    beaconing: {
      ...DEFAULT_BEACONING_CONFIG,
      windowMs: r.integer('BEACON_WINDOW_MS', DEFAULT_BEACONING_CONFIG.windowMs, { min: 60_000, max: 604_800_000 }),
      minConnections: r.integer('BEACON_MIN_CONNECTIONS', DEFAULT_BEACONING_CONFIG.minConnections, { min: 4, max: 100_000 }),
      maxPairs: r.integer('BEACON_MAX_PAIRS', DEFAULT_BEACONING_CONFIG.maxPairs, { min: 100, max: 100_000_000 }),
    },
    dnsTunneling: {
      ...DEFAULT_DNS_TUNNELING_CONFIG,
      windowMs: r.integer('DNS_TUNNEL_WINDOW_MS', DEFAULT_DNS_TUNNELING_CONFIG.windowMs, { min: 1000, max: 86_400_000 }),
      minUniqueSubdomains: r.integer('DNS_TUNNEL_MIN_UNIQUE_SUBDOMAINS', DEFAULT_DNS_TUNNELING_CONFIG.minUniqueSubdomains, { min: 2, max: 1_000_000 }),
    },
    longConnection: {
      ...DEFAULT_LONG_CONNECTION_CONFIG,
      minDurationMs: r.integer('LONG_CONN_MIN_DURATION_MS', DEFAULT_LONG_CONNECTION_CONFIG.minDurationMs, { min: 1000, max: 604_800_000 }),
    },
    outboundVolume: {
      ...DEFAULT_OUTBOUND_VOLUME_CONFIG,
      bucketMs: r.integer('OUTBOUND_BUCKET_MS', DEFAULT_OUTBOUND_VOLUME_CONFIG.bucketMs, { min: 60_000, max: 86_400_000 }),
      minBytes: r.integer('OUTBOUND_MIN_BYTES', DEFAULT_OUTBOUND_VOLUME_CONFIG.minBytes, { min: 1, max: Number.MAX_SAFE_INTEGER }),
    },
    firstSeen: {
      ...DEFAULT_FIRST_SEEN_CONFIG,
      learningPeriodMs: r.integer('FIRST_SEEN_LEARNING_MS', DEFAULT_FIRST_SEEN_CONFIG.learningPeriodMs, { min: 0, max: 31_536_000_000 }),
    },
    intel: intelConfig(r),
    correlation: {
      repartitionTopic: r.string('MAMORI_TOPIC_CORRELATION_REPARTITION', 'telemetry.detector.repartition'),
      stateTopic: r.string('MAMORI_TOPIC_CORRELATION_STATE', 'telemetry.detector.state'),
      partitions: r.integer('DETECTOR_CORRELATION_PARTITIONS', 0, { min: 0, max: 10_000 }),
      idleSourceMs: r.integer('DETECTOR_CORRELATION_IDLE_SOURCE_MS', 30_000, { min: 0, max: 86_400_000 }),
    },
    sigma: {
      ...DEFAULT_SIGMA_ANALYTIC_CONFIG,
      rulesDirs: r.list('DETECTOR_RULES_DIRS', []),
      suppressionMs: r.integer('SIGMA_SUPPRESSION_MS', 900_000, { min: 0, max: 604_800_000 }),
      updateIntervalMs: r.integer('SIGMA_UPDATE_INTERVAL_MS', 60_000, { min: 0, max: 86_400_000 }),
      maxEvidence: r.integer('SIGMA_MAX_EVIDENCE', 20, { min: 1, max: 1000 }),
      reloadDebounceMs: r.integer('SIGMA_RELOAD_DEBOUNCE_MS', 1000, { min: 0, max: 600_000 }),
    },
  };
  return r.done(config);
}

export interface AnalyticsStateConfig {
  /** MAMORI_TOPIC_ANALYTICS_STATE: compacted changelog of the per-source analytics' windows. @default 'telemetry.detector.analytics' */
  topic: string;
  /** DETECTOR_STATE_RESTORE_TIMEOUT_MS: a restore from the changelog taking longer fails the batch (retried after a back-off). @default 60000 */
  restoreTimeoutMs: number;
}

export interface CorrelationConfig {
  /** MAMORI_TOPIC_CORRELATION_REPARTITION: base-rule facts re-keyed by correlation and group. @default 'telemetry.detector.repartition' */
  repartitionTopic: string;
  /** MAMORI_TOPIC_CORRELATION_STATE: compacted changelog of correlation state. @default 'telemetry.detector.state' */
  stateTopic: string;
  /** DETECTOR_CORRELATION_PARTITIONS: partitions of both topics; 0 = MAMORI_TOPIC_PARTITIONS. @default 0 */
  partitions: number;
  /**
   * DETECTOR_CORRELATION_IDLE_SOURCE_MS: an input partition whose watermark has not moved for this
   * long (wall clock) stops holding windows open; when every input is idle, windows close up to the
   * newest event. 0 = never (fully deterministic, windows wait for every partition). @default 30000
   */
  idleSourceMs: number;
}

export interface IntelConfig {
  /** INTEL_FEEDS: `name=format:location` entries separated by `;` (format stix, misp or list). */
  feeds: FeedSpec[];
  /** INTEL_WARNING_LISTS: comma list of MISP warning-list files (list.json) or folders holding them. */
  warningLists: string[];
  /** INTEL_REFRESH_INTERVAL_MS. @default 3600000 */
  refreshIntervalMs: number;
  /** INTEL_DEDUP_WINDOW_MS: one detection per (indicator, entity) within this much event time. @default 86400000 */
  dedupWindowMs: number;
  /** INTEL_MAX_OPEN: (indicator, entity) pairs remembered for deduplication. @default 100000 */
  maxOpen: number;
  /**
   * INTEL_RETRO_LOOKBACK_MS: when a refresh adds indicators, stored events this far back are
   * matched against the new addresses and domains (retro-matching); 0 = off. @default 604800000
   */
  retroLookbackMs: number;
  /** INTEL_RETRO_MAX_ROWS: stored events one retro-match query returns at most. @default 10000 */
  retroMaxRows: number;
  /** INTEL_RETRO_MAX_INDICATORS: new indicators one refresh retro-matches at most (the rest are counted). @default 100000 */
  retroMaxIndicators: number;
  /**
   * MAMORI_TOPIC_INTEL_KNOWN: compacted topic of the indicators the feeds held, read at start-up so
   * indicators added while the detector was down are retro-matched. @default 'telemetry.detector.intel-known'
   */
  knownTopic: string;
}

const FEED_PATTERN = /^([A-Za-z0-9._-]{1,64})=(stix|misp|list):(.+)$/;

function intelConfig(r: EnvReader): IntelConfig {
  const feeds: FeedSpec[] = [];
  for (const entry of (r.optionalString('INTEL_FEEDS') ?? '').split(';').map((e) => e.trim()).filter(Boolean)) {
    const m = FEED_PATTERN.exec(entry);
    if (!m) {
      r.problem(`INTEL_FEEDS entry ${JSON.stringify(entry)} must be name=stix|misp|list:<file or http(s) URL>`);
      continue;
    }
    if (feeds.some((f) => f.name === m[1])) r.problem(`INTEL_FEEDS names feed ${m[1]} twice`);
    feeds.push({ name: m[1]!, format: m[2] as FeedSpec['format'], location: m[3]! });
  }
  return {
    feeds,
    warningLists: r.list('INTEL_WARNING_LISTS', []),
    refreshIntervalMs: r.integer('INTEL_REFRESH_INTERVAL_MS', 3_600_000, { min: 10_000, max: 604_800_000 }),
    dedupWindowMs: r.integer('INTEL_DEDUP_WINDOW_MS', DEFAULT_INTEL_MATCH_CONFIG.dedupWindowMs, { min: 1000, max: 2_592_000_000 }),
    maxOpen: r.integer('INTEL_MAX_OPEN', DEFAULT_INTEL_MATCH_CONFIG.maxOpen, { min: 100, max: 100_000_000 }),
    retroLookbackMs: r.integer('INTEL_RETRO_LOOKBACK_MS', DEFAULT_INTEL_MATCH_CONFIG.retroLookbackMs, { min: 0, max: 7_776_000_000 }),
    retroMaxRows: r.integer('INTEL_RETRO_MAX_ROWS', DEFAULT_INTEL_MATCH_CONFIG.retroMaxRows, { min: 1, max: 10_000_000 }),
    retroMaxIndicators: r.integer('INTEL_RETRO_MAX_INDICATORS', 100_000, { min: 1, max: 10_000_000 }),
    knownTopic: r.string('MAMORI_TOPIC_INTEL_KNOWN', 'telemetry.detector.intel-known'),
  };
}
