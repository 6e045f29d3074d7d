/**
 * The publishing engine: the scheduler asks for events, the generator makes them, the sink
 * sends them. Start/stop/configure come from the control API; all of it is IO-free except
 * through the injected sink and clock.
 */
import { EVENT_TYPES, type EventType, type OdinEvent } from '../protocol/events.js';
import { EventGenerator, type EventWeights } from './generator.js';
import type { Logger } from '../core/logger.js';
import type { EventsSpec, ResolvedOptions, TokensSpec } from './options.js';
import { weightsOf } from './options.js';
import { PROFILE_DEFAULTS, profilePlan, type Profile } from './profiles.js';
import { RateMeter } from './rate-meter.js';
import { RateScheduler } from './scheduler.js';
import type { EventSink, SinkResult } from './sinks/sink.js';

/** Fields the control API may change (absent: unchanged). */
export interface ConfigPatch {
  readonly messagesPerSecond?: number;
  readonly duration?: number;
  readonly tokens?: TokensSpec;
  readonly events?: EventsSpec;
  readonly profile?: Profile;
  readonly rampSeconds?: number;
}

export interface Configuration {
  readonly profile: Profile;
  readonly messagesPerSecond: number;
  /** Run length, s; 0 = until stopped. */
  readonly duration: number;
  readonly rampSeconds: number;
  readonly tokens: readonly string[];
  readonly events: EventWeights;
  readonly sink: string;
  readonly marketStatsIntervalMs: number;
}

export interface PublisherStats {
  readonly messagesPublished: number;
  /** Start of the current (or last) run, ms; null before the first. */
  readonly startTime: number | null;
  readonly stopTime: number | null;
  /** Events the sink failed to deliver. */
  readonly errors: number;
  readonly lastError: string | null;
  /** Events skipped while the sink was too slow (see RateScheduler). */
  readonly dropped: number;
  /** Published events/s over the last 5 whole seconds. */
  readonly currentRate: number;
  /** Published events/s since the run started. */
  readonly averageRate: number;
  readonly targetRate: number;
  readonly inFlightBatches: number;
  readonly byType: Readonly<Record<EventType, number>>;
}

export type StartOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: 'already_running' };

/** How long stop() waits for batches in flight, ms. */
const DRAIN_TIMEOUT_MS = 5000;
/** Sink failures are logged at most this often, ms. */
const ERROR_LOG_INTERVAL_MS = 5000;

