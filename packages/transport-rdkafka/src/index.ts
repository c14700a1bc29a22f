export { createRdkafkaTransport, type RdkafkaTransportConfig } from './transport.ts';
