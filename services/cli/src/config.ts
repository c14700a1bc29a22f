import { isAbsolute, resolve } from 'node:path';
import { EnvReader, type Env } from '@mamori/core';
import { DEAD_LETTER_MAX_MESSAGE_BYTES } from '@mamori/pipeline';

/** Settings shared by every service a `mamori` process runs. Documented in docs/configuration.md. */
export interface RuntimeConfig {
  /** KAFKA_BROKERS: comma-separated host:port. @default '127.0.0.1:9092' */
  kafkaBrokers: string[];
  /** MAMORI_TRANSPORT: Kafka client. @default 'kafkajs' (docs/benchmarks.md) */
  transport: 'kafkajs' | 'rdkafka';
  /** MAMORI_TOPIC_PARTITIONS: partitions of topics Mamori creates. @default 3 */
  topicPartitions: number;
  /** MAMORI_REPLICATION_FACTOR: replication of topics Mamori creates; unset = broker default. */
  replicationFactor: number | undefined;
  /**
   * MAMORI_DLQ_MAX_MESSAGE_BYTES: `max.message.bytes` of the dead-letter topic when Mamori creates it,
   * and the size stages cut a dead letter to (a pre-created topic: set it to that topic's limit).
   * @default 8388608 (8 MiB)
   */
  dlqMaxMessageBytes: number;
  storage:
    | { kind: 'chdb'; path: string; database: string; sessions: number; uncompressedCacheMb: number }
    | { kind: 'clickhouse'; url: string; database: string; username: string | undefined; password: string | undefined };
  /** METRICS_HOST / METRICS_PORT: the ops server (/metrics, /healthz, /readyz). @default 127.0.0.1:9464 */
  metricsHost: string;
  metricsPort: number;
  /** SHUTDOWN_TIMEOUT_MS: bound on draining at SIGTERM. @default 30000 */
  shutdownTimeoutMs: number;
  /** METRICS_LAG_INTERVAL_MS: how often consumer lag is read. @default 15000 */
  lagIntervalMs: number;
  /** MAMORI_DEFAULT_ORG: organization of records from sensors without a registry entry. @default 'default' */
  defaultOrg: string;
  /**
   * SCHEMA_REGISTRY_URL (+ SCHEMA_REGISTRY_USER / SCHEMA_REGISTRY_PASSWORD): when set, Avro values are
   * written with Confluent framing under ids from this registry; unset = single-object encoding.
   */
  schemaRegistry: { url: string; username: string | undefined; password: string | undefined } | undefined;
}

export function loadRuntimeConfig(env: Env, cwd = process.cwd()): Readonly<RuntimeConfig> {
  const r = new EnvReader(env);
  const brokers = r.list('KAFKA_BROKERS', ['127.0.0.1:9092']);
  for (const broker of brokers) {
    if (!/^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$/.test(broker)) r.problem(`KAFKA_BROKERS entry ${JSON.stringify(broker)} must be host:port, e.g. 127.0.0.1:9092`);
  }
  const database = r.string('CLICKHOUSE_DATABASE', 'mamori');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(database)) r.problem(`CLICKHOUSE_DATABASE=${JSON.stringify(database)} must be a plain identifier`);
  const url = r.optionalString('CLICKHOUSE_URL');
  let storage: RuntimeConfig['storage'];
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      r.problem(`CLICKHOUSE_URL is not a valid http(s) URL (e.g. http://127.0.0.1:8123); unset it to use embedded chDB`);
    }
    storage = { kind: 'clickhouse', url, database, username: r.optionalString('CLICKHOUSE_USER'), password: r.optionalString('CLICKHOUSE_PASSWORD') };
  } else {
    const dir = r.string('MAMORI_DATA_DIR', '.mamori/data');
    storage = {
      kind: 'chdb',
      path: resolve(isAbsolute(dir) ? dir : resolve(cwd, dir), 'chdb'),
      database,
      sessions: r.integer('MAMORI_CHDB_SESSIONS', 4, { min: 1, max: 64 }),
      uncompressedCacheMb: r.integer('MAMORI_CHDB_UNCOMPRESSED_CACHE_MB', 256, { min: 0, max: 1_048_576 }),
    };
  }
  const rf = r.integer('MAMORI_REPLICATION_FACTOR', 0, { min: 0, max: 16 });
  const registryUrl = r.optionalString('SCHEMA_REGISTRY_URL');
  if (registryUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(registryUrl)) {
    r.problem('SCHEMA_REGISTRY_URL must be an http(s) URL, e.g. http://127.0.0.1:8081; unset it to use single-object encoding');
  }
  return r.done({
    kafkaBrokers: brokers,
    transport: r.oneOf('MAMORI_TRANSPORT', ['kafkajs', 'rdkafka'] as const, 'kafkajs'),
    topicPartitions: r.integer('MAMORI_TOPIC_PARTITIONS', 3, { min: 1, max: 1024 }),
    replicationFactor: rf === 0 ? undefined : rf,
    dlqMaxMessageBytes: r.integer('MAMORI_DLQ_MAX_MESSAGE_BYTES', DEAD_LETTER_MAX_MESSAGE_BYTES, { min: 65_536, max: 100 * 1024 * 1024 }),
    storage,
    metricsHost: r.string('METRICS_HOST', '127.0.0.1'),
    metricsPort: r.integer('METRICS_PORT', 9464, { min: 0, max: 65_535 }),
    shutdownTimeoutMs: r.integer('SHUTDOWN_TIMEOUT_MS', 30_000, { min: 1000, max: 600_000 }),
    lagIntervalMs: r.integer('METRICS_LAG_INTERVAL_MS', 15_000, { min: 1000, max: 3_600_000 }),
    defaultOrg: r.string('MAMORI_DEFAULT_ORG', 'default'),
    schemaRegistry:
      registryUrl === undefined
        ? undefined
        : { url: registryUrl, username: r.optionalString('SCHEMA_REGISTRY_USER'), password: r.optionalString('SCHEMA_REGISTRY_PASSWORD') },
  });
}
