import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { toDetectionRow, toEventRow, type DetectionRow, type EventRow } from '@mamori/storage';

/** A normalized event as an `events` row. */
export function eventRow(e: MamoriEvent): EventRow {
  return toEventRow({
    eventId: e.event_id,
    orgId: e.org_id,
    sensorId: e.sensor_id,
    sourceFormat: e.source_format,
    eventClass: e.event_class,
    time: e.time,
    ingestTime: e.ingest_time,
    srcIp: e.src_ip,
    srcPort: e.src_port,
    dstIp: e.dst_ip,
    dstPort: e.dst_port,
    protocol: e.protocol,
    bytesOut: e.bytes_out,
    bytesIn: e.bytes_in,
    packetsOut: e.packets_out,
    packetsIn: e.packets_in,
    durationMs: e.duration_ms,
    connState: e.conn_state ?? '',
    communityId: e.community_id ?? '',
    rawTopic: e.raw.topic,
    rawPartition: e.raw.partition,
    rawOffset: e.raw.offset,
    attributes: e.attributes,
    dnsQuery: e.dns?.query ?? '',
    httpHost: e.http?.host ?? '',
    httpUri: e.http?.uri ?? '',
    tlsSni: e.tls?.sni ?? '',
    userName: e.user ?? e.auth?.user ?? '',
    hostName: e.host ?? '',
    direction: e.direction ?? '',
    siteId: e.site_id ?? '',
  });
}

/**
 * A detection as a `detections` row. Updates of one detection carry the same id; the analytic's
 * report counter (`attributes.version`) orders them, falling back to the emission time.
 */
export function detectionRow(d: MamoriDetection): DetectionRow {
  const reported = Number(d.attributes['version']);
  return toDetectionRow({
    detectionId: d.detection_id,
    orgId: d.org_id,
    ruleId: d.rule_id,
    ruleVersion: d.rule_version,
    title: d.title,
    severity: d.severity,
    confidence: d.confidence,
    tactics: d.tactics,
    techniques: d.techniques,
    entityType: d.entity.type,
    entityValue: d.entity.value,
    ...(d.src_ip ? { srcIp: d.src_ip } : {}),
    firstSeen: d.first_seen,
    lastSeen: d.last_seen,
    detectedAt: d.detected_at,
    count: d.count,
    summary: d.summary,
    evidenceEventIds: d.evidence.map((e) => e.event_id),
    evidenceJson: JSON.stringify(d.evidence),
    attributes: d.attributes,
    rulesetChecksum: d.ruleset_checksum,
    version: Number.isSafeInteger(reported) && reported > 0 ? reported : d.detected_at,
  });
}
