/**
 * Time as a dependency. Core never reads the system clock or starts a timer itself: whoever builds
 * a Gateway, MemoryBroker or IngestTracker passes a `Clock` (`systemClock` in
 * src/lib/runtime/clock.ts for a process, test/testkit/fake-clock.ts in unit tests, where time
 * moves only when the test advances it). Ends of an event-loop turn (`setImmediate`) are not time
 * and stay as they are.
 */
export interface Clock {
  /** Wall time, ms since the Unix epoch; never goes back, may be fractional. */
  now(): number;
  /** ms from an arbitrary origin, for durations only (`performance.now()`-like). */
  monotonic(): number;
  /**
   * Calls `fn` once after about `ms` ms. A `background` timer does not by itself keep the process
   * alive (Node's `unref`): a deadline that serves a connection, which the transport keeps alive.
   */
  setTimeout(fn: () => void, ms: number, opts?: TimerOptions): TimerHandle;
  /** Cancels a timer; a handle that already fired or was cancelled is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerOptions {
  readonly background?: boolean;
}

/** Opaque: only the clock that made it knows what it is. */
export type TimerHandle = unknown;

/** Seconds since the Unix epoch on `clock`. */
export const nowSeconds = (clock: Clock): number => Math.floor(clock.now() / 1000);
