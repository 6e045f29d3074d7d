/**
 * New connections per address (core/connection-rate.ts) and the token bucket under it, on a
 * fake clock: the burst, the refill, the wait it reports, and the bound on addresses kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRate } from '../../src/lib/core/connection-rate.js';
import { TokenBucket } from '../../src/lib/core/token-bucket.js';

test('a burst at once, then the rate; the refusal says how long until the next one', () => {
  let t = 1_000_000;
  const rate = new ConnectionRate(2, 3, () => t);
  assert.deepEqual([rate.take('a'), rate.take('a'), rate.take('a')], [0, 0, 0]);
  assert.equal(rate.take('a'), 500); // 2/s: one more after 500 ms
  assert.equal(rate.take('b'), 0, 'another address has its own bucket');
  t += 250;
  assert.equal(rate.take('a'), 250);
  t += 250;
  assert.equal(rate.take('a'), 0);
  assert.equal(rate.take('a'), 500);
  t += 10_000; // refilled to the burst, not beyond
  assert.deepEqual([rate.take('a'), rate.take('a'), rate.take('a'), rate.take('a') > 0], [0, 0, 0, true]);
});

test('addresses kept are bounded: refilled buckets are forgotten first, then the oldest, down to three quarters', () => {
  let t = 0;
  const rate = new ConnectionRate(1, 1, () => t, 8);
  for (let i = 0; i < 8; i++) rate.take(`ip${i}`);
  assert.equal(rate.size, 8);
  t += 500; // nobody refilled yet: the oldest go
  rate.take('new1');
  assert.ok(rate.size <= 7, `size ${rate.size}`);
  // The newest are still remembered: ip7 is still limited.
  assert.ok(rate.take('ip7') > 0);
  t += 5_000; // everyone refilled: all forgotten at the next sweep
  for (let i = 0; rate.size < 8; i++) rate.take(`more${i}`);
  rate.take('last');
  assert.ok(rate.size <= 6, `size ${rate.size}`);
});

test('TokenBucket: overdrawn by take, available again after the refill', () => {
  const b = new TokenBucket(100, 100, 0);
  b.take(150);
  assert.equal(b.available, false);
  b.refill(600);
  assert.equal(b.available, true);
  assert.equal(b.full, false);
  b.refill(5_000);
  assert.equal(b.full, true);
});
