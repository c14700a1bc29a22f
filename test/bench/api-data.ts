/**
 * Bulk data for the analyst API benchmark, generated inside the engine (`INSERT ... SELECT FROM
 * numbers(n)`): 10M events load in about a minute instead of ten through JSON. The rows go into the
 * base tables, so the materialized views fill the hourly roll-ups exactly as the writer's inserts
 * do. The writer's own path (JSON through the repositories) is measured separately on a sample.
 *
 * Shapes: 7 days (arriving in time order), four organizations, SOURCES internal sources with a skewed activity (source k has
 * about k^-1/2 of the traffic: a few heavy hitters, a long tail), 70 % of connections to 2,000
 * external addresses and 30 % to other internal sources, weighted common ports with a 10 % tail of
 * random ones, flow/dns/http/tls classes with their text fields. Detections are derived from 1 % of
 * the events (their source, their time, that event as evidence), weighted severities over 40 rules,
 * and 20 % of them carry a second version (later last_seen, higher count), as the detector's updates do.
 */
import type { StorageDriver } from '@mamori/storage';

export const ORGS = ['org-a', 'org-b', 'org-c', 'org-d'] as const;
export const SOURCES = 5000;
/** The address of source `i` (as the SQL below builds it). */
export const srcIp = (i: number): string => `10.${(i >> 8) & 255}.${i & 255}.${(i % 200) + 1}`;
const DAY_MS = 86_400_000;
/** How far a generated event's time strays from its place in the stream (sensors' clocks and buffers). */
const JITTER_MS = 300_000;

/** Source index of row `number` (skewed: index 0 is the busiest). */
const SRC = `toUInt32(floor(${SOURCES} * pow((cityHash64(number, 1) % 1000003) / 1000003, 2)))`;
const srcIpSql = (src: string) =>
  `toIPv6(concat('10.', toString(bitAnd(bitShiftRight(${src}, 8), 255)), '.', toString(bitAnd(${src}, 255)), '.', toString(${src} % 200 + 1)))`;

/**
 * Inserts `count` generated events numbered from `first`, in the 7 days before `now` (epoch ms).
 * Runs as one statement per `chunk` rows so each insert stays a realistic block size for the views.
 * The week arrives in time order, as sensors stream it: each insert holds the next stretch of it
 * (give or take {@link JITTER_MS}), so each part covers the hours of its inserts, as in a running
 * deployment. (Until the eighth session every insert spread its rows over the whole week: every
 * part of every roll-up then held rows of the last hours, and a read of those hours opened all of
 * them, which no deployment that ingests as it goes would do.)
 */
