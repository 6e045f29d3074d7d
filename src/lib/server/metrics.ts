/**
 * Prometheus metrics. Names keep the old gateway's `ws_` prefix so existing dashboards work.
 * Counters are read from core's plain counters at scrape time (collect), so the hot path
 * never calls prom-client.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { counterFrom, labelledCounterFrom } from '../runtime/prom-counters.js';
import type { Gateway } from '../core/gateway.js';
import { figuresOf } from '../core/figures.js';
import type { IngestHealth } from '../core/ingest.js';
import type { BrokerTelemetry } from '../core/broker.js';
import { MemoryBroker } from '../core/broker-memory.js';

/**
 * How often prom-client samples the event-loop delay (nodejs_eventloop_lag_*), ms. Each sample is
 * a timer of its own: at 10 ms (its default) that timer woke an idle process 100 times a second,
 * nearly all of its idle CPU (docs/performance.md "Fixed costs"). A loop blocked for longer than
 * this is still seen in full by the sample due during the block; shorter stalls are sampled less.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetrics(gw: Gateway): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const s = gw.stats;

  new Gauge({
    name: 'ws_connections_active',
    help: 'Open client connections, by protocol.',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      const { odin, centrifuge } = figuresOf(gw).connections;
      this.set({ protocol: 'odin' }, odin);
      this.set({ protocol: 'centrifuge' }, centrifuge);
    },
  });
  labelledCounterFrom(registry, 'ws_connections_total', 'Client connections accepted, by protocol.', 'protocol', () =>
    Object.entries(s.connectionsTotal),
  );
  new Gauge({
    name: 'ws_subscriptions_active',
    help: 'Channel subscriptions held by clients.',
    registers: [registry],
    collect() {
      this.set(figuresOf(gw).subscriptions);
    },
  });
  new Gauge({
    name: 'ws_channels_active',
    help: 'Channels with at least one subscriber on this node (across --workers: the largest worker count).',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(figuresOf(gw).channels);
    },
  });
  new Gauge({
    name: 'ws_ready',
    help: '1 when the gateway is ready for traffic (across --workers: only when every worker is).',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(figuresOf(gw).ready ? 1 : 0);
    },
  });
  counterFrom(registry, 'ws_messages_received_total', 'Frames received from clients.', () => s.messagesIn);
  counterFrom(registry, 'ws_bytes_received_total', 'Bytes received from clients.', () => s.bytesIn);
  counterFrom(registry, 'ws_messages_sent_total', 'Frames sent to clients (deliveries and replies).', () => s.messagesOut);
  counterFrom(registry, 'ws_bytes_sent_total', 'Bytes sent to clients.', () => s.bytesOut);
  counterFrom(registry, 'ws_publications_total', 'Publications accepted through the API or client publish.', () => s.publications);
  counterFrom(
    registry,
    'ws_slow_clients_disconnected_total',
    'Clients disconnected because their outbound queue passed the limit.',
    () => s.slowDisconnects,
  );
  labelledCounterFrom(
    registry,
    'ws_replay_requests_total',
    'Subscriptions that asked to recover from a position, by outcome.',
    'outcome',
    () => Object.entries(s.recoveries),
  );
  labelledCounterFrom(
    registry,
    'ws_delta_deliveries_total',
    'Deliveries to Fossil delta subscriptions: as a patch, or whole (the first, or a patch not smaller).',
    'kind',
    () => [
      ['patch', s.deltaPatches],
      ['full', s.deltaFull],
    ],
  );
  labelledCounterFrom(
    registry,
    'ws_recovery_refusals_total',
    'Recoveries refused by a bound (command_limit: 106; connection_limit, node_budget, queue_full: 111), by bound.',
    'reason',
    () => Object.entries(s.recoveryRefusals),
  );
  const slots = gw.recoverySlots;
  new Gauge({
    name: 'ws_recoveries_in_progress',
    help: 'Recoveries (history reads returning publications) running now; at most recovery.maxConcurrent per process.',
    registers: [registry],
    collect() {
      this.set(slots.active);
    },
  });
  new Gauge({
    name: 'ws_recoveries_waiting',
    help: 'Recoveries queued for a slot (at most recovery.maxWaiting per process; past it refused, reason queue_full).',
    registers: [registry],
    collect() {
      this.set(slots.waiting);
    },
  });
  new Gauge({
    name: 'ws_recoveries_in_progress_peak',
    help: 'The most recoveries that ran at once since the process started (across --workers: the largest).',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(slots.peak);
    },
  });
  labelledCounterFrom(
    registry,
    'ws_token_refusals_total',
    'Connection and subscription tokens refused, by reason (invalid, expired, unavailable: the key set could not be fetched, mismatch: a subscription token for another channel, user or client).',
    'reason',
    () => Object.entries(s.tokenRefusals),
  );
  new Counter({
    name: 'ws_proxy_requests_total',
    help: 'Requests to the application (proxy.connect|subscribe|publish|refresh), by proxy and outcome: allowed, refused (its error or disconnect), failed (down, slow, non-2xx, garbage: refused with 100, temporary).',
    labelNames: ['proxy', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of s.proxyRequests) {
        const [proxy, outcome] = key.split(':');
        this.inc({ proxy, outcome }, n);
      }
    },
  });
  counterFrom(
    registry,
    'ws_subscriptions_expired_total',
    'Subscriptions ended because their subscription token ran out unrefreshed (unsubscribe 2501).',
    () => s.subscriptionsExpired,
  );
  labelledCounterFrom(
    registry,
    'ws_capacity_rejections_total',
    'Connections refused, by reason: at upgrade (max_connections 503, max_connections_per_ip 429, connection_rate 429, origin 403, draining 503, bad_path 404), or once the token named the user (max_connections_per_user: close 3504).',
    'reason',
    () => Object.entries(s.rejected),
  );
  counterFrom(
    registry,
    'ws_user_limit_unchecked_total',
    "Connections admitted without the cluster-wide maxConnectionsPerUser count: the JetStream broker's registry was unreachable (fail open; the per-process count still applied).",
    () => s.userLimitUnchecked,
  );
  labelledCounterFrom(registry, 'ws_disconnects_total', 'Connections closed, by close code.', 'code', () => s.disconnects);
  labelledCounterFrom(
    registry,
    'ws_command_errors_total',
    'Client commands answered with an error, by error code.',
    'code',
    () => s.commandErrors,
  );
  const latency = new Histogram({
    name: 'ws_broadcast_latency_seconds',
    help: 'Time from a publication being accepted to its fan-out on this node.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  s.onBroadcastLatency = (sec) => latency.observe(sec);
  labelledCounterFrom(
    registry,
    'ws_auth_refusals_total',
    'Secrets refused (server API key, admin login, admin token): wrong, or any while the address is blocked (429), by reason.',
    'reason',
    () => Object.entries(s.authRefusals),
  );
  const memory = gw.broker instanceof MemoryBroker ? gw.broker : null;
  labelledCounterFrom(
    registry,
    'ws_limit_refusals_total',
    'Refusals by a node-wide bound (limits.*, api.*; docs/reliability.md "Resource bounds"), by bound.',
    'limit',
    () => [
      ...Object.entries(s.limitRefusals),
      ['broker_channels', memory?.usage.refusals.channels ?? 0],
      ['history_bytes', memory?.usage.refusals.history_bytes ?? 0],
    ],
  );
  if (memory) {
    new Gauge({
      name: 'ws_broker_channels',
      help: 'Channels the memory broker holds (subscribed, or with history); at most limits.maxChannels with history.',
      registers: [registry],
      collect() {
        this.set(memory.usage.channels);
      },
    });
    new Gauge({
      name: 'ws_broker_history_bytes',
      help: 'Payload bytes the memory broker keeps in history; at most limits.maxHistoryBytes.',
      registers: [registry],
      collect() {
        this.set(memory.usage.historyBytes);
      },
    });
  }
  const bt = gw.broker.telemetry;
  if (bt) addBrokerMetrics(registry, bt);
  return registry;
}

/** Ingest health (core/ingest.ts) on /metrics: lag, backlog and message outcomes per feed. */
export function addIngestMetrics(registry: Registry, read: () => readonly IngestHealth[]): void {
  new Gauge({
    name: 'ws_ingest_lag_seconds',
    help: 'Age of the oldest feed message handed to the broker and not yet accepted (0 when idle), by feed.',
    labelNames: ['ingest'],
    registers: [registry],
    collect() {
      for (const h of read()) this.set({ ingest: h.kind }, h.lagMs / 1000);
    },
  });
  new Gauge({
    name: 'ws_ingest_in_flight',
    help: 'Feed messages handed to the broker and not yet accepted (bounded; past the bound they are dropped), by feed.',
    labelNames: ['ingest'],
    registers: [registry],
    collect() {
      for (const h of read()) this.set({ ingest: h.kind }, h.inFlight);
    },
  });
  new Gauge({
    name: 'ws_ingest_reading',
    help: '1 while this process reads the feed (with a lease, one process of several does), by feed.',
    labelNames: ['ingest'],
    registers: [registry],
    collect() {
      for (const h of read()) this.set({ ingest: h.kind }, h.reading ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ws_ingest_connected',
    help: '1 while the feed connection is up, by feed.',
    labelNames: ['ingest'],
    registers: [registry],
    collect() {
      for (const h of read()) this.set({ ingest: h.kind }, h.connected ? 1 : 0);
    },
  });
  new Counter({
    name: 'ws_ingest_messages_total',
    help: 'Feed messages by outcome: received, published, dropped (unparseable, unmapped, over the bound), failed (broker refused).',
    labelNames: ['ingest', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const h of read()) {
        for (const outcome of ['received', 'published', 'dropped', 'failed'] as const) this.inc({ ingest: h.kind, outcome }, h[outcome]);
      }
    },
  });
}

/** The broker's appends (core/broker.ts BrokerTelemetry): latency, group size, backlog, overload. */
function addBrokerMetrics(registry: Registry, bt: BrokerTelemetry): void {
  const latency = new Histogram({
    name: 'ws_broker_append_latency_seconds',
    help: 'Time from sending an append to the broker to its acknowledgement (retries included).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const size = new Histogram({
    name: 'ws_broker_append_publications',
    help: 'Publications stored per append (group commit).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [registry],
  });
  bt.onAppend = (sec, n) => {
    latency.observe(sec);
    size.observe(n);
  };
  new Gauge({
    name: 'ws_broker_append_backlog',
    help: 'Publications accepted on this node and waiting to be appended (bounded; past the bound publish answers 503).',
    registers: [registry],
    collect() {
      this.set(bt.backlog);
    },
  });
  counterFrom(
    registry,
    'ws_broker_overload_rejections_total',
    'Publications refused because the append backlog was full or too old.',
    () => bt.rejected,
  );
}
