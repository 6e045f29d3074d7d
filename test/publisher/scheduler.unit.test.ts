import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planEvents, planRate, RateScheduler } from '../../src/lib/publisher/scheduler.js';
import { FakeClock } from '../testkit/fake-clock.js';

/** Records every emit call; accepts all unless `accept` says otherwise. */
function recorder(accept: (n: number) => number = (n) => n) {
  const calls: { n: number; at: number }[] = [];
  let total = 0;
  return {
    calls,
    get total() {
      return total;
    },
    emit(n: number, at: number): number {
      const a = accept(n);
      calls.push({ n, at });
      total += a;
      return a;
    },
  };
}

describe('rate plans', () => {
  it('integrates constant and ramp rates', () => {
    assert.equal(planEvents({ kind: 'constant', rate: 1000 }, 2500), 2500);
    const ramp = { kind: 'ramp', from: 100, to: 2000, overMs: 10_000 } as const;
    assert.equal(planRate(ramp, 0), 100);
    assert.equal(planRate(ramp, 5000), 1050);
    assert.equal(planRate(ramp, 20_000), 2000);
    // Trapezoid: (100 + 2000) / 2 * 10 s, then 2000/s.
    assert.equal(planEvents(ramp, 10_000), 10_500);
    assert.equal(planEvents(ramp, 12_000), 14_500);
  });
});

describe('RateScheduler (fake clock)', () => {
  for (const rate of [1, 20, 1000, 5000, 20_000]) {
    it(`emits exactly ${rate} events/s over 10 s, in small batches per tick`, () => {
      const clock = new FakeClock();
      const r = recorder();
      const s = new RateScheduler(clock, (n, t) => r.emit(n, t), { tickMs: 10 });
      s.start({ kind: 'constant', rate });
      clock.advance(10_000);
      assert.equal(r.total, rate * 10);
      assert.ok(Math.max(...r.calls.map((c) => c.n)) <= Math.ceil(rate / 100), 'one tick emits about rate × tick');
      s.stop();
      assert.equal(clock.pending, 0);
    });
  }

  it('late timers do not lower the rate: a late tick emits a bigger batch', () => {
    const clock = new FakeClock();
    const r = recorder();
    // Wrap the clock so every timer fires 37 ms late.
    const late = {
      now: () => clock.now(),
      monotonic: () => clock.monotonic(),
      setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms + 37),
      clearTimeout: (h: unknown) => clock.clearTimeout(h),
    };
    const s2 = new RateScheduler(late, (n, t) => r.emit(n, t), { tickMs: 10 });
    s2.start({ kind: 'constant', rate: 5000 });
    clock.advance(10_000);
    // Within one tick period (47 ms at 5000/s = 235 events) of the exact count.
    assert.ok(r.total <= 50_000 && r.total >= 50_000 - 235, `emitted ${r.total}`);
    s2.stop();
  });

  it('follows a ramp', () => {
    const clock = new FakeClock();
    const r = recorder();
    const s = new RateScheduler(clock, (n, t) => r.emit(n, t), { tickMs: 10 });
    s.start({ kind: 'ramp', from: 100, to: 2000, overMs: 10_000 });
    clock.advance(1000);
    const firstSecond = r.total;
    clock.advance(9000);
    assert.ok(Math.abs(firstSecond - planEvents({ kind: 'ramp', from: 100, to: 2000, overMs: 10_000 }, 1000)) <= 1);
    assert.equal(r.total, 10_500);
    clock.advance(1000);
    assert.equal(r.total, 12_500);
    assert.equal(s.targetRate, 2000);
    s.stop();
  });

  it('stops by itself after the duration, with exactly rate × duration events', () => {
    const clock = new FakeClock();
    const r = recorder();
    let ended = 0;
    const s = new RateScheduler(clock, (n, t) => r.emit(n, t), { tickMs: 10 });
    s.start({ kind: 'constant', rate: 1000 }, 3000, () => ended++);
    clock.advance(2999);
    assert.equal(ended, 0);
    clock.advance(100);
    assert.equal(ended, 1);
    assert.equal(s.running, false);
    assert.equal(r.total, 3000);
    assert.equal(clock.pending, 0);
    clock.advance(5000);
    assert.equal(r.total, 3000);
  });

  it('changes rate without restart (setPlan)', () => {
    const clock = new FakeClock();
    const r = recorder();
    const s = new RateScheduler(clock, (n, t) => r.emit(n, t), { tickMs: 10 });
    s.start({ kind: 'constant', rate: 1000 });
    clock.advance(2000);
    s.setPlan({ kind: 'constant', rate: 3000 });
    clock.advance(2000);
    assert.equal(r.total, 2000 + 6000);
    s.stop();
  });

  it('keeps at most maxDebtMs of backlog while the sink refuses, and counts the rest as dropped', () => {
    const clock = new FakeClock();
    let open = false;
    const r = recorder((n) => (open ? n : 0));
    const s = new RateScheduler(clock, (n, t) => r.emit(n, t), { tickMs: 10, maxDebtMs: 1000 });
    s.start({ kind: 'constant', rate: 1000 });
    clock.advance(5000);
    assert.equal(r.total, 0);
    open = true;
    clock.advance(10);
    // The first open tick sends the kept backlog (1 s) at once, not 5 s of it.
    assert.ok(r.calls.at(-1)!.n <= 1000 + 10, `burst of ${r.calls.at(-1)!.n}`);
    clock.advance(990);
    assert.equal(r.total + s.dropped, 6000);
    assert.ok(s.dropped >= 3990 && s.dropped <= 4010, `dropped ${s.dropped}`);
    s.stop();
  });

  it('caps one tick at maxBatch and catches up on the next ticks', () => {
    const clock = new FakeClock();
    const r = recorder();
    const s = new RateScheduler(clock, (n, t) => r.emit(n, t), { tickMs: 10, maxBatch: 30, maxDebtMs: 10_000 });
    s.start({ kind: 'constant', rate: 5000 });
    clock.advance(1000);
    assert.ok(r.calls.every((c) => c.n <= 30));
    // 30 per 10 ms = 3000/s cap; the backlog grows but is kept (maxDebtMs 10 s).
    assert.equal(r.total, 3000);
    s.stop();
  });
});
