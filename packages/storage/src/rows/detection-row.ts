import { isIP } from 'node:net';
import { toDateTime64 } from '../sql.ts';
import {
  fromStoredIp,
  invalid,
  num,
  optionalString,
  requireString,
  requireTime,
  strArray,
  strMap,
  stringArray,
  stringMap,
  unsigned,
} from './convert.ts';

/** Detection severities, lowest first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;

/** One of {@link SEVERITIES}. */
export type Severity = (typeof SEVERITIES)[number];

/** Stored `severity_rank` of each severity (info 1 ... critical 5), so "at least high" is a range. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}

/**
 * A detection, as the `detections` table stores it. A detection is updated by inserting a new row
 * with the same id and a higher `version`; readers see the highest version. Timestamps are epoch ms.
 */
export interface DetectionRow {
  detectionId: string;
  orgId: string;
  ruleId: string;
  ruleVersion: number;
  title: string;
  severity: Severity;
  /** 0..1 */
  confidence: number;
  /** MITRE ATT&CK tactics, e.g. `command-and-control`. */
  tactics: string[];
  /** MITRE ATT&CK technique ids, e.g. `T1071.001`. */
  techniques: string[];
  /** What the detection is about: `ip`, `host`, `user`, `domain`, ... */
  entityType: string;
  entityValue: string;
  /** Source address involved, when there is one. */
  srcIp?: string;
  /** First evidence (epoch ms). Fixed for the life of a detection: it is the partition key. */
  firstSeen: number;
  /** Latest evidence (epoch ms). Listings are ordered by it, newest first. */
  lastSeen: number;
  /** When the detector emitted this version (epoch ms). */
  detectedAt: number;
  /** How many matching events or windows. */
  count: number;
  summary: string;
  evidenceEventIds: string[];
  /** Free-form evidence as JSON text. */
  evidenceJson: string;
  attributes: Record<string, string>;
  /** Checksum of the rule set that produced it. */
  rulesetChecksum: string;
  /** Monotonic per detection; the highest wins. */
  version: number;
}

/** The fields a {@link DetectionRow} must have; the rest default. */
export type DetectionRowInput = Pick<DetectionRow, 'detectionId' | 'orgId' | 'ruleId' | 'severity' | 'firstSeen' | 'lastSeen'> &
  Partial<DetectionRow>;

/**
 * Validates a plain object and fills defaults (`detectedAt` now, `version` = `detectedAt`,
 * `count` 1, `confidence` 1). Throws STORAGE_INVALID_ARGUMENT naming the field.
 */
export function toDetectionRow(input: DetectionRowInput | Readonly<Record<string, unknown>>): DetectionRow {
  const o = input as Readonly<Record<string, unknown>>;
  const k = 'detection';
  const severity = o['severity'];
  if (!isSeverity(severity)) throw invalid(k, 'severity', `must be one of ${SEVERITIES.join(', ')}`);
  const confidence = o['confidence'] ?? 1;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) throw invalid(k, 'confidence', 'must be between 0 and 1');
  const srcIp = o['srcIp'];
  if (srcIp !== undefined && srcIp !== null && srcIp !== '' && (typeof srcIp !== 'string' || isIP(srcIp) === 0)) {
    throw invalid(k, 'srcIp', 'must be an IPv4 or IPv6 address');
  }
  const detectedAt = o['detectedAt'] === undefined ? Date.now() : requireTime(k, o, 'detectedAt');
  const row: DetectionRow = {
    detectionId: requireString(k, o, 'detectionId'),
    orgId: requireString(k, o, 'orgId'),
    ruleId: requireString(k, o, 'ruleId'),
    ruleVersion: unsigned(k, o, 'ruleVersion', 0xffffffff),
    title: optionalString(k, o, 'title'),
    severity,
    confidence,
    tactics: stringArray(k, o, 'tactics'),
    techniques: stringArray(k, o, 'techniques'),
    entityType: optionalString(k, o, 'entityType'),
    entityValue: optionalString(k, o, 'entityValue'),
    firstSeen: requireTime(k, o, 'firstSeen'),
    lastSeen: requireTime(k, o, 'lastSeen'),
    detectedAt,
    count: unsigned(k, o, 'count', Number.MAX_SAFE_INTEGER, 1),
    summary: optionalString(k, o, 'summary'),
    evidenceEventIds: stringArray(k, o, 'evidenceEventIds'),
    evidenceJson: optionalString(k, o, 'evidenceJson', '{}'),
    attributes: stringMap(k, o, 'attributes'),
    rulesetChecksum: optionalString(k, o, 'rulesetChecksum'),
    version: unsigned(k, o, 'version', Number.MAX_SAFE_INTEGER, detectedAt),
  };
  if (typeof srcIp === 'string' && srcIp !== '') row.srcIp = srcIp;
  if (row.lastSeen < row.firstSeen) throw invalid(k, 'lastSeen', 'must not be before firstSeen');
  return row;
}

