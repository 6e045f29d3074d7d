import { MemoryBroker } from '../src/lib/core/broker-memory.js';
import { runBrokerConformance } from './broker-conformance.js';
import { systemClock } from '../src/lib/runtime/clock.js';

runBrokerConformance('MemoryBroker', () => new MemoryBroker({ clock: systemClock }));
