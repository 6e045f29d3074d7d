/**
 * Prometheus counters read from plain counters at scrape time (collect), so a hot path never
 * calls prom-client: shared by the gateway's metrics (server/metrics.ts) and the Kafka ingest's.
 */
import { Counter, type Registry } from 'prom-client';

/** A counter whose value is read at scrape time. */
export function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter with one label, its values read from core's counters at scrape time. */
export function labelledCounterFrom(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Iterable<readonly [string | number, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, n] of read()) this.inc({ [label]: String(value) }, n);
    },
  });
}
