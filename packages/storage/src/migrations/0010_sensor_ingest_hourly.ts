import type { Migration } from './migration.ts';

/**
 * `sensor_ingest_hourly`: events per organization, sensor and hour of ingestion, so the dashboard's
 * ingest rates per sensor (`GET /v1/stats`) read a roll-up instead of grouping the raw `events` of the
 * whole range (up to API_MAX_RANGE_DAYS of telemetry) on every request.
 *
 * - The hour is that of `ingest_time`: an ingest rate is when Mamori received the events, and an
 *   archive replayed with `mamori import` counts when it was imported, not when it happened.
 * - AggregatingMergeTree with a `SimpleAggregateFunction(sum)` count; read with `sum(events)` grouped
 *   by hour. `non_replicated_deduplication_window` as on the other roll-ups: an insert ClickHouse drops
 *   as a duplicate (same `insert_deduplication_token`) is dropped here too; a replayed range re-batched
 *   differently is counted again, like `entity_hourly`'s sums.
 * - 400-day TTL on the hour, like the entity roll-ups.
 * - The view sees inserts made after this migration; older events are back-filled by hand, as for 0004
 *   and 0006 (docs/storage.md), since the back-fill reads every stored event.
 */
export const migration0010: Migration = {
  id: 10,
  name: 'sensor_ingest_hourly',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.sensor_ingest_hourly
(
    org_id    LowCardinality(String),
    hour      DateTime('UTC'),
    sensor_id LowCardinality(String),
    events    SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, sensor_id)
TTL hour + INTERVAL 400 DAY DELETE
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.sensor_ingest_hourly_mv TO {db}.sensor_ingest_hourly AS
SELECT org_id, toStartOfHour(toDateTime(ingest_time, 'UTC')) AS hour, sensor_id, toUInt64(count()) AS events
FROM {db}.events
GROUP BY org_id, hour, sensor_id`,
  ],
};
