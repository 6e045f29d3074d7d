/**
 * Publishes this gateway process's stats row to the stats channel every interval: gauges
 * (connections, subscriptions, memory), rates over the interval (from core's counters),
 * delivery latency percentiles and event-loop delay over the interval, totals of slow-client
 * disconnects and refused connections by reason, and broker/ingest health.
 */
import { hostname } from 'node:os';
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import type { Gateway } from '../core/gateway.js';
import { figuresOf, type GatewayFigures } from '../core/figures.js';
import type { Ingest } from '../core/ingest.js';
import type { Logger } from '../core/logger.js';
import type { LatencyHistogram, PercentileSummary } from '../histogram/histogram.js';
import { STATS_CHANNEL } from '../protocol/addresses.js';
import { STATS_HISTORY_SIZE, STATS_HISTORY_TTL_MS } from './stats-channel.js';

/** One health source's state (NATS ingest, Kafka consumer lag, ...). */
export interface HealthReport {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}
export type HealthSource = () => HealthReport;

/** The row one process publishes; the page keys rows by `node`. Field names are the wire format (docs/dashboard.md). */
export interface StatsRow {
  readonly v: 1;
  readonly node: string;
  readonly pid: number;
  readonly host: string;
  readonly ts: number;
  readonly uptime: number;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly connections: { odin: number; centrifuge: number; total: number };
  readonly subscriptions: number;
  readonly channels: number;
  /** Per second over the last interval. */
  readonly rates: { publications: number; deliveries: number; messagesIn: number; bytesOut: number; connects: number };
  /** Publication accepted → fanned out on this node, ms, over the last interval. */
  readonly latencyMs: PercentileSummary;
  readonly slowDisconnects: number;
  readonly rejected: Record<string, number>;
  /** Event-loop delay over the last interval, ms, and utilisation 0..1. */
  readonly loop: { p50: number; p99: number; max: number; utilization: number };
  readonly memory: { rss: number; heapUsed: number; heapTotal: number };
  readonly health: Record<string, HealthReport>;
}

interface Counters {
  at: number;
  publications: number;
  deliveries: number;
  messagesIn: number;
  bytesOut: number;
  connects: number;
}

const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** The latency of a row whose interval had no histogram yet (no clients so far: nothing was fanned out). */
const NO_LATENCY: PercentileSummary = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };

export class StatsProducer {
  /**
   * Publication → fan-out latency over the interval. Made when the process first has clients
   * (switched at each row, like the loop delay): the HDR histogram library is imported then, not
   * at start, since a process without clients fans nothing out (docs/performance.md, "Fixed costs").
   */
  private latency: LatencyHistogram | null = null;
  private latencyLoading = false;
  /**
   * Event-loop delay, sampled every 10 ms by a timer of its own — 100 wake-ups a second, the
   * largest fixed cost of an idle process — so it runs only while the process has clients
   * (switched at each row): a process without clients reports the loop delay as 0.
   */
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private loopDelayOn = false;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private last: Counters;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private readonly host = hostname();
  readonly health = new Map<string, HealthSource>();

  constructor(
    private readonly gw: Gateway,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {
    this.last = this.counters();
  }

  start(): void {
    if (this.timer) return;
    // Core has one latency callback (the Prometheus histogram's); chain after it.
    const prev = this.gw.stats.onBroadcastLatency;
    this.gw.stats.onBroadcastLatency = (sec) => {
      prev?.(sec);
      this.latency?.record(sec * 1e6);
    };
    this.watchClients(figuresOf(this.gw).connections.total > 0);
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watchClients(false);
  }

  /** Samples the loop delay while there are clients, and makes the latency histogram when the first come. */
  private watchClients(on: boolean): void {
    if (on && this.latency === null && !this.latencyLoading) {
      this.latencyLoading = true;
      import('../histogram/histogram.js').then(
        (m) => {
          this.latency = new m.LatencyHistogram();
        },
        (err: unknown) => {
          this.latencyLoading = false; // tried again at the next row
          this.log.warn({ err }, 'dashboard: latency histogram not loaded');
        },
      );
    }
    if (on === this.loopDelayOn) return;
    this.loopDelayOn = on;
    if (on) this.loopDelay.enable();
    else this.loopDelay.disable();
  }

  private counters(f: GatewayFigures = figuresOf(this.gw)): Counters {
    return {
      at: performance.now(),
      publications: f.publications,
      deliveries: f.messages.out,
      messagesIn: f.messages.in,
      bytesOut: f.messages.bytesOut,
      connects: f.connectsTotal,
    };
  }

  /** Builds the row for the interval since the previous call and starts a new interval. */
  snapshot(): StatsRow {
    const gw = this.gw;
    const f = figuresOf(gw);
    const now = this.counters(f);
    const dt = Math.max(1, now.at - this.last.at) / 1000;
    const prev = this.last;
    const rate = (k: keyof Omit<Counters, 'at'>): number => round((now[k] - prev[k]) / dt);
    this.last = now;
    const elu = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    const ld = this.loopDelay;
    const loop = {
      p50: round(ld.count > 0 ? ld.percentile(50) / 1e6 : 0),
      p99: round(ld.count > 0 ? ld.percentile(99) / 1e6 : 0),
      max: round(ld.count > 0 ? ld.max / 1e6 : 0),
      utilization: round(elu.utilization, 3),
    };
    ld.reset();
    this.watchClients(f.connections.total > 0);
    const latencyMs = this.latency?.summary() ?? NO_LATENCY;
    this.latency?.reset();
    const mem = process.memoryUsage();
    const health: Record<string, HealthReport> = { broker: { ok: gw.broker.isReady() } };
    for (const [name, read] of this.health) {
      try {
        health[name] = read();
      } catch (err) {
        health[name] = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    return {
      v: 1,
      node: f.node,
      pid: process.pid,
      host: this.host,
      ts: Date.now(),
      uptime: f.uptime,
      ready: f.ready,
      draining: f.draining,
      connections: f.connections,
      subscriptions: f.subscriptions,
      channels: f.channels,
      rates: {
        publications: rate('publications'),
        deliveries: rate('deliveries'),
        messagesIn: rate('messagesIn'),
        bytesOut: rate('bytesOut'),
        connects: rate('connects'),
      },
      latencyMs,
      slowDisconnects: f.slowDisconnects,
      rejected: f.rejected,
      loop,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal },
      health,
    };
  }

  private async tick(): Promise<void> {
    const row = this.snapshot();
    if (this.gw.isDraining) return;
    try {
      // Straight to the broker: a stats row is not a client publication and is not counted as one.
      await this.gw.broker.publish(STATS_CHANNEL, JSON.stringify(row), {
        historySize: STATS_HISTORY_SIZE,
        historyTtlMs: STATS_HISTORY_TTL_MS,
        tags: { type: 'stats' },
      });
      if (this.failing) this.log.info({ channel: STATS_CHANNEL }, 'dashboard: stats publishing resumed');
      this.failing = false;
    } catch (err) {
      // Logged once per outage: the broker being down is already visible on /health.
      if (!this.failing) this.log.warn({ err, channel: STATS_CHANNEL }, 'dashboard: stats row not published');
      this.failing = true;
    }
  }
}

/** A health source from an ingest (NATS, Kafka): ok while running and connected; counters and lag as they are. */
export function ingestHealth(ingest: Ingest): HealthSource {
  return () => {
    const h = ingest.health();
    return { ...h, ok: h.running && h.connected };
  };
}
