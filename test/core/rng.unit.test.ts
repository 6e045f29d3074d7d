import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomSeed, Rng, seedFor } from '../../src/lib/core/rng.js';

const draws = (seed: number, n = 20): number[] => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => r.next());
};

test('the same seed draws the same sequence; another seed another one', () => {
  assert.deepEqual(draws(12345), draws(12345));
  assert.notDeepEqual(draws(12345), draws(12346));
  for (const x of draws(7, 1000)) assert.ok(x >= 0 && x < 1, String(x));
  const r = new Rng(9);
  for (let i = 0; i < 1000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7, String(k));
  }
});

test('seedFor: one run seed gives each stream (worker) its own seed, the same on replay', () => {
  const seeds = Array.from({ length: 100 }, (_, n) => seedFor(424242, n));
  assert.equal(new Set(seeds).size, 100, 'distinct per stream');
  assert.deepEqual(
    seeds,
    Array.from({ length: 100 }, (_, n) => seedFor(424242, n)),
  );
  for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
  assert.notEqual(seedFor(1, 0), seedFor(2, 0));
});

test('randomSeed: an unsigned 32-bit integer', () => {
  for (let i = 0; i < 20; i++) {
    const s = randomSeed();
    assert.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff, String(s));
  }
});
