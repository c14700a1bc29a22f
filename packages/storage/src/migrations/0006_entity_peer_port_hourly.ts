import type { Migration } from './migration.ts';

/**
 * Hourly roll-ups of an address's peers and destination ports, so the entity page answers "top
 * peers" and "top ports" from its own (org, ip, hour) key range instead of raw events (where the
 * destination side could only use a bloom filter over a day of the organization's events).
 *
 * - `entity_peer_hourly` (AggregatingMergeTree): per org, address, hour and peer: connections and
 *   bytes both ways. `entity_port_hourly`: per org, address, hour, destination port and protocol:
 *   connections. Both count an event twice, once from each side (the source address with its
 *   destination as peer, the destination with its source), like `entity_hourly`.
 * - One materialized view per table reads each inserted block once and emits both sides with
 *   `ARRAY JOIN` (two views per table would read and sort every block twice).
 * - Same deduplication and TTL settings as `entity_hourly` (0004): a batch dropped as a duplicate
 *   is dropped here too; a replayed range re-batched differently is counted again.
 * - The views see inserts made after this migration; older events are back-filled by hand
 *   (docs/storage.md, "Back-filling a roll-up").
 */
export const migration0006: Migration = {
  id: 6,
  name: 'entity_peer_port_hourly',
  statements: [
    `CREATE TABLE IF NOT EXISTS {db}.entity_peer_hourly
(
    org_id      LowCardinality(String),
    ip          IPv6,
    hour        DateTime('UTC'),
    peer        IPv6,
    connections SimpleAggregateFunction(sum, UInt64),
    bytes       SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, ip, hour, peer)
TTL hour + INTERVAL 400 DAY DELETE
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_peer_hourly_mv TO {db}.entity_peer_hourly AS
SELECT org_id, side.1 AS ip, toStartOfHour(toDateTime(time, 'UTC')) AS hour, side.2 AS peer,
       toUInt64(count()) AS connections, sum(bytes_out + bytes_in) AS bytes
FROM {db}.events
ARRAY JOIN [(src_ip, dst_ip), (dst_ip, src_ip)] AS side
GROUP BY org_id, ip, hour, peer`,
    `CREATE TABLE IF NOT EXISTS {db}.entity_port_hourly
(
    org_id      LowCardinality(String),
    ip          IPv6,
    hour        DateTime('UTC'),
    port        UInt16,
    protocol    LowCardinality(String),
    connections SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, ip, hour, port, protocol)
TTL hour + INTERVAL 400 DAY DELETE
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_port_hourly_mv TO {db}.entity_port_hourly AS
SELECT org_id, side_ip AS ip, toStartOfHour(toDateTime(time, 'UTC')) AS hour, dst_port AS port, protocol,
       toUInt64(count()) AS connections
FROM {db}.events
ARRAY JOIN [src_ip, dst_ip] AS side_ip
GROUP BY org_id, ip, hour, port, protocol`,
  ],
};
