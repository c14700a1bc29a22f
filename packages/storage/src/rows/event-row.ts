import { toDateTime64 } from '../sql.ts';
import { fromStoredIp, num, optionalString, requireIp, requireString, requireTime, strMap, stringMap, unsigned } from './convert.ts';

/** A normalized network event, as the `events` table stores it. Timestamps are epoch milliseconds. */
export interface EventRow {
  /** Unique per event; replays carry the same id (dedup key together with org, source ip, time). */
  eventId: string;
  orgId: string;
  sensorId: string;
  /** Sensor format the event came from, e.g. `zeek-conn`, `suricata-eve`. */
  sourceFormat: string;
  /** e.g. `flow`, `dns`, `http`, `alert`. */
  eventClass: string;
  /** When it happened (epoch ms). */
  time: number;
  /** When Mamori ingested it (epoch ms); the latest ingest wins on replay. */
  ingestTime: number;
  /** IPv4 or IPv6 text. */
  srcIp: string;
  /** 0 when the protocol has no ports. */
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** `tcp`, `udp`, `icmp`, ... */
  protocol: string;
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  durationMs: number;
  connState: string;
  communityId: string;
  /** Kafka coordinates of the raw record, for provenance and replay. */
  rawTopic: string;
  rawPartition: number;
  rawOffset: number;
  attributes: Record<string, string>;
  // ---- v2 search columns (migration 0002); '' when the event has none ----
  /** DNS query name. */
  dnsQuery: string;
  /** HTTP Host header. */
  httpHost: string;
  /** HTTP request URI. */
  httpUri: string;
  /** TLS server name indication. */
  tlsSni: string;
  /** Principal user. */
  userName: string;
  /** Host the event was observed on. */
  hostName: string;
  /** inbound, outbound, internal, external, or ''. */
  direction: string;
  /** Site of the sensor. */
  siteId: string;
}

/** The fields an {@link EventRow} must have; the rest default to '' / 0 / {}. */
export type EventRowInput = Pick<EventRow, 'eventId' | 'orgId' | 'time' | 'srcIp' | 'dstIp'> & Partial<EventRow>;

/**
 * Validates a plain object (decoded Avro, JSON) and fills defaults. `time`/`ingestTime` accept
 * epoch ms, a Date or an ISO string. Throws STORAGE_INVALID_ARGUMENT naming the field.
 */
export function toEventRow(input: EventRowInput | Readonly<Record<string, unknown>>): EventRow {
  const o = input as Readonly<Record<string, unknown>>;
  const k = 'event';
  return {
    eventId: requireString(k, o, 'eventId'),
    orgId: requireString(k, o, 'orgId'),
    sensorId: optionalString(k, o, 'sensorId'),
    sourceFormat: optionalString(k, o, 'sourceFormat'),
    eventClass: optionalString(k, o, 'eventClass'),
    time: requireTime(k, o, 'time'),
    ingestTime: o['ingestTime'] === undefined ? Date.now() : requireTime(k, o, 'ingestTime'),
    srcIp: requireIp(k, o, 'srcIp'),
    srcPort: unsigned(k, o, 'srcPort', 65535),
    dstIp: requireIp(k, o, 'dstIp'),
    dstPort: unsigned(k, o, 'dstPort', 65535),
    protocol: optionalString(k, o, 'protocol'),
    bytesOut: unsigned(k, o, 'bytesOut'),
    bytesIn: unsigned(k, o, 'bytesIn'),
    packetsOut: unsigned(k, o, 'packetsOut'),
    packetsIn: unsigned(k, o, 'packetsIn'),
    durationMs: unsigned(k, o, 'durationMs'),
    connState: optionalString(k, o, 'connState'),
    communityId: optionalString(k, o, 'communityId'),
    rawTopic: optionalString(k, o, 'rawTopic'),
    rawPartition: unsigned(k, o, 'rawPartition', 0xffffffff),
    rawOffset: unsigned(k, o, 'rawOffset'),
    attributes: stringMap(k, o, 'attributes'),
    dnsQuery: optionalString(k, o, 'dnsQuery'),
    httpHost: optionalString(k, o, 'httpHost'),
    httpUri: optionalString(k, o, 'httpUri'),
    tlsSni: optionalString(k, o, 'tlsSni'),
    userName: optionalString(k, o, 'userName'),
    hostName: optionalString(k, o, 'hostName'),
    direction: optionalString(k, o, 'direction'),
    siteId: optionalString(k, o, 'siteId'),
  };
}

