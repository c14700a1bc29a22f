import { isIP } from 'node:net';
import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';

export interface IngestConfig {
  /** INGEST_SENSOR_ID: sensor id stamped on simulated records. @default 'sim-zeek-1' */
  sensorId: string;
  /** INGEST_SIMULATOR_RATE: simulated connections per second of wall clock. @default 100 */
  simulatorRate: number;
  /** INGEST_SIMULATOR_SEED. @default 1 */
  simulatorSeed: number;
  /** INGEST_SIMULATOR_ATTACKS: inject port scans every few minutes. @default true */
  simulatorAttacks: boolean;
  /** Raw topic for Zeek conn lines. */
  rawTopic: string;
  /** The NetFlow v5/v9/IPFIX UDP collector (docs/netflow.md); off when `port` is 0. */
  netflow: NetflowConfig;
}

export function loadIngestConfig(env: Env): Readonly<IngestConfig> {
  const r = new EnvReader(env);
  const sensorId = r.string('INGEST_SENSOR_ID', 'sim-zeek-1');
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(sensorId)) r.problem(`INGEST_SENSOR_ID=${JSON.stringify(sensorId)} may hold only letters, digits, '.', '_' and '-'`);
  return r.done({
    sensorId,
    simulatorRate: r.integer('INGEST_SIMULATOR_RATE', 100, { min: 1, max: 1_000_000 }),
    simulatorSeed: r.integer('INGEST_SIMULATOR_SEED', 1, { min: 0 }),
    simulatorAttacks: r.boolean('INGEST_SIMULATOR_ATTACKS', true),
    rawTopic: TOPICS.rawZeekConn,
    netflow: netflowConfig(r),
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
