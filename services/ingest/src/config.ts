import { isIP } from 'node:net';
import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import type { HttpIngestOptions } from './http/server.ts';
import { parseSensorTokens, type SensorToken } from './http/sensor-tokens.ts';
import type { SyslogOptions } from './syslog/listeners.ts';

export interface IngestConfig {
  /** INGEST_SENSOR_ID: sensor id stamped on simulated records. @default 'sim-zeek-1' */
  sensorId: string;
  /** INGEST_SIMULATOR_RATE: simulated connections per second of wall clock; 0 = simulator off. @default 0 */
  simulatorRate: number;
  /** INGEST_SIMULATOR_SEED. @default 1 */
  simulatorSeed: number;
  /** INGEST_SIMULATOR_ATTACKS: inject port scans every few minutes. @default true */
  simulatorAttacks: boolean;
  /** Raw topic for Zeek conn lines. */
  rawTopic: string;
  /** The NetFlow v5/v9/IPFIX UDP collector (docs/netflow.md); off when `port` is 0. */
  netflow: NetflowConfig;
  /** Syslog UDP/TCP listeners (docs/ingest.md); each off when its port is 0. */
  syslog: SyslogOptions;
  /** HTTP bulk ingest (docs/ingest.md); off when `port` is 0. */
  http: HttpIngestConfig;
}

export function loadIngestConfig(env: Env): Readonly<IngestConfig> {
  const r = new EnvReader(env);
  const sensorId = r.string('INGEST_SENSOR_ID', 'sim-zeek-1');
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(sensorId)) r.problem(`INGEST_SENSOR_ID=${JSON.stringify(sensorId)} may hold only letters, digits, '.', '_' and '-'`);
  return r.done({
    sensorId,
    simulatorRate: r.integer('INGEST_SIMULATOR_RATE', 0, { min: 0, max: 1_000_000 }),
    simulatorSeed: r.integer('INGEST_SIMULATOR_SEED', 1, { min: 0 }),
    simulatorAttacks: r.boolean('INGEST_SIMULATOR_ATTACKS', true),
    rawTopic: TOPICS.rawZeekConn,
    netflow: netflowConfig(r),
    syslog: syslogConfig(r),
    http: httpConfig(r),
  });
}

/** INGEST_NETFLOW_* settings. */
export interface NetflowConfig {
  /** INGEST_NETFLOW_PORT: UDP port; 0 = collector off. @default 0 */
  port: number;
  /** INGEST_NETFLOW_HOST: bind address. @default '127.0.0.1' */
  host: string;
  /** INGEST_NETFLOW_SENSOR_IDS: `<exporter ip>=<sensor id>` pairs; others are `netflow:<exporter ip>`. @default {} */
  sensorIds: Record<string, string>;
  /** INGEST_NETFLOW_TEMPLATE_TTL_MS. @default 1800000 */
  templateTtlMs: number;
  /** INGEST_NETFLOW_PENDING_MAX_AGE_MS: how long data waits for its template. @default 10000 */
  pendingMaxAgeMs: number;
  /** INGEST_NETFLOW_PENDING_MAX_SETS. @default 1000 */
  pendingMaxSets: number;
  /** INGEST_NETFLOW_BATCH_MAX_RECORDS. @default 1000 */
  batchMaxRecords: number;
  /** INGEST_NETFLOW_BATCH_MAX_DELAY_MS. @default 100 */
  batchMaxDelayMs: number;
  /** INGEST_NETFLOW_MAX_QUEUED_RECORDS: beyond this, new flows are dropped and counted. @default 100000 */
  maxQueuedRecords: number;
}

function netflowConfig(r: EnvReader): NetflowConfig {
  const sensorIds: Record<string, string> = {};
  for (const entry of r.list('INGEST_NETFLOW_SENSOR_IDS', [])) {
    const [exporter = '', sensor = ''] = entry.split('=').map((s) => s.trim());
    if (isIP(exporter) === 0 || !/^[A-Za-z0-9.:_-]{1,128}$/.test(sensor)) r.problem(`INGEST_NETFLOW_SENSOR_IDS entry ${JSON.stringify(entry)} must be <exporter ip>=<sensor id>`);
    else sensorIds[exporter] = sensor;
  }
  return {
    port: r.integer('INGEST_NETFLOW_PORT', 0, { min: 0, max: 65535 }),
    host: r.string('INGEST_NETFLOW_HOST', '127.0.0.1'),
    sensorIds,
    templateTtlMs: r.integer('INGEST_NETFLOW_TEMPLATE_TTL_MS', 1_800_000, { min: 1000 }),
    pendingMaxAgeMs: r.integer('INGEST_NETFLOW_PENDING_MAX_AGE_MS', 10_000, { min: 0, max: 600_000 }),
    pendingMaxSets: r.integer('INGEST_NETFLOW_PENDING_MAX_SETS', 1000, { min: 0, max: 1_000_000 }),
    batchMaxRecords: r.integer('INGEST_NETFLOW_BATCH_MAX_RECORDS', 1000, { min: 1, max: 100_000 }),
    batchMaxDelayMs: r.integer('INGEST_NETFLOW_BATCH_MAX_DELAY_MS', 100, { min: 0, max: 60_000 }),
    maxQueuedRecords: r.integer('INGEST_NETFLOW_MAX_QUEUED_RECORDS', 100_000, { min: 1, max: 10_000_000 }),
  };
}

