/**
 * The Kafka ingest's Prometheus metrics, read from its plain counters at scrape time (the hot
 * path never calls prom-client), except the latency histogram, observed per publication.
 */
import { Gauge, Histogram, type Registry } from 'prom-client';
import { counterFrom, labelledCounterFrom } from '../runtime/prom-counters.js';
import type { KafkaIngest } from './ingest.js';

/** Registers the metrics; returns the latency observer to pass as the ingest's `onLatency`. */
export function registerKafkaMetrics(registry: Registry, ingest: () => KafkaIngest | null): (ms: number) => void {
  const s = () => ingest()?.stats;
  counterFrom(registry, 'odin_ws_kafka_records_consumed_total', 'Kafka records read by the ingest.', () => s()?.consumed ?? 0);
  counterFrom(
    registry,
    'odin_ws_kafka_records_published_total',
    'Kafka records published to channels (accepted by the broker).',
    () => s()?.published ?? 0,
  );
  labelledCounterFrom(registry, 'odin_ws_kafka_records_failed_total', 'Kafka records skipped, by reason.', 'reason', () =>
    Object.entries(s()?.failed ?? {}),
  );
  counterFrom(
    registry,
    'odin_ws_kafka_publish_errors_total',
    'Publications the broker refused for a while (retried after a reconnect).',
    () => s()?.publishErrors ?? 0,
  );
  counterFrom(
    registry,
    'odin_ws_kafka_records_duplicate_total',
    'Records already published (by an earlier session or another process), not published again.',
    () => s()?.duplicates ?? 0,
  );
  counterFrom(registry, 'odin_ws_kafka_reconnects_total', 'Kafka consumer sessions lost and reopened.', () => s()?.reconnects ?? 0);
  new Gauge({
    name: 'odin_ws_kafka_consumer_lag_records',
    help: 'Records in Kafka not yet published, per partition this node owns (measured every 5 s).',
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of ingest()?.lag.values() ?? []) this.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
    },
  });
  new Gauge({
    name: 'odin_ws_kafka_ready',
    help: '1 while the Kafka ingest is consuming.',
    registers: [registry],
    collect() {
      this.set(ingest()?.isReady() ? 1 : 0);
    },
  });
  const latency = new Histogram({
    name: 'odin_ws_kafka_ingest_latency_seconds',
    help: 'Record timestamp to publication accepted by the broker.',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return (ms) => latency.observe(ms / 1000);
}
