/**
 * Client faults, bounded: connections cut at random (TCP destroyed, no close frame) while
 * publishing; each reconnects with its positions and must recover: nothing lost, duplicated or
 * reordered (the load tester's gap detection), over both protocols. bench/chaos/clients.ts runs
 * 1,000 clients × 120 s (figures in docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { runLoadtest } from '../../src/apps/loadtest/main.js';
import { parseLoadtestArgs } from '../../src/apps/loadtest/options.js';
import { withChaosSeed } from '../testkit/chaos-seed.js';

const KEY = 'chaos-key';

for (const protocol of ['odin', 'centrifuge'] as const) {
  test(`random disconnects (${protocol}): 150 clients × 10 s, 15 cut per second, every one recovers, 0 lost/duplicated/reordered`, async () => {
    await withChaosSeed(`random disconnects (${protocol})`, async (seed) => {
      const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, logLevel: 'silent' });
      try {
        const o = parseLoadtestArgs([
          '--url',
          gw.url.replace('http', 'ws'),
          '--protocol',
          protocol,
          '--connections',
          '150',
          '--channels',
          'BTC.trade,ETH.trade,SOL.trade',
          '--channels-per-conn',
          '2',
          '--duration',
          '10',
          '--rate',
          '100',
          '--drop-rate',
          '15',
          '--api-key',
          KEY,
          '--workers',
          '2',
          '--seed',
          String(seed),
        ]);
        const r = await runLoadtest(o);
        process.stdout.write(
          `# ${protocol}: ${JSON.stringify({ sequence: r.sequence, reconnects: r.reconnects, recovery: r.recovery, disconnects: r.disconnects, delivered: r.messages.delivered })}\n`,
        );
        assert.equal(r.connect.established >= 150, true);
        assert.ok(r.reconnects >= 50, `connections were cut and came back (${r.reconnects})`);
        assert.ok(r.recovery.recovered >= 50, `recoveries (${r.recovery.recovered})`);
        assert.equal(r.recovery.notRecovered, 0, 'every reconnect recovered');
        assert.equal(r.sequence.missing, 0, 'nothing lost');
        assert.equal(r.sequence.duplicates, 0, 'nothing duplicated or reordered');
        assert.ok(r.publisher !== null && r.publisher.published >= 500);
      } finally {
        await gw.close();
      }
    });
  });
}
