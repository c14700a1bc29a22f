import type { Migration } from './migration.ts';

/**
 * Normalized network events and detections.
 *
 * - IPs are `IPv6`; IPv4 addresses are stored IPv4-mapped (`::ffff:10.0.0.1`), 16 bytes fixed, one
 *   column for both families, compact in the sort key, and CIDR/range predicates work on it. The
 *   repositories convert mapped addresses back to dotted IPv4 on read.
 * - Ports are `UInt16` with 0 for "none" (ICMP): Nullable costs a null map per column and the
 *   queries never need to tell 0 from absent.
 * - `events` is a ReplacingMergeTree on the sort key (org, source ip, time, event id): a replayed
 *   Kafka range collapses to one row per event at merge time, readers use FINAL when exactness
 *   matters. `non_replicated_deduplication_window` makes `insert_deduplication_token` work on a
 *   single node and in chDB, so a retried batch is dropped before it even becomes a part.
 * - Daily partitions with a 90-day TTL and `ttl_only_drop_parts`: expiry drops whole parts instead
 *   of rewriting them. A later migration changes the TTL (`ALTER TABLE ... MODIFY TTL`).
 * - `detections` keeps every version of a detection and reads the latest (highest `version`) with
 *   FINAL. ReplacingMergeTree collapses only within a partition, so `first_seen` (the partition key)
 *   must not change between versions of one detection.
 */
export const migration0001: Migration = {
  id: 1,
  name: 'events_detections',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id      String CODEC(ZSTD(1)),
    org_id        LowCardinality(String),
    sensor_id     LowCardinality(String),
    source_format LowCardinality(String),
    event_class   LowCardinality(String),
    time          DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    ingest_time   DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    src_ip        IPv6,
    src_port      UInt16 DEFAULT 0,
    dst_ip        IPv6,
    dst_port      UInt16 DEFAULT 0,
    protocol      LowCardinality(String),
    bytes_out     UInt64 CODEC(T64, ZSTD(1)),
    bytes_in      UInt64 CODEC(T64, ZSTD(1)),
    packets_out   UInt64 CODEC(T64, ZSTD(1)),
    packets_in    UInt64 CODEC(T64, ZSTD(1)),
    duration_ms   UInt64 CODEC(T64, ZSTD(1)),
    conn_state    LowCardinality(String),
    community_id  String CODEC(ZSTD(1)),
    raw_topic     LowCardinality(String),
    raw_partition UInt32,
    raw_offset    UInt64 CODEC(Delta(8), ZSTD(1)),
    attributes    Map(String, String) CODEC(ZSTD(1)),
    INDEX idx_dst_ip dst_ip TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_community_id community_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingest_time)
PARTITION BY toYYYYMMDD(time)
ORDER BY (org_id, src_ip, time, event_id)
TTL toDateTime(time) + INTERVAL 90 DAY DELETE
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000`,
    `CREATE TABLE IF NOT EXISTS {db}.detections
(
    detection_id       String,
    org_id             LowCardinality(String),
    rule_id            LowCardinality(String),
    rule_version       UInt32,
    title              String,
    severity           LowCardinality(String),
    severity_rank      UInt8,
    confidence         Float32,
    tactics            Array(LowCardinality(String)),
    techniques         Array(LowCardinality(String)),
    entity_type        LowCardinality(String),
    entity_value       String,
    src_ip             IPv6,
    first_seen         DateTime64(3, 'UTC'),
    last_seen          DateTime64(3, 'UTC'),
    detected_at        DateTime64(3, 'UTC'),
    count              UInt64,
    summary            String,
    evidence_event_ids Array(String),
    evidence_json      String CODEC(ZSTD(3)),
    attributes         Map(String, String),
    ruleset_checksum   String,
    version            UInt64,
    INDEX idx_detection_id detection_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_rule_id rule_id TYPE set(256) GRANULARITY 4,
    INDEX idx_src_ip src_ip TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_last_seen last_seen TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (org_id, detection_id)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000`,
  ],
};
