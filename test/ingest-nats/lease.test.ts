/**
 * Several ingests on one feed with a lease (src/lib/ingest-nats/lease.ts): one reads at a
 * time, in the feed's order, and another takes over when it stops. Real nats-server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { PublishOptions, StreamPosition } from '../../src/lib/core/broker.js';
import { NatsIngest } from '../../src/lib/ingest-nats/nats-ingest.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { waitFor } from '../testkit/wait.js';

const enc = new TextEncoder();

describe('NatsIngest with a lease', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('one of three reads the feed, in order; when it stops another takes over', async () => {
    const got: { by: number; i: number }[] = [];
    const sink = (by: number) => ({
      publish: async (_ch: string, data: string, _o?: PublishOptions): Promise<StreamPosition> => {
        got.push({ by, i: (JSON.parse(data) as { i: number }).i });
        return { offset: got.length, epoch: 'e' };
      },
    });
    const subject = `odin-ws.lease.t${randomBytes(3).toString('hex')}`;
    const ings = [0, 1, 2].map(
      (k) => new NatsIngest({ servers: nats.url, broker: sink(k), lease: { subject, ttlMs: 900 }, clock: systemClock }),
    );
    try {
      for (const i of ings) await i.start();
      assert.deepEqual(
        ings.map((i) => i.health().reading),
        [true, false, false],
        'the first to start holds the lease; the others wait',
      );
      const sym = 'L' + randomBytes(3).toString('hex');
      for (let i = 0; i < 300; i++) nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ i })));
      await nc.flush();
      await waitFor(() => got.length >= 300, 5000, '300 ingested');
      assert.deepEqual(
        got.map((g) => g.i),
        Array.from({ length: 300 }, (_, i) => i),
        'each once, in the feed order',
      );
      assert.ok(got.every((g) => g.by === 0));

      await ings[0]!.stop();
      await waitFor(() => ings[1]!.health().reading || ings[2]!.health().reading, 5000, 'a successor reads');
      assert.equal(ings.filter((i) => i.health().reading).length, 1, 'exactly one reader');
      for (let i = 300; i < 400; i++) nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ i })));
      await nc.flush();
      await waitFor(() => got.length >= 400, 5000, '100 more ingested');
      assert.deepEqual(
        got.slice(300).map((g) => g.i),
        Array.from({ length: 100 }, (_, i) => 300 + i),
      );
      assert.equal(new Set(got.slice(300).map((g) => g.by)).size, 1, 'by one successor');
    } finally {
      for (const i of ings) await i.stop();
    }
  });
});