export async function generateEvents(storage: StorageDriver, count: number, now: number, first = 0, chunk = 2_000_000): Promise<void> {
  const db = storage.database;
  // Row k of `count` falls at k/count of the week, moved by up to 5 minutes either way (never after `now`).
  const timeSql = `least({now:Int64}, {now:Int64} - ${7 * DAY_MS} + intDiv((number - ${first}) * ${7 * DAY_MS}, ${count}) + cityHash64(number, 2) % ${2 * JITTER_MS} - ${JITTER_MS})`;
  for (let start = first; start < first + count; start += chunk) {
    const n = Math.min(chunk, first + count - start);
    await storage.exec(
      `INSERT INTO ${db}.events (event_id, org_id, sensor_id, source_format, event_class, time, ingest_time, src_ip, src_port,
  dst_ip, dst_port, protocol, bytes_out, bytes_in, packets_out, packets_in, duration_ms, conn_state, community_id,
  raw_topic, raw_partition, raw_offset, dns_query, http_host, http_uri, tls_sni, direction, site_id)
SELECT
  concat('g', hex(number)) AS event_id,
  arrayElement(['org-a', 'org-b', 'org-c', 'org-d'], src % 4 + 1) AS org_id,
  concat('sensor-', toString(src % 8)) AS sensor_id,
  arrayElement(['zeek-conn', 'zeek-dns', 'zeek-http', 'zeek-ssl'], cls + 1) AS source_format,
  arrayElement(['flow', 'dns', 'http', 'tls'], cls + 1) AS event_class,
  fromUnixTimestamp64Milli(toInt64(${timeSql}), 'UTC') AS time,
  time + toIntervalMillisecond(200 + cityHash64(number, 3) % 2000) AS ingest_time,
  ${srcIpSql('src')} AS src_ip,
  toUInt16(1024 + cityHash64(number, 4) % 60000) AS src_port,
  if(cityHash64(number, 5) % 10 < 7,
     toIPv6(concat(arrayElement(['198.51.100.', '203.0.113.', '192.0.2.', '100.64.7.', '100.64.9.', '100.64.11.', '100.64.13.', '100.64.15.'], cityHash64(number, 6) % 8 + 1), toString(cityHash64(number, 7) % 250 + 1))),
     ${srcIpSql('dst_src')}) AS dst_ip,
  multiIf(cls = 1, 53, cls = 2, 80, cls = 3, 443,
          cityHash64(number, 8) % 10 = 0, toUInt16(1 + cityHash64(number, 9) % 65535),
          arrayElement([443, 443, 443, 443, 80, 80, 22, 3389, 8080, 445, 123, 25, 993, 5432], cityHash64(number, 9) % 14 + 1)) AS dst_port,
  if(dst_port IN (53, 123), 'udp', 'tcp') AS protocol,
  toUInt64(exp((cityHash64(number, 10) % 10000) / 1000.0)) AS bytes_out,
  toUInt64(exp((cityHash64(number, 11) % 12000) / 1000.0)) AS bytes_in,
  intDiv(bytes_out, 500) + 1 AS packets_out,
  intDiv(bytes_in, 500) + 1 AS packets_in,
  cityHash64(number, 12) % 60000 AS duration_ms,
  arrayElement(['SF', 'SF', 'SF', 'S0', 'REJ', 'RSTO'], cityHash64(number, 13) % 6 + 1) AS conn_state,
  concat('1:', base64Encode(reinterpretAsString(cityHash64(number, 14)))) AS community_id,
  concat('telemetry.raw.zeek.', arrayElement(['conn', 'dns', 'http', 'ssl'], cls + 1)) AS raw_topic,
  toUInt32(cityHash64(number, 15) % 6) AS raw_partition,
  number AS raw_offset,
  if(cls = 1, concat('host', toString(cityHash64(number, 16) % 5000), '.', arrayElement(['example.com', 'example.net', 'cdn.example.org', 'corp.example'], cityHash64(number, 17) % 4 + 1)), '') AS dns_query,
  if(cls = 2, concat('www', toString(cityHash64(number, 16) % 500), '.example.com'), '') AS http_host,
  if(cls = 2, concat('/api/v', toString(cityHash64(number, 18) % 3), '/items/', toString(cityHash64(number, 19) % 10000)), '') AS http_uri,
  if(cls = 3, concat('svc', toString(cityHash64(number, 16) % 800), '.example.net'), '') AS tls_sni,
  if(cityHash64(number, 5) % 10 < 7, 'outbound', 'internal') AS direction,
  concat('site-', toString(src % 3)) AS site_id
FROM (
  SELECT number, ${SRC} AS src, (src + 1 + cityHash64(number, 20) % ${SOURCES - 1}) % ${SOURCES} AS dst_src,
         multiIf(cityHash64(number, 21) % 100 < 70, 0, cityHash64(number, 21) % 100 < 85, 1, cityHash64(number, 21) % 100 < 93, 2, 3) AS cls
  FROM numbers({start:UInt64}, {n:UInt64})
)`,
      { now, start, n },
    );
  }
}

/**
 * Derives detections from about `count` events (one in `every`): the event's organization, source
 * and time, that event as evidence, then a second version of 20 % of them. Returns the number of
 * detection ids written.
 */
