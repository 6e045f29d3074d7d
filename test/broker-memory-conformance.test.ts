import { MemoryBroker } from '../src/lib/core/broker-memory.js';
import { runBrokerConformance } from './broker-conformance.js';

runBrokerConformance('MemoryBroker', () => new MemoryBroker());