/** A {@link DetectionRow} as a JSONEachRow object for the `detections` table. */
export function detectionToClickHouse(row: DetectionRow): Record<string, unknown> {
  return {
    detection_id: row.detectionId,
    org_id: row.orgId,
    rule_id: row.ruleId,
    rule_version: row.ruleVersion,
    title: row.title,
    severity: row.severity,
    severity_rank: SEVERITY_RANK[row.severity],
    confidence: row.confidence,
    tactics: row.tactics,
    techniques: row.techniques,
    entity_type: row.entityType,
    entity_value: row.entityValue,
    // '::' stands for "no address": IPv6 has no null and Nullable would cost a null map.
    src_ip: row.srcIp ?? '::',
    first_seen: toDateTime64(row.firstSeen),
    last_seen: toDateTime64(row.lastSeen),
    detected_at: toDateTime64(row.detectedAt),
    count: row.count,
    summary: row.summary,
    evidence_event_ids: row.evidenceEventIds,
    evidence_json: row.evidenceJson,
    attributes: row.attributes,
    ruleset_checksum: row.rulesetChecksum,
    version: row.version,
  };
}

/** Column list that {@link detectionFromClickHouse} reads (timestamps as epoch ms). */
export const DETECTION_SELECT_COLUMNS = `detection_id, org_id, rule_id, rule_version, title, severity, confidence,
tactics, techniques, entity_type, entity_value, toString(src_ip) AS src_ip_text,
toUnixTimestamp64Milli(first_seen) AS first_seen_ms, toUnixTimestamp64Milli(last_seen) AS last_seen_ms,
toUnixTimestamp64Milli(detected_at) AS detected_at_ms, count, summary, evidence_event_ids, evidence_json,
attributes, ruleset_checksum, version`;

/** A row selected with {@link DETECTION_SELECT_COLUMNS} back to a {@link DetectionRow}. */
export function detectionFromClickHouse(r: Readonly<Record<string, unknown>>): DetectionRow {
  const severity = r['severity'];
  const row: DetectionRow = {
    detectionId: String(r['detection_id']),
    orgId: String(r['org_id']),
    ruleId: String(r['rule_id']),
    ruleVersion: num(r['rule_version']),
    title: String(r['title']),
    severity: isSeverity(severity) ? severity : 'info',
    // Float32 round trip: 0.9 comes back as 0.8999999761581421; 6 digits is what Float32 holds.
    confidence: Number(num(r['confidence']).toPrecision(6)),
    tactics: strArray(r['tactics']),
    techniques: strArray(r['techniques']),
    entityType: String(r['entity_type']),
    entityValue: String(r['entity_value']),
    firstSeen: num(r['first_seen_ms']),
    lastSeen: num(r['last_seen_ms']),
    detectedAt: num(r['detected_at_ms']),
    count: num(r['count']),
    summary: String(r['summary']),
    evidenceEventIds: strArray(r['evidence_event_ids']),
    evidenceJson: String(r['evidence_json']),
    attributes: strMap(r['attributes']),
    rulesetChecksum: String(r['ruleset_checksum']),
    version: num(r['version']),
  };
  const ip = fromStoredIp(r['src_ip_text']);
  if (ip !== '::') row.srcIp = ip;
  return row;
}
