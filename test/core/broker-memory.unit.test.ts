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

test('memory broker: a channel left by its last subscriber with empty history is freed; it comes back in a new epoch', async () => {
  const b = new MemoryBroker({ clock: new FakeClock(), sweepIntervalMs: 0 });
  await b.run({ onPublication: () => {} });
  await b.subscribe('x.trade');
  const e1 = (await b.history('x.trade', { limit: 0 })).position.epoch;
  assert.equal(b.usage.channels, 1);
  await b.unsubscribe('x.trade');
  assert.equal(b.usage.channels, 0);
  await b.subscribe('x.trade');
  assert.notEqual((await b.history('x.trade', { limit: 0 })).position.epoch, e1);
  // With history it stays until the history expires.
  await b.publish('x.trade', '1', { historySize: 10 });
  await b.unsubscribe('x.trade');
  assert.equal(b.usage.channels, 1);
  await b.close();
});

test('memory broker: the sweep drops expired history without a read, and frees the channel', async () => {
  const clock = new FakeClock(1_000_000);
  const b = new MemoryBroker({ clock, sweepIntervalMs: 0 });
  await b.publish('a.trade', '"aaaa"', { historySize: 10, historyTtlMs: 1000 });
  await b.publish('b.trade', '"bb"', { historySize: 10, historyTtlMs: 5000 });
  assert.deepEqual([b.usage.channels, b.usage.historyBytes], [2, 10]);
  clock.advance(1500);
  b.sweep();
  assert.deepEqual([b.usage.channels, b.usage.historyBytes], [1, 4]);
  clock.advance(5000);
  b.sweep();
  assert.deepEqual([b.usage.channels, b.usage.historyBytes], [0, 0]);
});

test('memory broker: a channel holding source fences is kept an idempotency window after its history empties', async () => {
  const clock = new FakeClock(1_000_000);
  const b = new MemoryBroker({ clock, sweepIntervalMs: 0, idempotencyWindowMs: 10_000 });
  await b.publish('k.trade', '1', { historySize: 0, source: { id: 't/0', seq: 5n } });
  b.sweep();
  assert.equal(b.usage.channels, 1);
  const dup = await b.publish('k.trade', '1', { historySize: 0, source: { id: 't/0', seq: 5n } });
  assert.equal(dup.duplicate, true);
  clock.advance(10_000);
  b.sweep();
  assert.equal(b.usage.channels, 0);
});

test('memory broker: maxChannels and maxHistoryBytes refuse with BrokerError limit, counted; ring eviction keeps the count exact', async () => {
  const b = new MemoryBroker({ clock: new FakeClock(), sweepIntervalMs: 0, maxChannels: 2, maxHistoryBytes: 2048 });
  await b.publish('a.trade', 'x'.repeat(1000), { historySize: 1 });
  await b.publish('a.trade', 'y'.repeat(1000), { historySize: 1 }); // replaces the first
  assert.equal(b.usage.historyBytes, 1000);
  await b.publish('b.trade', 'z'.repeat(1000), { historySize: 5 });
  await assert.rejects(
    b.publish('b.trade', 'w'.repeat(100), { historySize: 5 }),
    (e: unknown) => e instanceof BrokerError && e.code === 'limit',
  );
  await assert.rejects(b.publish('c.trade', '1', { historySize: 5 }), (e: unknown) => e instanceof BrokerError && e.code === 'limit');
  await assert.rejects(b.history('d.trade', { limit: 0 }), (e: unknown) => e instanceof BrokerError && e.code === 'limit');
  assert.deepEqual(b.usage.refusals, { channels: 2, history_bytes: 1 });
  // A subscribed channel still gets its epoch (the hub bounds those).
  await b.subscribe('e.trade');
  assert.ok((await b.history('e.trade', { limit: 0 })).position.epoch.length > 0);
  await b.removeHistory('b.trade');
  assert.equal(b.usage.historyBytes, 1000);
});

test('memory broker: a sweep visits at most 50,000 channels and the next goes on from there', async () => {
  const clock = new FakeClock(1_000_000);
  const b = new MemoryBroker({ clock, sweepIntervalMs: 0, maxChannels: 200_000 });
  for (let i = 0; i < 120_000; i++) await b.publish(`c${i}.trade`, '1', { historySize: 1, historyTtlMs: 10 });
  await b.subscribe('c5.trade');
  clock.advance(100);
  b.sweep();
  assert.equal(b.usage.channels, 70_001); // c5.trade, subscribed, is among the first 50,000 and stays
  b.sweep();
  assert.equal(b.usage.channels, 20_001);
  b.sweep();
  assert.equal(b.usage.channels, 1, 'only the subscribed one stays');
  assert.equal(b.usage.historyBytes, 0);
});
