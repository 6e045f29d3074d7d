/**
 * The load coordinator: forks worker processes, hands each its share of connections, merges
 * their reports (counters are cumulative, histograms are deltas) and offers measurement
 * windows to the caller (the loadtest command, or the benchmark stepping its publish rate).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram, type PercentileSummary } from '../histogram/histogram.js';
import type { FromWorker, LoadCounts, WorkerConfig, WorkerReport } from './messages.js';
import { randomSeed, seedFor } from '../core/rng.js';

export type LoadRunOptions = Omit<WorkerConfig, 'workerIndex' | 'workers' | 'reportIntervalMs' | 'seed'> & {
  /** Seed of the run's random draws (each worker's derived from it); default: a random one, kept in `seed`. */
  readonly seed?: number;
  /** Worker processes (default: one per CPU, at least 1, at most ceil(connections / 5000) + 1). */
  readonly workers?: number;
  readonly reportIntervalMs?: number;
};

/** A worker whose event loop is this busy (0..1) or this late is saturated: it, not the server, may be the limit. */
export const SATURATED_ELU = 0.9;
export const SATURATED_LOOP_DELAY_MS = 100;

export interface ClientLoad {
  /** CPU seconds used by the worker processes (user + system). */
  readonly cpuSeconds: number;
  /** Highest event-loop utilisation of any worker in any report interval, 0..1. */
  readonly maxElu: number;
  readonly maxLoopDelayP99Ms: number;
  readonly maxLoopDelayMs: number;
  /** Report intervals in which some worker was saturated. */
  readonly saturatedIntervals: number;
  readonly intervals: number;
  readonly workers: number;
  readonly rssBytes: number;
}

export interface Totals extends LoadCounts {
  readonly client: ClientLoad;
}

export interface WindowResult {
  readonly seconds: number;
  readonly delivered: number;
  readonly deliveredPerSecond: number;
  readonly latency: PercentileSummary;
  readonly missing: number;
  readonly duplicates: number;
  readonly clientCpuSeconds: number;
  readonly clientMaxElu: number;
  readonly clientSaturated: boolean;
}

export class MeasureWindow {
  readonly latency = new LatencyHistogram();
  maxElu = 0;
  saturated = false;
  constructor(
    readonly startedAt: number,
    readonly start: Totals,
  ) {}
}

