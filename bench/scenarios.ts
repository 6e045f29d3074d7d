/**
 * The benchmark scenarios. Each starts from a running contender, opens its subscribers with
 * the load client (worker processes), publishes through the contender's own ingress, and
 * reads the server's CPU (utime + stime) and RSS from /proc around the measured window.
 */
import { LoadRun, type WindowResult } from '../src/lib/loadtest/runner.js';
import { RatePublisher } from '../src/lib/loadtest/publisher.js';
import type { PercentileSummary } from '../src/lib/histogram/histogram.js';
import type { RunningContender } from './contenders.js';
import { processTree, raiseFdLimit, treeCpuSeconds as cpuSeconds, treeCpuTimes as cpuTimes, treeRssBytes as rssBytes } from './proc.js';

export type Log = (line: string) => void;

const CONNECT_RATE = 2000;
/** Connections that may fail to open (accept backlog overflow under load) before a scenario is void. */
const MAX_FAILED_SHARE = 0.01;
const PER_ADDRESS = 15_000;
/** A step keeps up when at least this share of the expected deliveries arrived in the window. */
export const KEEP_UP_RATIO = 0.95;
/** ...and its p99 stays under this, ms (`--p99-ms`: compare at a tighter bound, e.g. workers at the same p99). */
export const KEEP_UP_P99_MS = 1000;

/** A window kept up: ≥ KEEP_UP_RATIO of the expected deliveries, p99 under the bound, no disconnect. */
function keptUpIn(m: Measured, p99Ms = KEEP_UP_P99_MS): boolean {
  return m.deliveredPerSecond >= KEEP_UP_RATIO * m.expectedPerSecond && m.latencyMs.p99 < p99Ms && m.disconnects === 0;
}

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
  /**
   * The kernel's (stime) part of `cpuPerMillion`: the socket writes and, on loopback, the receive
   * path they run for the peer. Absent in results written before it was measured.
   */
  readonly systemCpuPerMillion?: number;
  readonly latencyMs: PercentileSummary;
  readonly missing: number;
  readonly clientCpuSeconds: number;
  readonly clientMaxElu: number;
  readonly clientSaturated: boolean;
  readonly publisherBehindTicks: number;
  readonly disconnects: number;
}

