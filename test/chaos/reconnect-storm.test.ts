/**
 * Reconnect storm, bounded: a gateway on the JetStream broker restarts under 300 load-tester
 * Odin clients and 10 real centrifuge SDK clients; all reconnect at once and recover. A small
 * recovery cap (2 at once, 4 waiting) makes the storm queue and refuse: the cap must hold (the
 * peak on /metrics), refused clients retry after the server's hint, and every subscriber ends
 * with every publication of the stream exactly once, in order, within a bounded time.
 * bench/chaos/clients.ts `storm` runs it at 1,000+ clients (docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withChaosSeed } from '../testkit/chaos-seed.js';
import { runReconnectStorm } from '../testkit/storm.js';

test('reconnect storm on JetStream: 300 Odin + 10 SDK clients back at once, recovery cap respected, nothing lost or duplicated', async () => {
  await withChaosSeed('reconnect storm', async (seed) => {
    const r = await runReconnectStorm({
      connections: 300,
      sdkClients: 10,
      rate: 40,
      beforeMs: 3_000,
      allBackTimeoutMs: 60_000,
      seed,
      gateway: { recovery: { maxConcurrent: 2, maxWaiting: 4 }, reconnect: { minDelayMs: 200, maxDelayMs: 1500 } },
      log: (l) => process.stdout.write(l + '\n'),
    });
    const { odin } = r;
    process.stdout.write(
      `# ${JSON.stringify({ ...r, odin: { delivered: odin.delivered, reconnects: odin.reconnects, recovered: odin.recovered, notRecovered: odin.notRecovered, missing: odin.missing, duplicates: odin.duplicates, serverErrors: odin.serverErrors, failed: odin.failed } })}\n`,
    );
    assert.ok(r.slots.peak >= 1 && r.slots.peak <= 2, `at most 2 recoveries at once (peak ${r.slots.peak})`);
    assert.ok(r.allSubscribedAgainMs < 60_000);
    assert.ok(odin.reconnects >= 300, `every client reconnected (${odin.reconnects})`);
    assert.equal(odin.notRecovered, 0, 'every resubscription recovered');
    assert.ok(odin.recovered >= 600, `every subscription recovered (${odin.recovered})`);
    assert.equal(odin.missing, 0, 'nothing lost');
    assert.equal(odin.duplicates, 0, 'nothing duplicated or reordered');
    assert.ok(r.inStream > 0);
    assert.equal(odin.delivered, r.expectedDeliveries, 'each subscriber got every publication of its channels exactly once');
    assert.deepEqual(
      { lost: r.sdk.lost, duplicated: r.sdk.duplicated, reordered: r.sdk.reordered, notRecovered: r.sdk.notRecovered },
      { lost: 0, duplicated: 0, reordered: 0, notRecovered: 0 },
    );
  });
});
