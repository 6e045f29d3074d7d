/**
 * Kafka broker faults, bounded: the only Kafka broker is killed (SIGKILL) and restarted while
 * records flow into a gateway (Kafka ingest, memory broker), and into two gateways sharing one
 * consumer group on JetStream (each restart makes the group rebalance while publications are in
 * flight); real centrifuge SDK clients subscribed throughout (some dropping their connection and
 * recovering at each kill) must hold every record the producer had acknowledged, once, in order,
 * at consecutive offsets (the same on both gateways).
 * bench/chaos/kafka.ts runs the same harness (test/testkit/kafka-chaos.ts) with 20 kills.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runKafkaChaos } from '../testkit/kafka-chaos.js';

describe('Kafka broker killed and restarted while records flow (real Kafka, real centrifuge SDK)', () => {
  it('2 kills: every acknowledged record delivered exactly once, in order, at consecutive offsets', async () => {
    const r = await runKafkaChaos({
      broker: 'memory',
      kills: 2,
      keys: 2,
      clientsPerKey: 2,
      downMs: 1_000,
      acksBetweenKills: 100,
      reconnectsPerKill: 1,
      partitions: 2,
      log: (l) => process.stdout.write(l + '\n'),
    });
    process.stdout.write(`kafka chaos (memory): ${JSON.stringify(r)}\n`);
    assert.ok(r.acked >= 300, `records acknowledged (${r.acked})`);
    assert.equal(r.duplicated, 0, 'no record delivered twice');
    assert.equal(r.lost, 0, 'no acknowledged record lost');
    assert.equal(r.reordered, 0, 'acknowledged records in the order they were produced');
    assert.equal(r.offsetBreaks, 0, 'consecutive offsets, one epoch');
    assert.equal(r.notRecovered, 0, 'every re-subscription recovered');
    assert.ok(r.resubscribes >= 2, 'clients came back with recovery');
  });

  it('JetStream, two gateways in one group, 1 kill: every acknowledged record once, in order, same offsets on both', async () => {
    const r = await runKafkaChaos({
      broker: 'jetstream',
      gateways: 2,
      kills: 1,
      keys: 4,
      clientsPerKey: 2,
      downMs: 1_000,
      acksBetweenKills: 100,
      reconnectsPerKill: 2,
      log: (l) => process.stdout.write(l + '\n'),
    });
    process.stdout.write(`kafka chaos (jetstream): ${JSON.stringify(r)}\n`);
    assert.ok(r.acked >= 200, `records acknowledged (${r.acked})`);
    assert.equal(r.duplicated, 0, 'no record delivered twice');
    assert.equal(r.lost, 0, 'no acknowledged record lost');
    assert.equal(r.reordered, 0, 'acknowledged records in the order they were produced');
    assert.equal(r.offsetBreaks, 0, 'consecutive offsets, one epoch, the same on both gateways');
    assert.equal(r.notRecovered, 0, 'every re-subscription recovered');
  });
});
