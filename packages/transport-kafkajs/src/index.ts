export { createKafkajsTransport, type KafkajsTransportConfig } from './transport.ts';
export type { KafkajsConsumerTuning } from './consumer.ts';
