import type { Logger } from '@mamori/core';
import type { StorageDriver } from '@mamori/storage';
import type { Transport } from '@mamori/transport';
import type { RuntimeConfig } from './config.ts';

/**
 * Builds the configured adapters. Native addons (node-rdkafka, chDB) are imported only when chosen,
 * so a process that needs neither never loads them.
 */
export async function createTransport(config: RuntimeConfig, logger?: Logger): Promise<Transport> {
  const settings = { brokers: config.kafkaBrokers, clientId: 'mamori', ...(logger ? { logger } : {}) };
  if (config.transport === 'rdkafka') {
    const { createRdkafkaTransport } = await import('@mamori/transport-rdkafka');
    return createRdkafkaTransport(settings);
  }
  const { createKafkajsTransport } = await import('@mamori/transport-kafkajs');
  return createKafkajsTransport(settings);
}

export async function createStorage(config: RuntimeConfig): Promise<StorageDriver> {
  const s = config.storage;
  if (s.kind === 'clickhouse') {
    const { createClickHouseStorage } = await import('@mamori/storage-clickhouse');
    return createClickHouseStorage({ url: s.url, database: s.database, username: s.username, password: s.password });
  }
  const { createChdbStorage } = await import('@mamori/storage-chdb');
  return createChdbStorage({ path: s.path, database: s.database, sessions: s.sessions, uncompressedCacheMb: s.uncompressedCacheMb });
}
