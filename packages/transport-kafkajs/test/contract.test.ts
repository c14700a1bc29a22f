import { runTransportContract } from '@mamori/transport/contract';
import { createKafkajsTransport } from '../src/index.ts';

runTransportContract('kafkajs', (brokers) => createKafkajsTransport({ brokers, clientId: 'contract-kafkajs' }));