function syslogConfig(r: EnvReader): SyslogOptions {
  const udp = r.integer('INGEST_SYSLOG_UDP_PORT', 0, { min: 0, max: 65535 });
  const tcp = r.integer('INGEST_SYSLOG_TCP_PORT', 0, { min: 0, max: 65535 });
  return {
    host: r.string('INGEST_SYSLOG_HOST', '127.0.0.1'),
    udpPort: udp === 0 ? undefined : udp,
    tcpPort: tcp === 0 ? undefined : tcp,
    maxMessageBytes: r.integer('INGEST_SYSLOG_MAX_MESSAGE_BYTES', 65_536, { min: 480, max: 1_048_576 }),
    maxConnections: r.integer('INGEST_SYSLOG_MAX_CONNECTIONS', 1000, { min: 1, max: 100_000 }),
    idleTimeoutMs: r.integer('INGEST_SYSLOG_IDLE_TIMEOUT_MS', 300_000, { min: 1000 }),
    maxQueueBytes: r.integer('INGEST_SYSLOG_MAX_QUEUE_BYTES', 33_554_432, { min: 1_048_576 }),
    maxBatchRecords: r.integer('INGEST_SYSLOG_BATCH_RECORDS', 1000, { min: 1, max: 100_000 }),
    lingerMs: r.integer('INGEST_SYSLOG_LINGER_MS', 20, { min: 0, max: 60_000 }),
  };
}

/** INGEST_HTTP_* and INGEST_SENSOR_TOKENS. */
export interface HttpIngestConfig extends HttpIngestOptions {
  /** INGEST_HTTP_PORT: 0 = endpoint off. @default 0 */
  port: number;
  /** INGEST_HTTP_HOST. @default '127.0.0.1' */
  host: string;
  /** INGEST_SENSOR_TOKENS: `<sensor id>:<sha256 hex of the token>` entries separated by `;`. @default [] */
  sensorTokens: SensorToken[];
  /**
   * MAMORI_INVENTORY_FILE: the sensor registry; its sensors' `ingest_token_sha256` authenticate too
   * (docs/ingest.md). Unset = INGEST_SENSOR_TOKENS only.
   */
  inventoryFile: string | undefined;
  /** MAMORI_INVENTORY_RELOAD_DEBOUNCE_MS: reload the registry this long after it changed; 0 = never. @default 500 */
  inventoryReloadDebounceMs: number;
}

function httpConfig(r: EnvReader): HttpIngestConfig {
  let sensorTokens: SensorToken[] = [];
  try {
    sensorTokens = parseSensorTokens(r.string('INGEST_SENSOR_TOKENS', ''));
  } catch (error) {
    r.problem((error as Error).message);
  }
  const port = r.integer('INGEST_HTTP_PORT', 0, { min: 0, max: 65535 });
  const inventoryFile = r.optionalString('MAMORI_INVENTORY_FILE');
  if (port !== 0 && sensorTokens.length === 0 && inventoryFile === undefined) {
    r.problem('INGEST_HTTP_PORT is set but no sensor could authenticate: set MAMORI_INVENTORY_FILE (sensors with ingest_token_sha256) or INGEST_SENSOR_TOKENS (<sensor id>:<sha256 hex of its token> entries)');
  }
  return {
    port,
    host: r.string('INGEST_HTTP_HOST', '127.0.0.1'),
    sensorTokens,
    inventoryFile,
    inventoryReloadDebounceMs: r.integer('MAMORI_INVENTORY_RELOAD_DEBOUNCE_MS', 500, { min: 0, max: 600_000 }),
    maxBodyBytes: r.integer('INGEST_HTTP_MAX_BODY_BYTES', 10_485_760, { min: 1024 }),
    maxDecompressedBytes: r.integer('INGEST_HTTP_MAX_DECOMPRESSED_BYTES', 67_108_864, { min: 1024 }),
    maxLines: r.integer('INGEST_HTTP_MAX_LINES', 100_000, { min: 1 }),
    maxLineBytes: r.integer('INGEST_HTTP_MAX_LINE_BYTES', 1_048_576, { min: 64 }),
    maxInflightBytes: r.integer('INGEST_HTTP_MAX_INFLIGHT_BYTES', 67_108_864, { min: 1024 }),
    retryAfterSeconds: r.integer('INGEST_HTTP_RETRY_AFTER_S', 5, { min: 1, max: 3600 }),
  };
}
