/**
 * The benchmark scenarios. Each starts from a running contender, opens its subscribers with
 * the load client (worker processes), publishes through the contender's own ingress, and
 * reads the server's CPU (utime + stime) and RSS from /proc around the measured window.
 */
import { LoadRun, type WindowResult } from '../src/lib/loadtest/runner.js';
import { RatePublisher } from '../src/lib/loadtest/publisher.js';
import type { PercentileSummary } from '../src/lib/histogram/histogram.js';
import type { RunningContender } from './contenders.js';
import { cpuSeconds, rssBytes } from './proc.js';

export type Log = (line: string) => void;

const CONNECT_RATE = 2000;
/** Connections that may fail to open (accept backlog overflow under load) before a scenario is void. */
const MAX_FAILED_SHARE = 0.01;
const PER_ADDRESS = 15_000;
/** A step keeps up when at least this share of the expected deliveries arrived in the window. */
export const KEEP_UP_RATIO = 0.95;
/** ...and its p99 stays under this, ms. */
export const KEEP_UP_P99_MS = 1000;

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Measured {
  readonly seconds: number;
  readonly deliveredPerSecond: number;
  readonly expectedPerSecond: number;
  readonly serverCpuSeconds: number;
  /** Server CPU-seconds per million deliveries. */
  readonly cpuPerMillion: number;
  readonly latencyMs: PercentileSummary;
  readonly missing: number;
  readonly clientCpuSeconds: number;
  readonly clientMaxElu: number;
  readonly clientSaturated: boolean;
  readonly publisherBehindTicks: number;
  readonly disconnects: number;
}

function measured(w: WindowResult, cpu: number, expectedPerSecond: number, behind: number, disconnects: number): Measured {
  return {
    seconds: w.seconds,
    deliveredPerSecond: w.deliveredPerSecond,
    expectedPerSecond,
    serverCpuSeconds: cpu,
    cpuPerMillion: w.delivered > 0 ? cpu / (w.delivered / 1e6) : Number.POSITIVE_INFINITY,
    latencyMs: w.latency,
    missing: w.missing,
    clientCpuSeconds: w.clientCpuSeconds,
    clientMaxElu: w.clientMaxElu,
    clientSaturated: w.clientSaturated,
    publisherBehindTicks: behind,
    disconnects,
  };
}

function disconnectsOf(run: LoadRun): number {
  return Object.values(run.totals().disconnects).reduce((a, b) => a + b, 0);
}

async function openSubscribers(
  c: RunningContender,
  connections: number,
  channels: string[],
  perConn: number,
  trackEvery: number,
  workers: number,
): Promise<LoadRun> {
  const run = await LoadRun.start({
    host: c.host,
    port: c.port,
    protocol: c.protocol,
    ...(c.path !== undefined ? { path: c.path } : {}),
    connections,
    connectRate: CONNECT_RATE,
    channels,
    channelsPerConnection: perConn,
    trackEvery,
    perAddress: PER_ADDRESS,
    reconnect: false,
    // A few opens fail when the accept backlog overflows during the ramp; they are retried.
    connectRetries: 5,
    workers,
  });
  const ok = await run.waitConnected((connections / CONNECT_RATE) * 3000 + 20_000);
  const t = run.totals();
  if (!ok || t.subscribed < connections * (1 - MAX_FAILED_SHARE)) {
    await run.stop();
    throw new Error(
      `only ${t.subscribed} of ${connections} subscribed (failed: ${JSON.stringify(t.failed)}, errors: ${JSON.stringify(t.serverErrors)})`,
    );
  }
  return run;
}

/** One measured window at the publisher's current rate. */
async function window(run: LoadRun, pub: RatePublisher, pid: number, seconds: number, expectedPerSecond: number): Promise<Measured> {
  const behind0 = pub.stats.behindTicks;
  const disc0 = disconnectsOf(run);
  const cpu0 = cpuSeconds(pid);
  const w = await run.beginWindow();
  await pause(seconds * 1000);
  const r = await run.endWindow(w);
  const cpu1 = cpuSeconds(pid);
  return measured(r, cpu1 - cpu0, expectedPerSecond, pub.stats.behindTicks - behind0, disconnectsOf(run) - disc0);
}

