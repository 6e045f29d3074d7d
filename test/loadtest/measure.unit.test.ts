import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram, HISTOGRAM_MAX_US } from '../../src/lib/histogram/histogram.js';
import { ChannelPosition, emptyCounts } from '../../src/lib/loadtest/sequence.js';
import { checkThresholds, parseThresholds, ThresholdError, type ThresholdInputs } from '../../src/lib/loadtest/thresholds.js';
import { publicationsDue, BURST_FACTOR, BURST_MS, BURST_PERIOD_MS } from '../../src/lib/loadtest/publisher.js';

/** Within HDR's 3 significant digits. */
function near(actual: number, expected: number, rel = 0.002): void {
  assert.ok(Math.abs(actual - expected) <= Math.max(1e-9, Math.abs(expected) * rel), `${actual} not within ${rel * 100}% of ${expected}`);
}

test('histogram: percentiles of 1..10000 µs are exact to 3 significant digits, reported in ms', () => {
  const h = new LatencyHistogram();
  for (let v = 1; v <= 10_000; v++) h.record(v);
  const s = h.summary();
  assert.equal(s.count, 10_000);
  near(s.p50, 5);
  near(s.p90, 9);
  near(s.p99, 9.9);
  near(s.p999, 9.99);
  near(s.max, 10);
  near(s.mean, 5.0005);
});

test('histogram: negative values count as 0, huge ones are clamped, empty summary is zeros', () => {
  const h = new LatencyHistogram();
  assert.deepEqual(h.summary(), { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  h.record(-5);
  h.record(HISTOGRAM_MAX_US * 10);
  assert.equal(h.count, 2);
  assert.equal(h.percentileUs(1), 0);
  near(h.maxUs, HISTOGRAM_MAX_US);
});

test('histogram: encode → mergeEncoded adds counts exactly as a direct merge does', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 0; i < 1000; i++) a.record(100 + i);
  for (let i = 0; i < 3000; i++) b.record(5000 + i);
  const viaWire = new LatencyHistogram();
  viaWire.mergeEncoded(a.encode());
  viaWire.mergeEncoded(b.encode());
  viaWire.mergeEncoded(new LatencyHistogram().encode());
  const direct = new LatencyHistogram();
  direct.merge(a);
  direct.merge(b);
  assert.equal(viaWire.count, 4000);
  assert.deepEqual(viaWire.summary(), direct.summary());
  // A quarter of the values are below 1.1 ms: p25 is at the top of a's range.
  near(viaWire.percentileUs(25), 1099);
});

test('sequence: in-order, gaps (with the number missing) and duplicates from offsets', () => {
  const c = emptyCounts();
  const p = new ChannelPosition();
  for (const o of [5, 6, 7, 10, 10, 9, 11, 15]) p.observe(o, c);
  // 5 starts; 6,7 in order; 10 gap of 2 (8,9); 10 and 9 duplicates; 11 in order; 15 gap of 3.
  assert.deepEqual(c, { inOrder: 4, missing: 5, duplicates: 2, gaps: 2 });
});

test('sequence: a position from the subscribe ack makes a missing first publication count', () => {
  const c = emptyCounts();
  const p = new ChannelPosition();
  p.reset(100, 'e1');
  p.observe(103, c);
  assert.deepEqual(c, { inOrder: 0, missing: 2, duplicates: 0, gaps: 1 });
  p.reset(0, 'e2');
  p.observe(1, c);
  assert.equal(c.inOrder, 1);
});

test('thresholds: parse units, %, aliases; check pass and fail', () => {
  const t = parseThresholds('p99<50ms, loss=0, failed<=1%, p99.9 < 0.2s, max<=500000us, rate>=10k');
  assert.deepEqual(
    t.map((x) => [x.metric, x.op, x.value]),
    [
      ['p99', '<', 50],
      ['loss', '=', 0],
      ['failed', '<=', 0.01],
      ['p999', '<', 200],
      ['max', '<=', 500],
      ['rate', '>=', 10_000],
    ],
  );
  const m: ThresholdInputs = {
    latencyMs: { p50: 1, p90: 2, p99: 49.9, p999: 250, max: 400 },
    connectP99Ms: 3,
    missing: 0,
    delivered: 1000,
    duplicates: 0,
    failed: 1,
    attempted: 100,
    disconnects: 0,
    ratePerSecond: 12_000,
  };
  const r = checkThresholds(t, m);
  assert.deepEqual(
    r.map((x) => x.ok),
    [true, true, true, false, true, true],
  );
  assert.equal(r[3]!.actual, 250);
  assert.equal(checkThresholds(parseThresholds('loss<0.1%'), { ...m, missing: 2, delivered: 998 })[0]!.ok, false);
});

test('thresholds: bad items name themselves', () => {
  assert.throws(
    () => parseThresholds('p99'),
    (e: unknown) => e instanceof ThresholdError && /"p99"/.test(e.message),
  );
  assert.throws(() => parseThresholds('latency<5ms'), /unknown metric "latency"/);
  assert.throws(() => parseThresholds('loss<5ms'), /not a time/);
  assert.throws(() => parseThresholds('p99<5%'), /is a time/);
  assert.deepEqual(parseThresholds(''), []);
});

test('publisher profiles: sustained, ramp and burst publish the expected totals', () => {
  assert.equal(publicationsDue('sustained', 100, 10_000, 2500), 250);
  assert.equal(publicationsDue('sustained', 100, 10_000, 20_000), 1000);
  // Ramp 0 → 100/s over 10 s: half of the sustained total.
  assert.equal(publicationsDue('ramp', 100, 10_000, 10_000), 500);
  assert.equal(publicationsDue('ramp', 100, 10_000, 5000), 125);
  // Burst: BURST_FACTOR × rate for BURST_MS in every period.
  const perPeriod = (100 * (BURST_PERIOD_MS + (BURST_FACTOR - 1) * BURST_MS)) / 1000;
  assert.equal(publicationsDue('burst', 100, 60_000, BURST_PERIOD_MS), perPeriod);
  assert.equal(publicationsDue('burst', 100, 60_000, BURST_MS), (100 * BURST_FACTOR * BURST_MS) / 1000);
});
