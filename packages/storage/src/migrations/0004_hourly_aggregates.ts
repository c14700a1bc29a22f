import type { Migration } from './migration.ts';

/**
 * Hourly roll-ups so entity pages and dashboards never scan raw events.
 *
 * - `entity_hourly` (AggregatingMergeTree): per org, address and hour: connections as source and as
 *   destination, bytes sent and received (from the address's point of view), distinct peers and
 *   distinct destination ports (`uniqState`). Two materialized views feed it from `events`, one with
 *   the source address as the entity, one with the destination address. Read with `sum` and
 *   `uniqMerge` grouped by hour.
 * - `detection_counts_hourly` (AggregatingMergeTree): per org, hour of `first_seen`, severity and
 *   rule, the distinct detections (`uniqExactState(detection_id)`): a detection updated ten times
 *   (ten versions) still counts once. A detection whose severity changed counts under each severity
 *   it had.
 *
 * Both tables set `non_replicated_deduplication_window`, so an insert into `events`/`detections`
 * that ClickHouse drops as a duplicate (same `insert_deduplication_token`) is dropped in the
 * roll-ups too. A replayed range re-batched differently (new token) is counted again in the sums;
 * the distinct counts are unaffected. The views see inserts made after this migration; older data
 * is back-filled by hand (docs/storage.md).
 */
export const migration0004: Migration = {
  id: 4,
  name: 'hourly_aggregates',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.entity_hourly
(
    org_id         LowCardinality(String),
    ip             IPv6,
    hour           DateTime('UTC'),
    conns_as_src   SimpleAggregateFunction(sum, UInt64),
    conns_as_dst   SimpleAggregateFunction(sum, UInt64),
    bytes_sent     SimpleAggregateFunction(sum, UInt64),
    bytes_received SimpleAggregateFunction(sum, UInt64),
    peers          AggregateFunction(uniq, IPv6),
    ports          AggregateFunction(uniq, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, ip, hour)
TTL hour + INTERVAL 400 DAY DELETE
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_hourly_src_mv TO {db}.entity_hourly AS
SELECT org_id, src_ip AS ip, toStartOfHour(toDateTime(time, 'UTC')) AS hour,
       toUInt64(count()) AS conns_as_src, toUInt64(0) AS conns_as_dst,
       sum(bytes_out) AS bytes_sent, sum(bytes_in) AS bytes_received,
       uniqState(dst_ip) AS peers, uniqState(dst_port) AS ports
FROM {db}.events
GROUP BY org_id, ip, hour`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_hourly_dst_mv TO {db}.entity_hourly AS
SELECT org_id, dst_ip AS ip, toStartOfHour(toDateTime(time, 'UTC')) AS hour,
       toUInt64(0) AS conns_as_src, toUInt64(count()) AS conns_as_dst,
       sum(bytes_in) AS bytes_sent, sum(bytes_out) AS bytes_received,
       uniqState(src_ip) AS peers, uniqState(dst_port) AS ports
FROM {db}.events
GROUP BY org_id, ip, hour`,
    `CREATE TABLE IF NOT EXISTS {db}.detection_counts_hourly
(
    org_id     LowCardinality(String),
    hour       DateTime('UTC'),
    severity   LowCardinality(String),
    rule_id    LowCardinality(String),
    detections AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, severity, rule_id)
SETTINGS non_replicated_deduplication_window = 1000`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detection_counts_hourly_mv TO {db}.detection_counts_hourly AS
SELECT org_id, toStartOfHour(toDateTime(first_seen, 'UTC')) AS hour, severity, rule_id,
       uniqExactState(detection_id) AS detections
FROM {db}.detections
GROUP BY org_id, hour, severity, rule_id`,
  ],
};
