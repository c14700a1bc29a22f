/**
 * TypeScript view of the wire records in schemas/. Timestamps are epoch milliseconds (numbers), the
 * same values that travel as Avro `long` with logical type `timestamp-millis`.
 */

/** Where a raw record lives in Kafka. */
export interface RawRef {
  topic: string;
  partition: number;
  offset: number;
}

/** `mamori.Event` v1 (schemas/mamori.event.v1.avsc). */
export interface MamoriEvent {
  /** Deterministic: FNV-1a 64 (hex) of `<topic>:<partition>:<offset>:<line index>`. */
  event_id: string;
  /** e.g. `network_activity`. */
  event_class: string;
  /** Event time, epoch ms. */
  time: number;
  /** Pipeline ingest time, epoch ms. */
  ingest_time: number;
  org_id: string;
  sensor_id: string;
  /** e.g. `zeek.conn`. */
  source_format: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  /** Lower case: tcp, udp, icmp, ... */
  protocol: string;
  bytes_out: number;
  bytes_in: number;
  packets_out: number;
  packets_in: number;
  duration_ms: number;
  conn_state: string | null;
  community_id: string | null;
  raw: RawRef;
  attributes: Record<string, string>;
}

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A reference from a detection to one matching event. */
export interface EvidenceRef {
  event_id: string;
  topic: string;
  partition: number;
  offset: number;
}

/** `mamori.Detection` v1 (schemas/mamori.detection.v1.avsc). */
export interface MamoriDetection {
  detection_id: string;
  rule_id: string;
  rule_version: number;
  title: string;
  /** Travels as a string; one of {@link SEVERITIES}. */
  severity: Severity;
  /** 0..1 (Avro float: ~7 significant digits). */
  confidence: number;
  tactics: string[];
  techniques: string[];
  org_id: string;
  entity: { type: string; value: string };
  src_ip: string | null;
  /** Epoch ms. */
  first_seen: number;
  /** Epoch ms. */
  last_seen: number;
  /** Epoch ms. */
  detected_at: number;
  /** Evidence count (may exceed `evidence.length`, which is capped). */
  count: number;
  summary: string;
  evidence: EvidenceRef[];
  attributes: Record<string, string>;
  ruleset_checksum: string;
}
