/**
 * The one wait helper of the tests: for a condition that has no event to wait on.
 *
 * Real time: `cond` is checked at once, at the end of the next event-loop turns (one for an async
 * `cond`, up to 20 for a synchronous one), then every `everyMs` (default 5 ms) until it holds or
 * `timeoutMs` has passed. With `clock` (a FakeClock): between checks the event loop turns once and
 * the fake clock moves 1 ms, so the timers of the code under test fire without any real waiting;
 * `timeoutMs` is then fake time.
 */
import type { FakeClock } from './fake-clock.js';

export interface WaitOptions {
  /** Real-time polling period, ms (default 5). */
  readonly everyMs?: number;
  /** Drive this fake clock instead of waiting. */
  readonly clock?: FakeClock;
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
  opts: WaitOptions = {},
): Promise<void> {
  const { clock, everyMs = 5 } = opts;
  const deadline = (clock ? clock.now() : Date.now()) + timeoutMs;
  for (let polls = 0; ; polls++) {
    const held = cond();
    if (held instanceof Promise ? await held : held) return;
    if ((clock ? clock.now() : Date.now()) > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    if (clock) {
      await turn();
      clock.advance(1);
    } else if (polls === 0 || (polls < TURN_POLLS && !(held instanceof Promise))) {
      // What is written within a few turns (a reply, a flush) is seen without a timer; an async
      // condition (a request) is not repeated that fast.
      await turn();
    } else {
      await new Promise<void>((r) => setTimeout(r, everyMs));
    }
  }
}

const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/** Checks of a synchronous condition at the ends of event-loop turns before the timer takes over. */
const TURN_POLLS = 20;
