/**
 * Feed staleness from ingest lag: watches how far each ingest (core/ingest.ts) is behind its
 * backbone and tells the hub when one falls behind more than a threshold (its channels go
 * `stale`) and when it has caught up (`fresh`). Only reads the ingests' synchronous lag and the
 * injected clock: no IO.
 *
 * Rule: a feed is stale from the first check that finds its lag above `thresholdMs`, and fresh
 * again from the first check that finds it at or below half of it (the gap keeps a lag that
 * hovers at the threshold from flapping). Checks run every `thresholdMs / 4` (50 ms to 1 s), so
 * a feed is reported at most `thresholdMs` plus one check interval after its oldest unsettled
 * publication was handed over.
 */
import type { Clock, TimerHandle } from './clock.js';

/** One ingest as the watch sees it: a stable id (its kind) and its lag, ms (IngestHealth.lagMs). */
export interface LaggingFeed {
  readonly id: string;
  lagMs(): number;
}

/** What is told (the hub): `since` is when the feed's missing publications begin, ms since the Unix epoch. */
export interface FeedStalenessSink {
  setFeedStale(feed: string, stale: boolean, since: number): void;
}

/** Bounds of the check interval, ms. */
const MIN_CHECK_MS = 50;
const MAX_CHECK_MS = 1_000;

export class FeedLagWatch {
  private readonly stale = new Set<string>();
  private timer: TimerHandle | null = null;
  private running = false;
  readonly checkIntervalMs: number;

  constructor(
    private readonly clock: Clock,
    /** Lag past which a feed is stale, ms (> 0). */
    readonly thresholdMs: number,
    private readonly feeds: readonly LaggingFeed[],
    private readonly sink: FeedStalenessSink,
  ) {
    if (!(thresholdMs > 0)) throw new RangeError('thresholdMs must be positive');
    this.checkIntervalMs = Math.min(MAX_CHECK_MS, Math.max(MIN_CHECK_MS, Math.round(thresholdMs / 4)));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops checking (the ingests are stopping; their channels keep the state they have). Idempotent. */
  stop(): void {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** One pass over the feeds (the timer's work; tests may call it). */
  check(): void {
    const now = this.clock.now();
    for (const f of this.feeds) {
      const lag = f.lagMs();
      if (!this.stale.has(f.id)) {
        if (lag <= this.thresholdMs) continue;
        this.stale.add(f.id);
        this.sink.setFeedStale(f.id, true, now - lag);
      } else if (lag <= this.thresholdMs / 2) {
        this.stale.delete(f.id);
        this.sink.setFeedStale(f.id, false, now);
      }
    }
  }

  isStale(feed: string): boolean {
    return this.stale.has(feed);
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        if (!this.running) return;
        this.check();
        this.schedule();
      },
      this.checkIntervalMs,
      { background: true },
    );
  }
}