export class Publisher {
  private readonly generator: EventGenerator;
  private readonly scheduler: RateScheduler;
  private readonly meter = new RateMeter();
  private readonly log: Logger;
  private config: Configuration;
  private readonly byType: Record<EventType, number>;
  /** Process-lifetime totals for the metrics (the per-run figures above reset at start). */
  private readonly totalByType: Record<EventType, number>;
  private totalFailed = 0;
  private droppedBefore = 0;
  private published = 0;
  private failed = 0;
  private lastError: string | null = null;
  private startTime: number | null = null;
  private stopTime: number | null = null;
  private inFlight = 0;
  private nextMarketStats = Number.POSITIVE_INFINITY;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly endWaiters: (() => void)[] = [];
  private lastErrorLog = Number.NEGATIVE_INFINITY;
  private readonly onBatchDone: (batch: readonly OdinEvent[], started: number, r: SinkResult) => void;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly sink: EventSink,
    observeBatch: (seconds: number) => void = () => {},
  ) {
    this.log = opts.logger;
    const now = opts.clock.now();
    this.generator = new EventGenerator({ seed: opts.seed, now });
    this.scheduler = new RateScheduler(opts.clock, (n, t) => this.emit(n, t), { tickMs: opts.tickMs });
    this.byType = Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as Record<EventType, number>;
    this.totalByType = { ...this.byType };
    const profile = opts.profile;
    this.config = {
      profile,
      messagesPerSecond: opts.messagesPerSecond ?? PROFILE_DEFAULTS[profile].messagesPerSecond,
      duration: opts.duration ?? PROFILE_DEFAULTS[profile].duration,
      rampSeconds: opts.rampSeconds,
      tokens: [],
      events: weightsOf(opts.events),
      sink: sink.info().kind,
      marketStatsIntervalMs: opts.statsIntervalMs,
    };
    this.applyTokens(opts.tokens);
    this.generator.setWeights(this.config.events);
    this.onBatchDone = (batch, started, r) => {
      observeBatch((this.opts.clock.now() - started) / 1000);
      this.account(batch, r);
    };
  }

  get running(): boolean {
    return this.scheduler.running;
  }

  get configuration(): Configuration {
    return this.config;
  }

  get activeTokens(): readonly string[] {
    return this.config.tokens;
  }

  /** Applies `patch`, then starts; refuses when already running. */
  start(patch: ConfigPatch = {}): StartOutcome {
    if (this.running) return { ok: false, reason: 'already_running' };
    this.apply(patch);
    const now = this.opts.clock.now();
    this.startTime = Math.floor(now);
    this.stopTime = null;
    this.published = 0;
    this.failed = 0;
    this.lastError = null;
    this.droppedBefore += this.scheduler.dropped;
    this.scheduler.dropped = 0;
    for (const t of EVENT_TYPES) this.byType[t] = 0;
    this.meter.reset(now);
    this.nextMarketStats = now + this.opts.statsIntervalMs;
    const c = this.config;
    this.scheduler.start(profilePlan(c.profile, c.messagesPerSecond, c.rampSeconds), c.duration > 0 ? c.duration * 1000 : undefined, () =>
      this.ended(),
    );
    this.log.info(
      { profile: c.profile, messagesPerSecond: c.messagesPerSecond, duration: c.duration, tokens: c.tokens.length },
      'publishing started',
    );
    return { ok: true };
  }

  /** Stops and waits (bounded) for batches in flight. Harmless when not running. */
  async stop(): Promise<boolean> {
    const wasRunning = this.running;
    if (wasRunning) {
      this.scheduler.stop();
      this.stopTime = Math.floor(this.opts.clock.now());
      this.log.info({ published: this.published, errors: this.failed }, 'publishing stopped');
      for (const done of this.endWaiters.splice(0)) done();
    }
    await this.drain();
    return wasRunning;
  }

  /**
   * Resolves when no run is active and no batch is in flight: at once when idle, else when
   * the run ends (stop or duration) and its batches are answered.
   */
  async finished(): Promise<void> {
    if (this.running) await new Promise<void>((resolve) => this.endWaiters.push(resolve));
    await this.drain();
  }

  /** Changes the configuration; a running publisher switches to it at once, without a restart. */
  configure(patch: ConfigPatch): void {
    const before = this.config;
    this.apply(patch);
    if (!this.running) return;
    const c = this.config;
    if (c.profile !== before.profile || c.messagesPerSecond !== before.messagesPerSecond || c.rampSeconds !== before.rampSeconds) {
      this.scheduler.setPlan(profilePlan(c.profile, c.messagesPerSecond, c.rampSeconds));
    }
    if (patch.duration !== undefined || c.profile !== before.profile)
      this.scheduler.setDuration(c.duration > 0 ? c.duration * 1000 : undefined);
    this.log.info({ configuration: { ...c, tokens: c.tokens.length } }, 'publisher reconfigured');
  }

  stats(): PublisherStats {
    const now = this.opts.clock.now();
    const end = this.stopTime ?? now;
    const elapsed = this.startTime === null ? 0 : (end - this.startTime) / 1000;
    return {
      messagesPublished: this.published,
      startTime: this.startTime,
      stopTime: this.stopTime,
      errors: this.failed,
      lastError: this.lastError,
      dropped: this.scheduler.dropped,
      currentRate: this.running ? round1(this.meter.rate(now)) : 0,
      averageRate: elapsed > 0 ? round1(this.published / elapsed) : 0,
      targetRate: round1(this.scheduler.targetRate),
      inFlightBatches: this.inFlight,
      byType: { ...this.byType },
    };
  }

  /** Live figures for metrics. */
  readonly metricsSource = {
    publishedByType: (): Readonly<Record<string, number>> => this.totalByType,
    failed: (): number => this.totalFailed,
    dropped: (): number => this.droppedBefore + this.scheduler.dropped,
    publishing: (): boolean => this.running,
    targetRate: (): number => this.scheduler.targetRate,
    achievedRate: (): number => (this.running ? this.meter.rate(this.opts.clock.now()) : 0),
    sinkConnected: (): boolean => this.sink.isConnected(),
    inFlight: (): number => this.inFlight,
  };

  private apply(patch: ConfigPatch): void {
    const c = this.config;
    const profile = patch.profile ?? c.profile;
    const profileChanged = profile !== c.profile;
    this.config = {
      ...c,
      profile,
      // A new profile brings its own default rate and duration unless they are given too.
      messagesPerSecond: patch.messagesPerSecond ?? (profileChanged ? PROFILE_DEFAULTS[profile].messagesPerSecond : c.messagesPerSecond),
      duration: patch.duration ?? (profileChanged ? PROFILE_DEFAULTS[profile].duration : c.duration),
      rampSeconds: patch.rampSeconds ?? c.rampSeconds,
      events: patch.events === undefined ? c.events : weightsOf(patch.events),
    };
    if (patch.tokens !== undefined) this.applyTokens(patch.tokens);
    if (patch.events !== undefined) this.generator.setWeights(this.config.events);
  }

  private applyTokens(spec: TokensSpec): void {
    const symbols = typeof spec === 'number' ? this.generator.market.symbols(spec) : [...new Set(spec)];
    this.generator.setTokens(symbols, this.opts.clock.now());
    this.config = { ...this.config, tokens: Object.freeze(symbols) };
  }

  /** Scheduler callback: make `n` events and hand them to the sink as one batch. */
  private emit(n: number, now: number): number {
    if (this.inFlight >= this.opts.maxInFlight) return 0;
    const ts = Math.floor(now);
    const batch: OdinEvent[] = new Array<OdinEvent>(n);
    for (let i = 0; i < n; i++) batch[i] = this.generator.next(ts);
    if (now >= this.nextMarketStats) {
      batch.push(this.generator.marketStats(ts, this.opts.statsIntervalMs));
      this.nextMarketStats += this.opts.statsIntervalMs;
      if (this.nextMarketStats <= now) this.nextMarketStats = now + this.opts.statsIntervalMs;
    }
    this.inFlight++;
    const started = this.opts.clock.now();
    void this.sink.publish(batch).then(
      (r) => this.onBatchDone(batch, started, r),
      (err: unknown) => this.onBatchDone(batch, started, { published: 0, failed: batch.length, error: String(err) }),
    );
    return n;
  }

  private account(batch: readonly OdinEvent[], r: SinkResult): void {
    this.inFlight--;
    this.published += r.published;
    this.failed += r.failed;
    this.totalFailed += r.failed;
    this.meter.add(r.published, this.opts.clock.now());
    // Per-type counts are exact when the whole batch went through (the usual case); a
    // partly failed batch is not attributed by type.
    if (r.failed === 0) {
      for (const e of batch) {
        this.byType[e.type]++;
        this.totalByType[e.type]++;
      }
    }
    if (r.error !== undefined) {
      this.lastError = r.error;
      const now = this.opts.clock.now();
      if (now - this.lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
        this.lastErrorLog = now;
        this.log.warn({ error: r.error, failedTotal: this.failed }, 'sink failed to publish');
      }
    }
    if (this.inFlight === 0) for (const done of this.drainWaiters.splice(0)) done();
  }

  private ended(): void {
    this.stopTime = Math.floor(this.opts.clock.now());
    this.log.info({ published: this.published, errors: this.failed }, 'publishing finished (duration reached)');
    for (const done of this.endWaiters.splice(0)) done();
  }

  private drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.drainWaiters.indexOf(done);
        if (i >= 0) this.drainWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
      timer.unref();
      this.drainWaiters.push(done);
    });
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
