import type { Clock, TimerHandle, TimerOptions } from '../core/clock.js';

/**
 * The process's clock: wall time anchored once and then advanced by the monotonic clock (so an
 * NTP step never moves it backwards), and Node's timers.
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => performance.timeOrigin + performance.now(),
  monotonic: (): number => performance.now(),
  setTimeout: (fn: () => void, ms: number, opts?: TimerOptions): TimerHandle => {
    const t = setTimeout(fn, ms);
    if (opts?.background === true) t.unref();
    return t;
  },
  clearTimeout: (handle: TimerHandle): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