/** An {@link EventRow} as a JSONEachRow object for the `events` table. */
export function eventToClickHouse(row: EventRow): Record<string, unknown> {
  return {
    event_id: row.eventId,
    org_id: row.orgId,
    sensor_id: row.sensorId,
    source_format: row.sourceFormat,
    event_class: row.eventClass,
    time: toDateTime64(row.time),
    ingest_time: toDateTime64(row.ingestTime),
    src_ip: row.srcIp,
    src_port: row.srcPort,
    dst_ip: row.dstIp,
    dst_port: row.dstPort,
    protocol: row.protocol,
    bytes_out: row.bytesOut,
    bytes_in: row.bytesIn,
    packets_out: row.packetsOut,
    packets_in: row.packetsIn,
    duration_ms: row.durationMs,
    conn_state: row.connState,
    community_id: row.communityId,
    raw_topic: row.rawTopic,
    raw_partition: row.rawPartition,
    raw_offset: row.rawOffset,
    attributes: row.attributes,
    dns_query: row.dnsQuery,
    http_host: row.httpHost,
    http_uri: row.httpUri,
    tls_sni: row.tlsSni,
    user_name: row.userName,
    host_name: row.hostName,
    direction: row.direction,
    site_id: row.siteId,
  };
}

/** Column list that {@link eventFromClickHouse} reads (timestamps as epoch ms). */
export const EVENT_SELECT_COLUMNS = `event_id, org_id, sensor_id, source_format, event_class,
toUnixTimestamp64Milli(time) AS time_ms, toUnixTimestamp64Milli(ingest_time) AS ingest_time_ms,
toString(src_ip) AS src_ip_text, src_port, toString(dst_ip) AS dst_ip_text, dst_port, protocol,
bytes_out, bytes_in, packets_out, packets_in, duration_ms, conn_state, community_id,
raw_topic, raw_partition, raw_offset, attributes,
dns_query, http_host, http_uri, tls_sni, user_name, host_name, direction, site_id`;

/** A row selected with {@link EVENT_SELECT_COLUMNS} back to an {@link EventRow}. */
export function eventFromClickHouse(r: Readonly<Record<string, unknown>>): EventRow {
  return {
    eventId: String(r['event_id']),
    orgId: String(r['org_id']),
    sensorId: String(r['sensor_id']),
    sourceFormat: String(r['source_format']),
    eventClass: String(r['event_class']),
    time: num(r['time_ms']),
    ingestTime: num(r['ingest_time_ms']),
    srcIp: fromStoredIp(r['src_ip_text']),
    srcPort: num(r['src_port']),
    dstIp: fromStoredIp(r['dst_ip_text']),
    dstPort: num(r['dst_port']),
    protocol: String(r['protocol']),
    bytesOut: num(r['bytes_out']),
    bytesIn: num(r['bytes_in']),
    packetsOut: num(r['packets_out']),
    packetsIn: num(r['packets_in']),
    durationMs: num(r['duration_ms']),
    connState: String(r['conn_state']),
    communityId: String(r['community_id']),
    rawTopic: String(r['raw_topic']),
    rawPartition: num(r['raw_partition']),
    rawOffset: num(r['raw_offset']),
    attributes: strMap(r['attributes']),
    dnsQuery: String(r['dns_query'] ?? ''),
    httpHost: String(r['http_host'] ?? ''),
    httpUri: String(r['http_uri'] ?? ''),
    tlsSni: String(r['tls_sni'] ?? ''),
    userName: String(r['user_name'] ?? ''),
    hostName: String(r['host_name'] ?? ''),
    direction: String(r['direction'] ?? ''),
    siteId: String(r['site_id'] ?? ''),
  };
}
