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
export { TransportError } from './errors.ts';
