import { runTransportContract } from './contract.ts';
import { createMemoryTransport } from './memory.ts';

runTransportContract('memory', () => createMemoryTransport(), { brokers: [], checkUnreachable: false });
