import { createLogger, type Logger } from '@mamori/core';
import type { Transport, TransportConfig } from '@mamori/transport';
import { RdkafkaAdmin } from './admin.ts';
import { RdkafkaConsumer } from './consumer.ts';
import { RdkafkaProducer, type RdkafkaClientSettings } from './producer.ts';

export interface RdkafkaTransportConfig extends TransportConfig {
  /** Where librdkafka client errors go (warn). @default createLogger({ name: 'transport-rdkafka', level: 'warn' }) */
  logger?: Logger;
  /** Upper bound on `connect()`; an unreachable cluster fails with KAFKA_UNREACHABLE sooner. @default 10000 */
  connectTimeoutMs?: number;
  /** Extra librdkafka properties for every client, applied last (tuning, TLS, SASL). */
  librdkafka?: Record<string, string | number | boolean>;
}

/**
 * A Transport over node-rdkafka (librdkafka). The native module is loaded on the first `connect()`,
 * not when this package is imported.
 */
export function createRdkafkaTransport(config: RdkafkaTransportConfig): Transport {
  const settings: RdkafkaClientSettings = {
    brokers: [...config.brokers],
    clientId: config.clientId ?? 'mamori',
    connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
    logger: config.logger ?? createLogger({ name: 'transport-rdkafka', level: 'warn' }),
    ...(config.librdkafka === undefined ? {} : { librdkafka: config.librdkafka }),
  };
  return {
    name: 'rdkafka',
    producer: (options = {}) => new RdkafkaProducer(options, settings),
    consumer: (options) => new RdkafkaConsumer(options, settings),
    admin: () => new RdkafkaAdmin(settings),
  };
}
