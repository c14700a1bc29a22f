// Test harness: real Kafka for cross-service tests. Hand-written public surface (no `export *`).
export {
  CONTROLLER_PORT_OFFSET,
  DEFAULT_TEST_BASE_PORT,
  KAFKA_SCRIPT,
  KafkaHarnessError,
  freeBasePort,
  freePort,
  isPortFree,
  parseBrokerList,
  startLocalCluster,
  waitForKafka,
} from './kafka.ts';
export type { LocalCluster, LocalClusterOptions } from './kafka.ts';
export { dropTopics, metricValue, readTopic } from './topics.ts';
export type { KafkaSource } from './global-setup.ts';
