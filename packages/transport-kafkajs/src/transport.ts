import { createLogger, type Logger } from '@mamori/core';
import type { Transport, TransportConfig } from '@mamori/transport';
import kafkajs from 'kafkajs';
import { KafkajsAdmin } from './admin.ts';
import { KafkajsConsumer, type KafkajsConsumerTuning } from './consumer.ts';
import { pinoLogCreator } from './logging.ts';
import { KafkajsProducer } from './producer.ts';

const { Kafka, logLevel } = kafkajs;

export interface KafkajsTransportConfig extends TransportConfig, KafkajsConsumerTuning {
  /** Where kafkajs's own log lines go (warn and above). @default createLogger({ name: 'transport-kafkajs', level: 'warn' }) */
  logger?: Logger;
  /**
   * Upper bound on `connect()` of any client; with an unreachable cluster it fails with
   * KAFKA_UNREACHABLE after at most this long. @default 10000
   */
  connectTimeoutMs?: number;
}

/** A Transport over kafkajs (pure JavaScript, no native code). */
export function createKafkajsTransport(config: KafkajsTransportConfig): Transport {
  const brokers = [...config.brokers];
  const logger = config.logger ?? createLogger({ name: 'transport-kafkajs', level: 'warn' });
  const connectTimeoutMs = config.connectTimeoutMs ?? 10_000;
  const kafka = new Kafka({
    clientId: config.clientId ?? 'mamori',
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    // Connection refused fails after ~6 s (200+400+800+1600+3200 ms) instead of kafkajs's minutes.
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 5 },
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
  });
  return {
    name: 'kafkajs',
    producer: (options = {}) => new KafkajsProducer(kafka, options, brokers, connectTimeoutMs, logger),
    consumer: (options) => new KafkajsConsumer(kafka, options, config, brokers, connectTimeoutMs, logger),
    admin: () => new KafkajsAdmin(kafka, brokers, connectTimeoutMs),
  };
}
