import type { Migration } from './migration.ts';

/**
 * Two copies of `detections` for the detection list, so a page no longer decompresses the wide
 * columns (`evidence_json`, `summary`, `attributes`, ...) of tens of thousands of rows (8192-row
 * granules keyed by id, while a page is picked by time):
 *
 * - `detection_heads`: only the columns the list filters and sorts on, one narrow row per detection
 *   version. The page (ids and versions) is picked here.
 * - `detections_by_time`: every column of every version, sorted by (org, last_seen, id, version) in
 *   256-row granules. The full rows of a picked page are read here by primary key: a page sorted by
 *   time is one or two granules, and any page at most one granule per row. Plain MergeTree (versions
 *   are selected by the pick, nothing is collapsed); it doubles the space detections take.
 *
 *
 * - ReplacingMergeTree by `version` on the same key and partitioning as `detections` (org, id; month
 *   of `first_seen`, which never changes between versions), so `FINAL` gives the latest version of
 *   each detection exactly as it does on `detections`. Small granules (1024 rows): the list reads
 *   every row of the organization's range anyway, and a lookup by id stays small.
 * - Both are filled by materialized views on inserts into `detections`: the writer path is
 *   unchanged, and an insert dropped as a duplicate there (deduplication token) never reaches them.
 * - Both are back-filled from `detections` by the last statements. The views are created first, so
 *   a row inserted while the migration runs is in a view, the back-fill, or both; a row copied twice
 *   (that overlap, or a re-run after a failure midway) has the same (org, id, version): it collapses
 *   under `FINAL` in `detection_heads`, and the list reads one row per id and version from
 *   `detections_by_time` (`LIMIT 1 BY`), so a re-run never duplicates a detection in a result.
 */
export const migration0007: Migration = {
  id: 7,
  name: 'detection_heads',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.detection_heads
(
    org_id        LowCardinality(String),
    detection_id  String,
    version       UInt64,
    first_seen    DateTime64(3, 'UTC'),
    last_seen     DateTime64(3, 'UTC'),
    severity_rank UInt8,
    rule_id       LowCardinality(String),
    title         String,
    techniques    Array(LowCardinality(String)),
    entity_type   LowCardinality(String),
    entity_value  String,
    src_ip        IPv6
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (org_id, detection_id)
SETTINGS index_granularity = 1024`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detection_heads_mv TO {db}.detection_heads AS
SELECT org_id, detection_id, version, first_seen, last_seen, severity_rank, rule_id, title, techniques, entity_type, entity_value, src_ip
FROM {db}.detections`,
    `CREATE TABLE IF NOT EXISTS {db}.detections_by_time
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
    version            UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(first_seen)
ORDER BY (org_id, last_seen, detection_id, version)
SETTINGS index_granularity = 256`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detections_by_time_mv TO {db}.detections_by_time AS
SELECT detection_id, org_id, rule_id, rule_version, title, severity, severity_rank, confidence, tactics, techniques,
       entity_type, entity_value, src_ip, first_seen, last_seen, detected_at, count, summary, evidence_event_ids,
       evidence_json, attributes, ruleset_checksum, version
FROM {db}.detections`,
    `INSERT INTO {db}.detection_heads (org_id, detection_id, version, first_seen, last_seen, severity_rank, rule_id, title, techniques, entity_type, entity_value, src_ip)
SELECT org_id, detection_id, version, first_seen, last_seen, severity_rank, rule_id, title, techniques, entity_type, entity_value, src_ip
FROM {db}.detections`,
    `INSERT INTO {db}.detections_by_time SELECT detection_id, org_id, rule_id, rule_version, title, severity, severity_rank, confidence, tactics, techniques,
       entity_type, entity_value, src_ip, first_seen, last_seen, detected_at, count, summary, evidence_event_ids,
       evidence_json, attributes, ruleset_checksum, version
FROM {db}.detections`,
  ],
};