export interface FanoutStep extends Measured {
  readonly publishRate: number;
  readonly keptUp: boolean;
  /** Fell behind while the load client was saturated: the limit may be the client's. */
  readonly clientLimited: boolean;
}

export interface FanoutResult {
  /** Subscribers per channel. */
  readonly subscribers: number;
  readonly steps: FanoutStep[];
  /** Highest delivery rate of a step that kept up (0 if none did). */
  readonly maxDeliveredPerSecond: number;
  /** The step that reached it. */
  readonly best: FanoutStep | null;
}

/** Scenario 1: N subscribers on one channel, publish rate stepped until delivery falls behind. */
export function fanoutScenario(
  c: RunningContender,
  o: { subscribers: number; rates: number[]; stepSeconds: number; workers: number },
  log: Log,
): Promise<FanoutResult> {
  return steppedScenario(
    c,
    {
      connections: o.subscribers,
      channels: ['BENCH.trade'],
      perConnection: 1,
      trackEvery: 20,
      rates: o.rates,
      stepSeconds: o.stepSeconds,
      workers: o.workers,
    },
    log,
  );
}

/** Publish rate stepped (round-robin over `channels`) until delivery falls behind. */
export async function steppedScenario(
  c: RunningContender,
  o: {
    connections: number;
    channels: string[];
    perConnection: number;
    trackEvery: number;
    rates: number[];
    stepSeconds: number;
    workers: number;
  },
  log: Log,
): Promise<FanoutResult> {
  const run = await openSubscribers(c, o.connections, o.channels, o.perConnection, o.trackEvery, o.workers);
  // From the connections that did subscribe (a few may have failed to open).
  const subsPerChannel = (run.totals().subscribed * Math.min(o.perConnection, o.channels.length)) / o.channels.length;
  const target = await c.publisher();
  const pub = new RatePublisher(target, o.channels, 'sustained', o.rates[0]!, Number.MAX_SAFE_INTEGER);
  const steps: FanoutStep[] = [];
  try {
    pub.start();
    for (const rate of o.rates) {
      pub.setRate(rate);
      await pause(1000);
      const m = await window(run, pub, c.pid, o.stepSeconds, rate * subsPerChannel);
      const keptUp = m.deliveredPerSecond >= KEEP_UP_RATIO * m.expectedPerSecond && m.latencyMs.p99 < KEEP_UP_P99_MS && m.disconnects === 0;
      const clientLimited = !keptUp && m.clientSaturated;
      steps.push({ ...m, publishRate: rate, keptUp, clientLimited });
      log(
        `    ${String(rate).padStart(6)} pub/s → ${Math.round(m.deliveredPerSecond).toLocaleString('en-US').padStart(10)} deliveries/s, ` +
          `server ${m.serverCpuSeconds.toFixed(2)} CPU-s (${m.cpuPerMillion.toFixed(3)} per 1M), p99 ${m.latencyMs.p99} ms, ` +
          `client ${m.clientCpuSeconds.toFixed(2)} CPU-s elu ${(m.clientMaxElu * 100).toFixed(0)}%${keptUp ? '' : clientLimited ? '  FELL BEHIND (load client saturated)' : '  FELL BEHIND'}`,
      );
      if (!keptUp) break;
    }
  } finally {
    await pub.drain();
    await target.close();
    await run.stop();
  }
  const kept = steps.filter((s) => s.keptUp);
  const best = kept.reduce<FanoutStep | null>((b, s) => (b === null || s.deliveredPerSecond > b.deliveredPerSecond ? s : b), null);
  return { subscribers: subsPerChannel, steps, maxDeliveredPerSecond: best?.deliveredPerSecond ?? 0, best };
}

