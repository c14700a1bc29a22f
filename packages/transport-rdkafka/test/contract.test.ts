import { runTransportContract } from '@mamori/transport/contract';
import { createRdkafkaTransport } from '../src/index.ts';

// node-rdkafka 3.6.1 sends header values as NUL-terminated UTF-8 strings (see src/producer.ts).
runTransportContract('rdkafka', (brokers) => createRdkafkaTransport({ brokers, clientId: 'contract-rdkafka' }), { binaryHeaderValues: false });
