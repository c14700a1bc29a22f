import type { Migration } from './migration.ts';

/**
 * `detections_by_ip`: every detection version once per address it is about, keyed by (org, address,
 * id), so a list filtered by an address or CIDR (`entityIp`: the entity page, `GET
 * /v1/detections?entity_ip=`) reads the key range of that address instead of the organization's
 * whole `detection_heads` and then a time span of `detections_by_time` (for the busiest address of
 * the benchmark: ~30k heads and a week of wide rows, about half of the entity page's CPU).
 *
 * - The addresses of a version: its `src_ip`, and for an `ip` entity the entity's address
 *   (`ifNull(toIPv6OrNull(entity_value), '::')`, the same expression the `entityIp` filter applies,
 *   so an unparseable entity value sits at `::` as the filter sees it). Both are part of what a
 *   detection is: every detector derives the id from the entity, and the source address is fixed when
 *   the episode opens, so all versions of a detection share their addresses and `FINAL` on (org,
 *   address, id) gives the latest version exactly as on `detections`.
 * - ReplacingMergeTree by `version`, partitioned like `detections` (month of `first_seen`, which never
 *   changes between versions). Every column of `detections` (the list returns whole rows from here in
 *   one statement), 256-row granules.
 * - A detection stored under two addresses that both fall in a queried range is returned once (`LIMIT
 *   1 BY detection_id` in the list; both copies carry the same latest version).
 * - Filled by a materialized view on inserts into `detections`; back-filled by the last statement.
 *   The view is created first: a row inserted while the migration runs may be copied twice, which
 *   `FINAL` collapses (same key and version), so a re-run after a failure midway is harmless too.
 */
export const migration0008: Migration = {
  id: 8,
  name: 'detections_by_ip',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.detections_by_ip
(
    ip                 IPv6,
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (org_id, ip, detection_id)
SETTINGS index_granularity = 256`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detections_by_ip_mv TO {db}.detections_by_ip AS
SELECT ip, detection_id, org_id, rule_id, rule_version, title, severity, severity_rank, confidence, tactics, techniques,
       entity_type, entity_value, src_ip, first_seen, last_seen, detected_at, count, summary, evidence_event_ids,
       evidence_json, attributes, ruleset_checksum, version
FROM {db}.detections
ARRAY JOIN arrayDistinct(if(entity_type = 'ip', [src_ip, ifNull(toIPv6OrNull(entity_value), toIPv6('::'))], [src_ip])) AS ip`,
    `INSERT INTO {db}.detections_by_ip
SELECT ip, detection_id, org_id, rule_id, rule_version, title, severity, severity_rank, confidence, tactics, techniques,
       entity_type, entity_value, src_ip, first_seen, last_seen, detected_at, count, summary, evidence_event_ids,
       evidence_json, attributes, ruleset_checksum, version
FROM {db}.detections
ARRAY JOIN arrayDistinct(if(entity_type = 'ip', [src_ip, ifNull(toIPv6OrNull(entity_value), toIPv6('::'))], [src_ip])) AS ip`,
  ],
};