export async function generateDetections(storage: StorageDriver, count: number, totalEvents: number): Promise<number> {
  const db = storage.database;
  if (count <= 0) return 0;
  const every = Math.max(1, Math.floor(totalEvents / count));
  const columns = `detection_id, org_id, rule_id, rule_version, title, severity, severity_rank, confidence, tactics, techniques,
  entity_type, entity_value, src_ip, first_seen, last_seen, detected_at, count, summary, evidence_event_ids, evidence_json,
  attributes, ruleset_checksum, version`;
  await storage.exec(
    `INSERT INTO ${db}.detections (${columns})
SELECT
  concat('det-', lower(hex(cityHash64(event_id)))) AS detection_id,
  org_id,
  concat('rule.', toString(r)) AS rule_id,
  toUInt32(1 + r % 3) AS rule_version,
  concat(arrayElement(['Port scan', 'SSH brute force', 'Beaconing', 'DNS tunneling', 'Outbound volume', 'Intel match', 'Long connection', 'First seen'], r % 8 + 1),
         ' from ', replaceOne(toString(src_ip), '::ffff:', '')) AS title,
  arrayElement(['info', 'low', 'medium', 'high', 'critical'], rank) AS severity,
  toUInt8(rank) AS severity_rank,
  toFloat32(0.5 + (cityHash64(event_id, 2) % 50) / 100) AS confidence,
  ['discovery'] AS tactics,
  [concat('T10', toString(40 + r % 50))] AS techniques,
  'ip' AS entity_type,
  replaceOne(toString(src_ip), '::ffff:', '') AS entity_value,
  src_ip,
  time - toIntervalMillisecond(cityHash64(event_id, 3) % 3600000) AS first_seen,
  time AS last_seen,
  time + toIntervalMillisecond(1500) AS detected_at,
  1 + cityHash64(event_id, 4) % 50 AS count,
  concat('Source ', entity_value, ' matched ', rule_id, ' against ', toString(dst_ip), ' port ', toString(dst_port)) AS summary,
  [event_id] AS evidence_event_ids,
  concat('[{"event_id":"', event_id, '","src_ip":"', entity_value, '","dst_ip":"', replaceOne(toString(dst_ip), '::ffff:', ''),
         '","dst_port":', toString(dst_port), ',"bytes_out":', toString(bytes_out), ',"bytes_in":', toString(bytes_in),
         ',"conn_state":"', conn_state, '","community_id":"', community_id, '"}]') AS evidence_json,
  map('sensor_id', sensor_id, 'source_format', source_format) AS attributes,
  'sha256:5f0c0ffee' AS ruleset_checksum,
  toUInt64(1) AS version
FROM (
  SELECT *, cityHash64(event_id, 1) % 40 AS r,
         multiIf(cityHash64(event_id, 5) % 100 < 30, 1, cityHash64(event_id, 5) % 100 < 60, 2, cityHash64(event_id, 5) % 100 < 85, 3, cityHash64(event_id, 5) % 100 < 97, 4, 5) AS rank
  FROM ${db}.events
  WHERE cityHash64(event_id, 99) % {every:UInt64} = 0
)`,
    { every },
  );
  // Updates: a later last_seen and count; first_seen (the partition key) never changes.
  await storage.exec(
    `INSERT INTO ${db}.detections (${columns})
SELECT detection_id, org_id, rule_id, rule_version, title, severity, severity_rank, confidence, tactics, techniques,
  entity_type, entity_value, src_ip, first_seen, last_seen + toIntervalMinute(10 + cityHash64(detection_id) % 120) AS last_seen2,
  last_seen2 + toIntervalMillisecond(1500), count + 5, summary, evidence_event_ids, evidence_json, attributes, ruleset_checksum, toUInt64(2)
FROM ${db}.detections WHERE cityHash64(detection_id, 7) % 5 = 0`,
  );
  // Triage: 5 % of detections have a state (acknowledged, in progress, resolved or false positive).
  await storage.exec(
    `INSERT INTO ${db}.detection_state (detection_id, org_id, status, assignee, note, changed_by, changed_at, version)
SELECT detection_id, org_id, arrayElement(['acknowledged', 'in_progress', 'resolved', 'false_positive'], cityHash64(detection_id, 8) % 4 + 1),
  concat('analyst-', toString(cityHash64(detection_id, 9) % 5)), 'looked at it', 'analyst-0', last_seen + toIntervalMinute(30), toUInt64(1)
FROM ${db}.detections WHERE version = 1 AND cityHash64(detection_id, 10) % 20 = 0`,
  );
  const rows = await storage.query<{ n: string }>(`SELECT uniqExact(detection_id) AS n FROM ${db}.detections`);
  return Number(rows[0]?.n ?? 0);
}
