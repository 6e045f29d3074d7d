import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { runLoadtest } from '../../src/apps/loadtest/main.js';
import { parseLoadtestArgs } from '../../src/apps/loadtest/options.js';

const KEY = 'smoke-key';

for (const protocol of ['odin', 'centrifuge'] as const) {
  test(`loadtest smoke (${protocol}): a few connections against a real gateway, nothing lost, thresholds pass`, async () => {
    const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, logLevel: 'silent' });
    try {
      const o = parseLoadtestArgs([
        '--url',
        gw.url.replace('http', 'ws'),
        '--protocol',
        protocol,
        '--connections',
        '12',
        '--channels',
        'BTC.trade,ETH.trade,SOL.trade',
        '--channels-per-conn',
        '2',
        '--duration',
        '2',
        '--rate',
        '60',
        '--api-key',
        KEY,
        '--workers',
        '2',
        '--assert',
        'loss=0,duplicates=0,failed=0,p99<2s',
      ]);
      const r = await runLoadtest(o);
      assert.equal(r.connect.established, 12);
      assert.deepEqual(r.connect.failed, {});
      assert.ok(r.publisher !== null && r.publisher.published >= 100, `published ${r.publisher?.published}`);
      // 12 connections × 2 channels over 3 channels: 8 subscribers per channel.
      assert.equal(r.messages.delivered, r.publisher.published * 8);
      assert.equal(r.messages.tracked, r.messages.delivered);
      assert.equal(r.sequence.missing, 0);
      assert.equal(r.sequence.duplicates, 0);
      assert.equal(r.latencyMs.count, r.messages.delivered);
      assert.ok(
        r.thresholds.every((t) => t.ok),
        JSON.stringify(r.thresholds),
      );
    } finally {
      await gw.close();
    }
  });
}

test('loadtest args: presets, and usage errors name the flag', () => {
  const heavy = parseLoadtestArgs(['heavy']);
  assert.equal(heavy.connections, 2000);
  assert.equal(heavy.durationSeconds, 120);
  assert.equal(parseLoadtestArgs(['light', '--connections', '7']).connections, 7);
  assert.throws(() => parseLoadtestArgs(['--protocol', 'mqtt']), /--protocol/);
  assert.throws(() => parseLoadtestArgs(['--rate', '5']), /--rate: needs --api-key/);
  assert.throws(() => parseLoadtestArgs(['--assert', 'p99<']), /--assert/);
  assert.throws(() => parseLoadtestArgs(['extreme']), /unknown preset/);
});
