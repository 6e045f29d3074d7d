/** Prometheus metrics of the publisher (`odin_publisher_*`), in a registry of its own. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EVENT_TYPES } from '../protocol/events.js';

/** What the metrics read at scrape time. */
export interface MetricsSource {
  publishedByType(): Readonly<Record<string, number>>;
  failed(): number;
  dropped(): number;
  publishing(): boolean;
  targetRate(): number;
  achievedRate(): number;
  sinkConnected(): boolean;
  inFlight(): number;
}

export interface PublisherMetrics {
  readonly registry: Registry;
  /** Sink answer time of one batch, seconds. */
  observeBatch(seconds: number): void;
}

export function createMetrics(source: MetricsSource, processMetrics: boolean): PublisherMetrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'odin_publisher_' });

  // Counters follow the publisher's own counts: at scrape, add what changed since the last one.
  const exported = new Map<string, number>();
  const published = new Counter({
    name: 'odin_publisher_events_published_total',
    help: 'Events the sink accepted, by event type.',
    labelNames: ['type'],
    registers: [registry],
    collect() {
      const counts = source.publishedByType();
      for (const type of EVENT_TYPES) {
        const now = counts[type] ?? 0;
        const delta = now - (exported.get(type) ?? 0);
        if (delta > 0) {
          published.inc({ type }, delta);
          exported.set(type, now);
        }
      }
    },
  });
  for (const type of EVENT_TYPES) published.inc({ type }, 0);
  deltaCounter(registry, 'odin_publisher_events_failed_total', 'Events the sink could not deliver.', source.failed);
  deltaCounter(
    registry,
    'odin_publisher_events_dropped_total',
    'Events skipped because they were due for over 1 s while the sink was busy.',
    source.dropped,
  );
  gauge(registry, 'odin_publisher_publishing', '1 while publishing.', () => (source.publishing() ? 1 : 0));
  gauge(registry, 'odin_publisher_target_rate_events_per_second', 'Target rate now.', source.targetRate);
  gauge(registry, 'odin_publisher_achieved_rate_events_per_second', 'Published events per second over the last 5 s.', source.achievedRate);
  gauge(registry, 'odin_publisher_sink_connected', '1 while the sink reaches its target.', () => (source.sinkConnected() ? 1 : 0));
  gauge(registry, 'odin_publisher_in_flight_batches', 'Batches handed to the sink and not answered yet.', source.inFlight);
  const batch = new Histogram({
    name: 'odin_publisher_batch_duration_seconds',
    help: 'Time from handing a batch to the sink to its answer.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, observeBatch: (s) => batch.observe(s) };
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

function deltaCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}
