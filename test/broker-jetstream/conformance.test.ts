import { after, before } from 'node:test';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { runBrokerConformance } from '../broker-conformance.js';

let nats: NatsServerHandle | undefined;
before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats?.stop();
});

runBrokerConformance(
  'JetStreamBroker',
  () => {
    if (!nats) throw new Error('nats-server not started');
    return new JetStreamBroker({ servers: nats.url, stream: 'CONFORMANCE' });
  },
  { shared: true },
);
