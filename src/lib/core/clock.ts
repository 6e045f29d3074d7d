/** Time and timers, injected so that timing logic (the publisher's rate control, core's cadence) is tested with a fake clock. */
export interface Clock {
  /** Milliseconds since the Unix epoch; monotonic (never goes back), may be fractional. */
  now(): number;
  /** Calls `fn` once after about `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Wall time anchored once, then advanced by the monotonic clock, so NTP steps do not jump it. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