function measured(
  w: WindowResult,
  cpu: { total: number; system: number },
  expectedPerSecond: number,
  behind: number,
  disconnects: number,
): Measured {
  const perMillion = (s: number): number => (w.delivered > 0 ? s / (w.delivered / 1e6) : Number.POSITIVE_INFINITY);
  return {
    seconds: w.seconds,
    deliveredPerSecond: w.deliveredPerSecond,
    expectedPerSecond,
    serverCpuSeconds: cpu.total,
    cpuPerMillion: perMillion(cpu.total),
    systemCpuPerMillion: perMillion(cpu.system),
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

/**
 * Starts the load client against `c`: `connections` from many loopback source addresses
 * (PER_ADDRESS each), each subscribed to `perConn` of `channels`, opened at `connectRate` a
 * second with `connectRetries` retries each. Every scenario's connections are opened here.
 */
function startLoad(
  c: RunningContender,
  o: {
    connections: number;
    channels: string[];
    perConn: number;
    trackEvery: number;
    workers: number;
    connectRate: number;
    connectRetries: number;
  },
): Promise<LoadRun> {
  return LoadRun.start({
    host: c.host,
    port: c.port,
    protocol: c.protocol,
    ...(c.path !== undefined ? { path: c.path } : {}),
    connections: o.connections,
    connectRate: o.connectRate,
    channels: o.channels,
    channelsPerConnection: o.perConn,
    trackEvery: o.trackEvery,
    perAddress: PER_ADDRESS,
    reconnect: false,
    connectRetries: o.connectRetries,
    workers: o.workers,
  });
}

/** Opens subscribers at a steady pace (retrying the few opens a full accept backlog refuses) and waits until they are subscribed. */
async function openSubscribers(
  c: RunningContender,
  connections: number,
  channels: string[],
  perConn: number,
  trackEvery: number,
  workers: number,
  connectRate = CONNECT_RATE,
): Promise<LoadRun> {
  // A few opens fail when the accept backlog overflows during the ramp; they are retried.
  const run = await startLoad(c, { connections, channels, perConn, trackEvery, workers, connectRate, connectRetries: 5 });
  const ok = await run.waitConnected((connections / connectRate) * 3000 + 20_000);
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
  const t0 = cpuTimes(pid);
  const w = await run.beginWindow();
  await pause(seconds * 1000);
  const r = await run.endWindow(w);
  const t1 = cpuTimes(pid);
  const cpu = { total: t1.user + t1.system - (t0.user + t0.system), system: t1.system - t0.system };
  return measured(r, cpu, expectedPerSecond, pub.stats.behindTicks - behind0, disconnectsOf(run) - disc0);
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
  o: { subscribers: number; rates: number[]; stepSeconds: number; workers: number; p99Ms?: number },
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
    p99Ms?: number;
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
      const keptUp = keptUpIn(m, o.p99Ms);
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

/** Subscribers on one channel × publications per second on it (`--points 2000x25`). */
export interface RatePoint {
  readonly subscribers: number;
  readonly rate: number;
}

export interface RateResult extends Measured {
  readonly subscribers: number;
  readonly publishRate: number;
  /** Server RSS at the end of the window, bytes. */
  readonly rssBytes: number;
  readonly keptUp: boolean;
}

/** `2000x25` → { subscribers: 2000, rate: 25 }. */
export function parsePoint(text: string): RatePoint | null {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  if (!m) return null;
  const p = { subscribers: Number(m[1]), rate: Number(m[2]) };
  return p.subscribers > 0 && p.rate > 0 ? p : null;
}

/**
 * One fixed load at the Odin rates: N subscribers on one channel, R publications/s through the
 * contender's own feed (HTTP API, NATS subjects or Kafka records), a warm-up, then one measured
 * window: server CPU per delivery, latency, RSS. Where no batching applies (R ≤ 25/s) each
 * delivery is its own socket write.
 */
export async function rateScenario(
  c: RunningContender,
  o: RatePoint & { seconds: number; warmupSeconds: number; workers: number; p99Ms?: number },
  log: Log,
): Promise<RateResult> {
  const channels = ['BENCH.trade'];
  // About 100 timed connections whatever N is (every connection counts deliveries).
  const run = await openSubscribers(c, o.subscribers, channels, 1, Math.max(1, Math.round(o.subscribers / 100)), o.workers);
  const subscribed = run.totals().subscribed;
  const target = await c.publisher();
  const pub = new RatePublisher(target, channels, 'sustained', o.rate, Number.MAX_SAFE_INTEGER);
  try {
    pub.start();
    await pause(o.warmupSeconds * 1000);
    const m = await window(run, pub, c.pid, o.seconds, o.rate * subscribed);
    const rss = rssBytes(c.pid);
    const keptUp = keptUpIn(m, o.p99Ms);
    log(
      `    ${o.subscribers} × ${o.rate}/s → ${Math.round(m.deliveredPerSecond).toLocaleString('en-US')} of ${Math.round(m.expectedPerSecond).toLocaleString('en-US')} deliveries/s, ` +
        `server ${m.serverCpuSeconds.toFixed(2)} CPU-s (${m.cpuPerMillion.toFixed(2)} per 1M), p50 ${m.latencyMs.p50} p99 ${m.latencyMs.p99} ms, RSS ${(rss / 2 ** 20).toFixed(1)} MiB, ` +
        `client elu ${(m.clientMaxElu * 100).toFixed(0)}%${keptUp ? '' : '  FELL BEHIND'}`,
    );
    return { ...m, subscribers: subscribed, publishRate: o.rate, rssBytes: rss, keptUp };
  } finally {
    await pub.drain();
    await target.close();
    await run.stop();
  }
}

export interface ScaleResult {
  readonly connections: number;
  readonly subscribed: number;
  /** Opens that failed after their retries (by reason). */
  readonly failed: Record<string, number>;
  readonly rssBaseBytes: number;
  readonly rssBytes: number;
  readonly bytesPerConnection: number;
  /** Every connection receives one message a second (channels × 1 publication/s each). */
  readonly measured: Measured;
  /**
   * Publications missed: sequence gaps seen by the timed connections (servers whose pushes carry
   * an offset: odin-ws, Centrifugo; the Go gateway's envelope has none) plus disconnects.
   */
  readonly lost: number;
  /** Expected deliveries of the window that did not arrive within it (≥ 0): late or lost, for every server. */
  readonly shortfall: number;
}

/** Open files a server needs beyond its client connections (listeners, backbone sockets, files, accepts in flight). */
const FD_MARGIN = 500;

/**
 * Connection scale: N connections from many loopback source addresses (PER_ADDRESS each), each
 * subscribed to one of `channels` channels, every channel published once a second, so every
 * connection gets 1 msg/s. The server's open-file limit is raised first (prlimit), as a
 * production unit file would.
 */
export async function scaleScenario(
  c: RunningContender,
  o: { connections: number; channels: number; seconds: number; workers: number },
  log: Log,
): Promise<ScaleResult> {
  for (const pid of processTree(c.pid)) raiseFdLimit(pid, o.connections + FD_MARGIN);
  await pause(1000);
  const base = rssBytes(c.pid);
  const channels = Array.from({ length: o.channels }, (_, i) => `S${i}.trade`);
  const run = await openSubscribers(c, o.connections, channels, 1, Math.max(1, Math.round(o.connections / 1000)), o.workers);
  const t = run.totals();
  const target = await c.publisher();
  const pub = new RatePublisher(target, channels, 'sustained', o.channels, Number.MAX_SAFE_INTEGER);
  try {
    pub.start();
    await pause(3000);
    const m = await window(run, pub, c.pid, o.seconds, t.subscribed);
    const rss = rssBytes(c.pid);
    const lost = m.missing + m.disconnects;
    const shortfall = Math.max(0, Math.round((m.expectedPerSecond - m.deliveredPerSecond) * m.seconds));
    const r: ScaleResult = {
      connections: o.connections,
      subscribed: t.subscribed,
      failed: t.failed,
      rssBaseBytes: base,
      rssBytes: rss,
      bytesPerConnection: (rss - base) / Math.max(1, t.subscribed),
      measured: m,
      lost,
      shortfall,
    };
    log(
      `    ${t.subscribed} of ${o.connections} subscribed at 1 msg/s each: RSS ${(base / 2 ** 20).toFixed(1)} → ${(rss / 2 ** 20).toFixed(1)} MiB ` +
        `(${(r.bytesPerConnection / 1024).toFixed(2)} KiB/conn), p99 ${m.latencyMs.p99} ms, lost ${lost}, shortfall ${shortfall}, server ${m.serverCpuSeconds.toFixed(2)} CPU-s`,
    );
    return r;
  } finally {
    await pub.drain();
    await target.close();
    await run.stop();
  }
}

export interface StormResult {
  readonly connections: number;
  readonly subscribed: number;
  /** Handshakes that failed, by reason (no retries). */
  readonly failed: Record<string, number>;
  readonly failedCount: number;
  /** Open → subscribed, ms. */
  readonly connectMs: PercentileSummary;
  /** First attempt to the last connection subscribed or failed, s. */
  readonly seconds: number;
  readonly serverCpuSeconds: number;
}

/**
 * Handshake storm: N connections opened at once (no pacing, no retries) against a fresh server;
 * counts the handshakes (WebSocket upgrade + subscribe) that failed.
 */
export async function stormScenario(c: RunningContender, o: { connections: number; workers: number }, log: Log): Promise<StormResult> {
  for (const pid of processTree(c.pid)) raiseFdLimit(pid, o.connections + FD_MARGIN);
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  // All at once (each worker opens its share without pacing), no retries.
  const run = await startLoad(c, {
    connections: o.connections,
    channels: ['STORM.trade'],
    perConn: 1,
    trackEvery: 1000,
    workers: o.workers,
    connectRate: 1e9,
    connectRetries: 0,
  });
  try {
    await run.waitConnected(120_000);
    const seconds = (performance.now() - t0) / 1000;
    const t = run.totals();
    // Failed opens, plus any never answered within the wait.
    const failedCount = o.connections - t.subscribed;
    const r: StormResult = {
      connections: o.connections,
      subscribed: t.subscribed,
      failed: t.failed,
      failedCount,
      connectMs: run.connectAll.summary(),
      seconds,
      serverCpuSeconds: cpuSeconds(c.pid) - cpu0,
    };
    log(
      `    storm of ${o.connections}: ${t.subscribed} subscribed, ${failedCount} failed ${JSON.stringify(t.failed)} in ${seconds.toFixed(1)} s, ` +
        `connect p50 ${r.connectMs.p50} p99 ${r.connectMs.p99} ms, server ${r.serverCpuSeconds.toFixed(2)} CPU-s`,
    );
    return r;
  } finally {
    await run.stop();
  }
}
