import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/lib/runtime/clock.js';

test('systemClock: wall time near Date.now, monotonic time that never goes back', () => {
  assert.ok(Math.abs(systemClock.now() - Date.now()) < 1000, `${systemClock.now()} vs ${Date.now()}`);
  let last = systemClock.monotonic();
  for (let i = 0; i < 1000; i++) {
    const t = systemClock.monotonic();
    assert.ok(t >= last);
    last = t;
  }
});

test('systemClock: a timer fires once; a cleared one never; a background one does not hold the process', async () => {
  const cleared = systemClock.setTimeout(() => assert.fail('a cleared timer fired'), 1);
  systemClock.clearTimeout(cleared);
  let fired = 0;
  await new Promise<void>((resolve) => {
    systemClock.setTimeout(() => {
      fired++;
      resolve();
    }, 1);
  });
  assert.equal(fired, 1);
  const foreground = systemClock.setTimeout(() => undefined, 10_000) as NodeJS.Timeout;
  const background = systemClock.setTimeout(() => undefined, 10_000, { background: true }) as NodeJS.Timeout;
  assert.equal(foreground.hasRef(), true);
  assert.equal(background.hasRef(), false);
  systemClock.clearTimeout(foreground);
  systemClock.clearTimeout(background);
});
