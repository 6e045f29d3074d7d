/**
 * Rate control: a deadline scheduler. A plan says how many events should have been emitted
 * t ms after it started (the integral of its rate); every tick emits the difference between
 * that and what was emitted, in one batch. Timer lateness therefore never lowers the long-run
 * rate (a late tick emits a bigger batch), and the rate is not capped by timer granularity.
 *
 * Backpressure: `emit` may accept fewer events than asked (the sink is busy). The shortfall
 * stays due, but at most `maxDebtMs` worth of it: older debt is dropped and counted, so a
 * stalled sink does not cause a flood when it recovers.
 */
import type { Clock } from '../core/clock.js';

export type RatePlan =
  /** `rate` events/s. */
  | { readonly kind: 'constant'; readonly rate: number }
  /** From `from` to `to` events/s linearly over `overMs`, then `to`. */
  | { readonly kind: 'ramp'; readonly from: number; readonly to: number; readonly overMs: number };

/** Instantaneous rate (events/s) `t` ms after the plan started. */
export function planRate(plan: RatePlan, t: number): number {
  if (plan.kind === 'constant') return plan.rate;
  if (t >= plan.overMs) return plan.to;
  return plan.from + ((plan.to - plan.from) * Math.max(t, 0)) / plan.overMs;
}

/** Events due `t` ms after the plan started (the integral of its rate), not rounded. */
export function planEvents(plan: RatePlan, t: number): number {
  if (t <= 0) return 0;
  if (plan.kind === 'constant') return (plan.rate * t) / 1000;
  const r = Math.min(t, plan.overMs);
  const ramp = (plan.from * r + ((plan.to - plan.from) * r * r) / (2 * plan.overMs)) / 1000;
  return ramp + (t > plan.overMs ? (plan.to * (t - plan.overMs)) / 1000 : 0);
}

export interface SchedulerOptions {
  /** Tick period, ms. Default 10. */
  readonly tickMs?: number;
  /** Most events asked for in one tick. Default 5000. */
  readonly maxBatch?: number;
  /** Most unemitted debt kept, in ms of the current rate. Default 1000. */
  readonly maxDebtMs?: number;
}

/**
 * Asked to emit `n` events at time `now`; returns how many it did (0 … n).
 * Called from the timer, synchronously.
 */
export type EmitFn = (n: number, now: number) => number;

export const DEFAULT_TICK_MS = 10;
export const DEFAULT_MAX_BATCH = 5000;
export const DEFAULT_MAX_DEBT_MS = 1000;

export class RateScheduler {
  private readonly tickMs: number;
  private readonly maxBatch: number;
  private readonly maxDebtMs: number;
  private plan: RatePlan = { kind: 'constant', rate: 0 };
  private planStart = 0;
  /** Events emitted or dropped since `planStart`. */
  private done = 0;
  private endAt = Number.POSITIVE_INFINITY;
  private timer: unknown = null;
  private onEnd: (() => void) | null = null;
  private readonly tickFn = (): void => this.tick();
  /** Events dropped because they were due for longer than `maxDebtMs`. */
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly emit: EmitFn,
    opts: SchedulerOptions = {},
  ) {
    this.tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    this.maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
    this.maxDebtMs = opts.maxDebtMs ?? DEFAULT_MAX_DEBT_MS;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Target rate now, events/s (0 when stopped). */
  get targetRate(): number {
    return this.running ? planRate(this.plan, this.clock.now() - this.planStart) : 0;
  }

  /**
   * Starts the plan now. `durationMs`: stop after that long (`onEnd` is then called once,
   * after the last batch). Restarting a running scheduler replaces its plan and deadline.
   */
  start(plan: RatePlan, durationMs?: number, onEnd?: () => void): void {
    const now = this.clock.now();
    this.rebase(plan, now);
    this.endAt = durationMs === undefined ? Number.POSITIVE_INFINITY : now + durationMs;
    this.onEnd = onEnd ?? null;
    if (this.timer === null) this.timer = this.clock.setTimeout(this.tickFn, this.tickMs);
  }

  /** Replaces the plan from now on, keeping the deadline (the new plan starts at t = 0). */
  setPlan(plan: RatePlan): void {
    this.rebase(plan, this.clock.now());
  }

  /** Moves the deadline: stop `durationMs` from now (undefined: never). */
  setDuration(durationMs: number | undefined): void {
    this.endAt = durationMs === undefined ? Number.POSITIVE_INFINITY : this.clock.now() + durationMs;
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.onEnd = null;
  }

  /** One tick: emit what is due. Runs from the timer; public for tests. */
  tick(): void {
    if (this.timer === null) return;
    const wall = this.clock.now();
    const now = Math.min(wall, this.endAt);
    const t = now - this.planStart;
    let due = Math.floor(planEvents(this.plan, t)) - this.done;
    const maxDebt = Math.max(1, Math.ceil((planRate(this.plan, t) * this.maxDebtMs) / 1000));
    if (due > maxDebt) {
      this.dropped += due - maxDebt;
      this.done += due - maxDebt;
      due = maxDebt;
    }
    if (due > 0) {
      const accepted = this.emit(Math.min(due, this.maxBatch), now);
      this.done += accepted;
    }
    if (wall >= this.endAt) {
      const onEnd = this.onEnd;
      this.stop();
      if (onEnd !== null) onEnd();
      return;
    }
    this.timer = this.clock.setTimeout(this.tickFn, this.tickMs);
  }

  private rebase(plan: RatePlan, now: number): void {
    this.plan = plan;
    this.planStart = now;
    this.done = 0;
  }
}