/**
 * One message per client per flush: every connection on its own channel, publications spread
 * over all channels, so each delivery costs one socket write.
 */
export async function quietScenario(
  c: RunningContender,
  o: { connections: number; rate: number; seconds: number; workers: number },
  log: Log,
): Promise<Measured> {
  const channels = Array.from({ length: o.connections }, (_, i) => `Q${i}.trade`);
  const run = await openSubscribers(c, o.connections, channels, 1, 10, o.workers);
  const target = await c.publisher();
  const pub = new RatePublisher(target, channels, 'sustained', o.rate, Number.MAX_SAFE_INTEGER);
  try {
    pub.start();
    await pause(1000);
    const m = await window(run, pub, c.pid, o.seconds, o.rate);
    log(
      `    ${o.rate} pub/s over ${o.connections} channels → ${Math.round(m.deliveredPerSecond).toLocaleString('en-US')} deliveries/s, server ${m.serverCpuSeconds.toFixed(2)} CPU-s (${m.cpuPerMillion.toFixed(3)} per 1M), p99 ${m.latencyMs.p99} ms, client ${m.clientCpuSeconds.toFixed(2)} CPU-s`,
    );
    return m;
  } finally {
    await pub.drain();
    await target.close();
    await run.stop();
  }
}

/** Scenario 2: many connections × several channels each at a fixed publish rate; latency percentiles. */
export async function latencyScenario(
  c: RunningContender,
  o: { connections: number; channelsPerConnection: number; channelPool: number; rate: number; seconds: number; workers: number },
  log: Log,
): Promise<Measured> {
  const channels = Array.from({ length: o.channelPool }, (_, i) => `L${i}.trade`);
  const run = await openSubscribers(c, o.connections, channels, o.channelsPerConnection, 10, o.workers);
  const target = await c.publisher();
  const subsPerChannel = (run.totals().subscribed * o.channelsPerConnection) / o.channelPool;
  const pub = new RatePublisher(target, channels, 'sustained', o.rate, Number.MAX_SAFE_INTEGER);
  try {
    pub.start();
    await pause(2000);
    const m = await window(run, pub, c.pid, o.seconds, o.rate * subsPerChannel);
    log(
      `    ${o.rate} pub/s × ${subsPerChannel} subscribers → ${Math.round(m.deliveredPerSecond).toLocaleString('en-US')} deliveries/s, p50 ${m.latencyMs.p50} p99 ${m.latencyMs.p99} p99.9 ${m.latencyMs.p999} max ${m.latencyMs.max} ms, server ${m.serverCpuSeconds.toFixed(2)} CPU-s, client ${m.clientCpuSeconds.toFixed(2)} CPU-s elu ${(m.clientMaxElu * 100).toFixed(0)}%`,
    );
    return m;
  } finally {
    await pub.drain();
    await target.close();
    await run.stop();
  }
}

export interface IdleResult {
  readonly connections: number;
  readonly rssBaseBytes: number;
  readonly rssBytes: number;
  readonly bytesPerConnection: number;
}

/** Scenario 3: idle subscribed connections; server RSS growth per connection. */
export async function idleScenario(c: RunningContender, o: { connections: number; workers: number }, log: Log): Promise<IdleResult> {
  await pause(1000);
  const base = rssBytes(c.pid);
  const channels = Array.from({ length: 100 }, (_, i) => `I${i}.trade`);
  const run = await openSubscribers(c, o.connections, channels, 1, 1000, o.workers);
  try {
    await pause(3000);
    const rss = rssBytes(c.pid);
    const n = run.totals().subscribed;
    const r = { connections: o.connections, rssBaseBytes: base, rssBytes: rss, bytesPerConnection: (rss - base) / n };
    log(
      `    ${o.connections} idle connections: RSS ${(base / 2 ** 20).toFixed(1)} → ${(rss / 2 ** 20).toFixed(1)} MiB, ${(r.bytesPerConnection / 1024).toFixed(2)} KiB per connection`,
    );
    return r;
  } finally {
    await run.stop();
  }
}
