import type * as Rdkafka from 'node-rdkafka';

export type RdkafkaModule = typeof Rdkafka;

let loading: Promise<RdkafkaModule> | undefined;

/**
 * node-rdkafka is a native addon: it is loaded on first connect, so importing this package (or a
 * service that can use either adapter) never loads librdkafka.
 */
export function loadRdkafka(): Promise<RdkafkaModule> {
  loading ??= import('node-rdkafka').then((mod) => ((mod as unknown as { default?: RdkafkaModule }).default ?? mod) as RdkafkaModule);
  return loading;
}

/** librdkafka error codes the adapter acts on (node-rdkafka's `CODES.ERRORS`). */
export const ERR = {
  TRANSPORT: -195,
  ALL_BROKERS_DOWN: -187,
  TIMED_OUT: -185,
  PARTITION_EOF: -191,
  QUEUE_FULL: -184,
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  RESOLVE: -193,
  UNKNOWN_TOPIC_OR_PART: 3,
  TOPIC_ALREADY_EXISTS: 36,
  OFFSET_INVALID: -1001,
} as const;
