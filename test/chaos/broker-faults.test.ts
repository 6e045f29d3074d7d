/**
 * Broker faults, bounded: a few SIGKILLs and restarts of the JetStream stream leader (3-node
 * cluster, R3) and of a single nats-server while publishing. bench/chaos/broker.ts runs the
 * same harness with 20 kills (figures in docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBrokerChaos, type BrokerChaosResult } from '../testkit/chaos.js';

const log = (line: string): void => void process.stdout.write(line + '\n');

function assertNothingLost(r: BrokerChaosResult): void {
  log(`# ${JSON.stringify(r)}`);
  assert.ok(r.acked > 0, 'publications were acknowledged');
  assert.equal(r.lost, 0, 'no acknowledged publication lost');
  assert.equal(r.duplicated, 0, 'none delivered twice');
  assert.equal(r.reordered, 0, 'none out of order');
  assert.equal(r.offsetBreaks, 0, 'consecutive offsets, one epoch');
  assert.equal(r.notRecovered, 0, 'every reconnecting subscription recovered');
}

describe('broker faults while publishing (real nats-server, real centrifuge SDK clients)', () => {
  it('3-node cluster, R3 stream: the stream leader killed and restarted 3 times', async () => {
    const r = await runBrokerChaos({
      mode: 'r3',
      kills: 3,
      clientsPerChannel: 3,
      channels: 2,
      gateways: 2,
      downMs: 1_000,
      acksBetweenKills: 100,
      log,
    });
    assert.equal(r.kills, 3);
    assertNothingLost(r);
  });

  it('the only nats-server killed and restarted 2 times', async () => {
    const r = await runBrokerChaos({
      mode: 'single',
      kills: 2,
      clientsPerChannel: 3,
      channels: 2,
      gateways: 2,
      downMs: 1_000,
      acksBetweenKills: 100,
      log,
    });
    assert.equal(r.kills, 2);
    assertNothingLost(r);
  });
});