function sumRecords(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function defaultWorkers(connections: number): number {
  return Math.max(1, Math.min(cpus().length, Math.ceil(connections / 5000) + 1));
}

const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

export class LoadRun {
  private readonly children: ChildProcess[] = [];
  private readonly last: (WorkerReport | null)[];
  readonly latencyAll = new LatencyHistogram();
  readonly connectAll = new LatencyHistogram();
  /** Latency since the last `takeInterval()` (the live progress line). */
  private readonly latencyInterval = new LatencyHistogram();
  private readonly windows = new Set<MeasureWindow>();
  private flushSeq = 0;
  private readonly flushWaiters = new Map<number, { left: number; resolve: () => void }>();
  private maxElu = 0;
  private maxLoopP99 = 0;
  private maxLoop = 0;
  private saturatedIntervals = 0;
  private intervals = 0;
  private intervalSaturated = false;
  private intervalReports = 0;
  private exited = 0;
  private stopped: Promise<Totals> | null = null;
  private readonly exitWaiters: (() => void)[] = [];
  readonly workers: number;
  readonly startedAt = Date.now();
  private fatal: string | null = null;

  /** The run's seed (given, or drawn here): pass it again as `seed` to replay the same draws. */
  readonly seed: number;

  private constructor(private readonly opts: LoadRunOptions) {
    this.seed = opts.seed ?? randomSeed();
    this.workers = opts.workers ?? defaultWorkers(opts.connections);
    this.last = new Array<WorkerReport | null>(this.workers).fill(null);
  }

  /** Forks the workers and starts connecting; resolves once every worker is running. */
  static async start(opts: LoadRunOptions): Promise<LoadRun> {
    const run = new LoadRun(opts);
    await run.spawn();
    return run;
  }

  private async spawn(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let w = 0; w < this.workers; w++) {
      const child = fork(WORKER_ENTRY, [], {
        env: { ...process.env, ODIN_LOADTEST_WORKER: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
      });
      this.children.push(child);
      ready.push(
        new Promise<void>((resolve, reject) => {
          child.once('error', reject);
          child.on('message', (m: FromWorker) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'fatal') this.fatal = m.message;
            else this.onReport(m);
          });
          child.once('exit', () => {
            this.exited++;
            if (this.exited === this.workers) for (const f of this.exitWaiters.splice(0)) f();
            reject(new Error('load worker exited before it was ready'));
          });
        }),
      );
    }
    await Promise.all(ready);
    const config = (w: number): WorkerConfig => ({
      workerIndex: w,
      workers: this.workers,
      host: this.opts.host,
      port: this.opts.port,
      protocol: this.opts.protocol,
      ...(this.opts.path !== undefined ? { path: this.opts.path } : {}),
      connections: this.opts.connections,
      connectRate: this.opts.connectRate,
      channels: this.opts.channels,
      channelsPerConnection: this.opts.channelsPerConnection,
      trackEvery: this.opts.trackEvery,
      perAddress: this.opts.perAddress,
      reconnect: this.opts.reconnect,
      connectRetries: this.opts.connectRetries,
      ...(this.opts.dropPerSecond ? { dropPerSecond: this.opts.dropPerSecond } : {}),
      seed: seedFor(this.seed, w),
      reportIntervalMs: this.opts.reportIntervalMs ?? 1000,
    });
    this.children.forEach((c, w) => c.send({ type: 'start', config: config(w) }));
  }

  get workerPids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  private onReport(r: WorkerReport): void {
    this.last[r.workerIndex] = r;
    if (r.latency !== '') {
      const h = new LatencyHistogram();
      h.mergeEncoded(r.latency);
      this.latencyAll.merge(h);
      this.latencyInterval.merge(h);
      for (const w of this.windows) w.latency.merge(h);
    }
    if (r.connectTime !== '') this.connectAll.mergeEncoded(r.connectTime);
    if (r.flushId !== 0 || r.final) {
      this.settleFlush(r.flushId);
      return;
    }
    const sat = r.elu >= SATURATED_ELU || r.loopDelayP99Ms >= SATURATED_LOOP_DELAY_MS;
    this.maxElu = Math.max(this.maxElu, r.elu);
    this.maxLoopP99 = Math.max(this.maxLoopP99, r.loopDelayP99Ms);
    this.maxLoop = Math.max(this.maxLoop, r.loopDelayMaxMs);
    for (const w of this.windows) {
      w.maxElu = Math.max(w.maxElu, r.elu);
      if (sat) w.saturated = true;
    }
    if (sat) this.intervalSaturated = true;
    if (++this.intervalReports >= this.workers) {
      this.intervals++;
      if (this.intervalSaturated) this.saturatedIntervals++;
      this.intervalReports = 0;
      this.intervalSaturated = false;
    }
  }

  private settleFlush(id: number): void {
    const f = this.flushWaiters.get(id);
    if (f && --f.left === 0) {
      this.flushWaiters.delete(id);
      f.resolve();
    }
  }

  /** Asks every worker for a report now; resolves when all have answered. */
  flush(): Promise<void> {
    const id = ++this.flushSeq;
    const live = this.children.filter((c) => c.connected);
    if (live.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.flushWaiters.set(id, { left: live.length, resolve });
      for (const c of live) c.send({ type: 'flush', id });
      // A worker that died does not hold the caller forever.
      setTimeout(() => {
        if (this.flushWaiters.delete(id)) resolve();
      }, 5000).unref();
    });
  }

  totals(): Totals {
    const failed: Record<string, number> = {};
    const disconnects: Record<string, number> = {};
    const serverErrors: Record<string, number> = {};
    let connectRetried = 0;
    let attempted = 0,
      open = 0,
      established = 0,
      subscribed = 0,
      reconnects = 0,
      recovered = 0,
      notRecovered = 0;
    let delivered = 0,
      trackedDelivered = 0,
      inOrder = 0,
      missing = 0,
      duplicates = 0,
      gaps = 0,
      cpuUs = 0,
      rss = 0;
    const heard = new Set<string>();
    for (const r of this.last) {
      if (!r) continue;
      for (const ch of r.heardChannels) heard.add(ch);
      attempted += r.attempted;
      connectRetried += r.connectRetried;
      open += r.open;
      established += r.established;
      subscribed += r.subscribed;
      reconnects += r.reconnects;
      recovered += r.recovered;
      notRecovered += r.notRecovered;
      delivered += r.delivered;
      trackedDelivered += r.trackedDelivered;
      inOrder += r.inOrder;
      missing += r.missing;
      duplicates += r.duplicates;
      gaps += r.gaps;
      cpuUs += r.cpuUserUs + r.cpuSystemUs;
      rss += r.rssBytes;
      sumRecords(failed, r.failed);
      sumRecords(disconnects, r.disconnects);
      sumRecords(serverErrors, r.serverErrors);
    }
    return {
      attempted,
      open,
      established,
      subscribed,
      failed,
      connectRetried,
      disconnects,
      reconnects,
      recovered,
      notRecovered,
      serverErrors,
      delivered,
      trackedDelivered,
      inOrder,
      missing,
      duplicates,
      gaps,
      heardChannels: [...heard],
      client: {
        cpuSeconds: cpuUs / 1e6,
        maxElu: this.maxElu,
        maxLoopDelayP99Ms: this.maxLoopP99,
        maxLoopDelayMs: this.maxLoop,
        saturatedIntervals: this.saturatedIntervals,
        intervals: this.intervals,
        workers: this.workers,
        rssBytes: rss,
      },
    };
  }

  get failedCount(): number {
    return Object.values(this.totals().failed).reduce((a, b) => a + b, 0);
  }

  /** Latency percentiles since the previous call (then cleared). */
  takeInterval(): PercentileSummary {
    const s = this.latencyInterval.summary();
    this.latencyInterval.reset();
    return s;
  }

  /**
   * Resolves when every connection has been attempted and is subscribed or has failed,
   * or after `timeoutMs` (check `totals()` to see which).
   */
  async waitConnected(timeoutMs: number, onTick?: () => void): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.flush();
      onTick?.();
      const t = this.totals();
      const failed = Object.values(t.failed).reduce((a, b) => a + b, 0);
      if (t.attempted >= this.opts.connections && t.subscribed + failed >= this.opts.connections) return true;
      if (this.fatal !== null) throw new Error(this.fatal);
      await new Promise<void>((r) => setTimeout(r, 250));
    }
    return false;
  }

  async beginWindow(): Promise<MeasureWindow> {
    await this.flush();
    const w = new MeasureWindow(performance.now(), this.totals());
    this.windows.add(w);
    return w;
  }

  async endWindow(w: MeasureWindow): Promise<WindowResult> {
    await this.flush();
    this.windows.delete(w);
    const t = this.totals();
    const seconds = (performance.now() - w.startedAt) / 1000;
    const delivered = t.delivered - w.start.delivered;
    return {
      seconds,
      delivered,
      deliveredPerSecond: delivered / seconds,
      latency: w.latency.summary(),
      missing: t.missing - w.start.missing,
      duplicates: t.duplicates - w.start.duplicates,
      clientCpuSeconds: t.client.cpuSeconds - w.start.client.cpuSeconds,
      clientMaxElu: w.maxElu,
      clientSaturated: w.saturated,
    };
  }

  /** Closes every connection, collects the final reports, ends the workers. Idempotent. */
  stop(): Promise<Totals> {
    this.stopped ??= (async () => {
      const gone = new Promise<void>((r) => {
        if (this.exited === this.workers) r();
        else this.exitWaiters.push(r);
      });
      for (const c of this.children) if (c.connected) c.send({ type: 'stop' });
      const timer = setTimeout(() => {
        for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
      }, 10_000);
      await gone;
      clearTimeout(timer);
      return this.totals();
    })();
    return this.stopped;
  }
}
