import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { BrokerError, type Publication } from '../../src/lib/core/broker.js';
import { FakeClock } from '../testkit/fake-clock.js';

test('memory broker: offsets 1,2,3 per channel, one epoch per channel, delivery in order to a subscribed node', async () => {
  const b = new MemoryBroker({ clock: new FakeClock() });
  const got: Publication[] = [];
  await b.run({ onPublication: (p) => got.push(p) });
  await b.subscribe('BTC.trade');
  const p1 = await b.publish('BTC.trade', '{"a":1}', { historySize: 10 });
  const p2 = await b.publish('BTC.trade', '{"a":2}', { historySize: 10 });
  const e1 = await b.publish('ETH.trade', '{"a":3}', { historySize: 10 });
  assert.equal(p1.offset, 1);
  assert.equal(p2.offset, 2);
  assert.equal(e1.offset, 1);
  assert.equal(p1.epoch, p2.epoch);
  assert.deepEqual(
    got.map((p) => [p.channel, p.offset, p.data]),
    [
      ['BTC.trade', 1, '{"a":1}'],
      ['BTC.trade', 2, '{"a":2}'],
    ],
  );
  await b.unsubscribe('BTC.trade');
  await b.publish('BTC.trade', '{}', { historySize: 10 });
  assert.equal(got.length, 2);
});

test('memory broker: idempotency key returns the first position and publishes once', async () => {
  const b = new MemoryBroker({ clock: new FakeClock() });
  const got: Publication[] = [];
  await b.run({ onPublication: (p) => got.push(p) });
  await b.subscribe('c.trade');
  const a = await b.publish('c.trade', '1', { idempotencyKey: 'k1', historySize: 10 });
  const again = await b.publish('c.trade', '1', { idempotencyKey: 'k1', historySize: 10 });
  assert.deepEqual(again, a);
  assert.equal(got.length, 1);
});

test('memory broker: history limit, reverse, since; removeHistory starts a new epoch', async () => {
  const b = new MemoryBroker({ clock: new FakeClock() });
  let last = { offset: 0, epoch: '' };
  for (let i = 0; i < 10; i++) last = await b.publish('c.trade', String(i), { historySize: 5 });
  const h = await b.history('c.trade', { limit: 3 });
  assert.deepEqual(
    h.publications.map((p) => p.offset),
    [6, 7, 8],
  );
  assert.deepEqual(h.position, last);
  const r = await b.history('c.trade', { limit: 2, reverse: true });
  assert.deepEqual(
    r.publications.map((p) => p.offset),
    [10, 9],
  );
  const s = await b.history('c.trade', { limit: 10, since: { offset: 8, epoch: last.epoch } });
  assert.deepEqual(
    s.publications.map((p) => p.offset),
    [9, 10],
  );
  await b.removeHistory('c.trade');
  const after = await b.publish('c.trade', '{}', { historySize: 5 });
  assert.equal(after.offset, 1);
  assert.notEqual(after.epoch, last.epoch);
});

test('memory broker: a closed broker refuses publications with a BrokerError', async () => {
  const b = new MemoryBroker({ clock: new FakeClock() });
  await b.close();
  await assert.rejects(b.publish('c.trade', '{}'), (e: unknown) => e instanceof BrokerError && e.code === 'closed');
  assert.equal(b.isReady(), false);
  await b.close();
});

test('memory broker: an idempotency key is forgotten after its window, and pruning keeps later keys', async () => {
  const clock = new FakeClock(0);
  const b = new MemoryBroker({ idempotencyWindowMs: 1000, clock });
  const first = await b.publish('c.trade', '1', { idempotencyKey: 'a', historySize: 10 });
  clock.advance(500);
  const second = await b.publish('c.trade', '2', { idempotencyKey: 'b', historySize: 10 });
  clock.advance(700); // now 1200: 'a' expired, 'b' not
  const againA = await b.publish('c.trade', '1', { idempotencyKey: 'a', historySize: 10 });
  assert.equal(againA.offset, first.offset + 2);
  const againB = await b.publish('c.trade', '2', { idempotencyKey: 'b', historySize: 10 });
  assert.deepEqual(againB, second);
});
