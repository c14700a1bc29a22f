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
  });
}
