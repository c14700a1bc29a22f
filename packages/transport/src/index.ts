export type {
  Admin,
  BatchHandler,
  ConsumedBatch,
  ConsumedMessage,
  Consumer,
  ConsumerOptions,
  HeaderValue,
  OutgoingMessage,
  Producer,
  ProducerOptions,
  TopicPartition,
  TopicSpec,
  Transport,
  TransportConfig,
} from './types.ts';
export { TRANSPORT_ERROR_CODES, TransportError, type TransportErrorCode } from './errors.ts';
export { redeliveryDelayMs, type BackoffOptions } from './backoff.ts';
export { murmur2, partitionForKey } from './murmur2.ts';
export { recordBytes } from './record-size.ts';
export { MemoryBroker, createMemoryTransport } from './memory.ts';
