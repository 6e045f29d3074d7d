import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { decideRecovery } from '../../src/lib/core/recovery.js';
import type { StreamPosition } from '../../src/lib/core/broker.js';
import { FakeClock } from '../testkit/fake-clock.js';

async function brokerWith(n: number, opts: { size?: number; ttlMs?: number } = {}): Promise<{ broker: MemoryBroker; top: StreamPosition }> {
  const broker = new MemoryBroker({ clock: new FakeClock() });
  let top: StreamPosition = { offset: 0, epoch: '' };
  for (let i = 1; i <= n; i++)
    top = await broker.publish('BTC.trade', JSON.stringify({ i }), { historySize: opts.size ?? 100, historyTtlMs: opts.ttlMs ?? 60_000 });
  return { broker, top };
}

async function recover(broker: MemoryBroker, since: StreamPosition, max = 100) {
  const h = await broker.history('BTC.trade', { since, limit: max });
  return decideRecovery(since, h, max);
}

test('recovery: gap inside the history window returns every missed publication in order', async () => {
  const { broker, top } = await brokerWith(20);
  const r = await recover(broker, { offset: 12, epoch: top.epoch });
  assert.equal(r.recovered, true);
  assert.deepEqual(
    r.publications.map((p) => p.offset),
    [13, 14, 15, 16, 17, 18, 19, 20],
  );
  assert.deepEqual(
    r.publications.map((p) => JSON.parse(p.data).i),
    [13, 14, 15, 16, 17, 18, 19, 20],
  );
});

test('recovery: nothing missed is a recovery with no publications', async () => {
  const { broker, top } = await brokerWith(5);
  const r = await recover(broker, top);
  assert.equal(r.recovered, true);
  assert.equal(r.publications.length, 0);
});

test('recovery: a gap that fell out of the history (size) is not recovered, and nothing partial is given', async () => {
  const { broker, top } = await brokerWith(30, { size: 10 });
  const r = await recover(broker, { offset: 5, epoch: top.epoch });
  assert.equal(r.recovered, false);
  assert.equal(r.publications.length, 0);
  // The edge: exactly the oldest kept one is still recoverable.
  const edge = await recover(broker, { offset: 20, epoch: top.epoch });
  assert.equal(edge.recovered, true);
  assert.equal(edge.publications.length, 10);
  const over = await recover(broker, { offset: 19, epoch: top.epoch });
  assert.equal(over.recovered, false);
});

test('recovery: another epoch is not recovered', async () => {
  const { broker } = await brokerWith(5);
  const r = await recover(broker, { offset: 2, epoch: 'someotherepoch' });
  assert.equal(r.recovered, false);
  assert.equal(r.publications.length, 0);
});

test('recovery: a position in the future is not recovered', async () => {
  const { broker, top } = await brokerWith(5);
  const r = await recover(broker, { offset: 9, epoch: top.epoch });
  assert.equal(r.recovered, false);
});

test('recovery: more missed than the limit is not recovered', async () => {
  const { broker, top } = await brokerWith(50);
  const r = await recover(broker, { offset: 10, epoch: top.epoch }, 20);
  assert.equal(r.recovered, false);
  assert.equal(r.publications.length, 0);
  const ok = await recover(broker, { offset: 30, epoch: top.epoch }, 20);
  assert.equal(ok.recovered, true);
  assert.equal(ok.publications.length, 20);
});

test('recovery: publications expired by TTL are not recovered', async () => {
  const clock = new FakeClock(1_000_000);
  const broker = new MemoryBroker({ clock });
  let top: StreamPosition = { offset: 0, epoch: '' };
  for (let i = 1; i <= 5; i++) {
    top = await broker.publish('BTC.trade', '{}', { historySize: 100, historyTtlMs: 1000 });
    clock.advance(400);
  }
  // Offsets 1..5 published at t0, t0+400, ... t0+1600; now = t0+2000: 1,2 expired (older than 1000 ms).
  const gone = await recover(broker, { offset: 1, epoch: top.epoch });
  assert.equal(gone.recovered, false);
  const kept = await recover(broker, { offset: 3, epoch: top.epoch });
  assert.equal(kept.recovered, true);
  assert.deepEqual(
    kept.publications.map((p) => p.offset),
    [4, 5],
  );
});

test('recovery: a restarted memory broker has a new epoch', async () => {
  const a = await brokerWith(3);
  const b = await brokerWith(3);
  assert.notEqual(a.top.epoch, b.top.epoch);
  const r = await recover(b.broker, a.top);
  assert.equal(r.recovered, false);
});

test('decideRecovery refuses a history with a hole even when the count matches', () => {
  const pub = (offset: number) => ({ channel: 'c', offset, epoch: 'e', data: '{}', time: 0 });
  const r = decideRecovery({ offset: 1, epoch: 'e' }, { publications: [pub(2), pub(4)], position: { offset: 3, epoch: 'e' } }, 10);
  assert.equal(r.recovered, false);
});
