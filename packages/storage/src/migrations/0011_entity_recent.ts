import type { Migration } from './migration.ts';

/**
 * `entity_recent`: the last two days of each address's traffic per hour, peer, destination port and
 * protocol, with its connections and bytes by direction. It holds everything the entity page reads
 * of the hours after the entity cache's settled ones (entityRange: the timeline, peers and ports),
 * so that read is one `GROUP BY GROUPING SETS` over one table instead of three statements over
 * `entity_hourly`, `entity_peer_hourly` and `entity_port_hourly`. Each statement's fixed cost (plan,
 * pipeline, parts) was most of that read: measured on the benchmark's busiest source, 9.8 ms of CPU
 * against 16.3 (docs/benchmarks.md).
 *
 * - The same sums as those roll-ups: `conns_as_src` + `conns_as_dst` is `entity_peer_hourly`'s and
 *   `entity_port_hourly`'s `connections`, `bytes_sent` + `bytes_received` the peer's `bytes`;
 *   `uniq(peer)` and `uniq(port)` of an hour's rows are `entity_hourly`'s `uniqMerge` of the same
 *   values (the same function over the same set).
 * - Two days: day partitions of `hour`, TTL two days after the hour, dropped whole. The view keeps only
 *   events of the last two days (a back-fill or an archive import of older events adds nothing here).
 *   Readers use it for ranges starting within the last day (ENTITY_RECENT_READ_MS in aggregates.ts).
 * - `non_replicated_deduplication_window` as on the other roll-ups: an insert ClickHouse drops as a
 *   duplicate is dropped here too.
 * - Back-filled by the last statement from the events of the last two days inserted before the view
 *   existed (`ingest_time` up to a second after its creation): an event inserted in that second, while
 *   the migration runs, may be counted twice here, until its day is dropped. Sums cannot be
 *   collapsed, so a re-run of the statements after the back-fill failed midway may count some of those
 *   events twice as well (the entity page's live hours, for two days at most).
 */
/** Both sides of each event of the last two days; the view's and the back-fill's rows (GROUP BY {@link RECENT_GROUPS}). */
const RECENT_ROWS = `SELECT org_id, side.1 AS ip, toStartOfHour(toDateTime(time, 'UTC')) AS hour, side.2 AS peer, dst_port AS port, protocol,
       toUInt64(countIf(side.3 = 1)) AS conns_as_src, toUInt64(countIf(side.3 = 0)) AS conns_as_dst,
       sum(if(side.3 = 1, bytes_out, bytes_in)) AS bytes_sent, sum(if(side.3 = 1, bytes_in, bytes_out)) AS bytes_received
FROM {db}.events
ARRAY JOIN [(src_ip, dst_ip, toUInt8(1)), (dst_ip, src_ip, toUInt8(0))] AS side
WHERE time >= now() - INTERVAL 2 DAY`;
const RECENT_GROUPS = 'GROUP BY org_id, ip, hour, peer, port, protocol';

export const migration0011: Migration = {
  id: 11,
  name: 'entity_recent',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.entity_recent
(
    org_id         LowCardinality(String),
    ip             IPv6,
    hour           DateTime('UTC'),
    peer           IPv6,
    port           UInt16,
    protocol       LowCardinality(String),
    conns_as_src   SimpleAggregateFunction(sum, UInt64),
    conns_as_dst   SimpleAggregateFunction(sum, UInt64),
    bytes_sent     SimpleAggregateFunction(sum, UInt64),
    bytes_received SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(hour)
ORDER BY (org_id, ip, hour, peer, port, protocol)
TTL hour + INTERVAL 2 DAY DELETE
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_recent_mv TO {db}.entity_recent AS
${RECENT_ROWS}
${RECENT_GROUPS}`,
    `INSERT INTO {db}.entity_recent
${RECENT_ROWS}
  AND ingest_time < (SELECT max(metadata_modification_time) + 1 FROM system.tables WHERE database = '{db}' AND name = 'entity_recent_mv')
${RECENT_GROUPS}`,
  ],
};
