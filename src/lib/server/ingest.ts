/**
 * Wires the configured ingests (core/ingest.ts) into a running gateway, on any broker:
 * publications go through Gateway.publish, so namespaces and the broker's ordering apply.
 * NATS is built in; other backbones (Kafka) register a factory.
 */
import type { Ingest, IngestSink } from '../core/ingest.js';
import type { Logger } from '../core/logger.js';
import { ConfigError } from '../core/options.js';
import { NatsIngest } from '../ingest-nats/nats-ingest.js';
import { kafkaIngestFactory } from '../kafka/gateway-ingest.js';
import type { GatewayAppConfig } from './config.js';
import { addIngestMetrics } from './metrics.js';
import type { RunningGateway } from './server.js';

/** What a factory may use besides the sink: the running gateway (readiness checks, metrics registry) and the log. */
export interface IngestContext {
  readonly gw: RunningGateway;
  readonly log: Logger;
}

export type IngestFactory = (
  cfg: GatewayAppConfig,
  sink: IngestSink,
  onError: (err: unknown, channel: string) => void,
  ctx: IngestContext,
) => Ingest;

const natsFactory: IngestFactory = (cfg, sink, onError) => {
  const ing = cfg.jetstream.ingest;
  return new NatsIngest({
    servers: cfg.natsUrl,
    ...(ing.rules !== undefined ? { rules: ing.rules } : {}),
    ...(ing.queue !== undefined ? { queue: ing.queue } : {}),
    // Gateways sharing a broker share the feed: one reads it at a time (ingest-nats/lease.ts).
    ...(cfg.broker !== 'memory' && ing.queue === undefined && ing.lease !== false
      ? { lease: { ...(ing.leaseTtlMs !== undefined ? { ttlMs: ing.leaseTtlMs } : {}) } }
      : {}),
    broker: sink,
    onError,
  });
};

const ingestFactories = new Map<string, IngestFactory>([
  ['nats', natsFactory],
  ['kafka', kafkaIngestFactory],
]);

export function registerIngestFactory(kind: string, f: IngestFactory): void {
  ingestFactories.set(kind, f);
}

/** Starts every ingest named by `cfg.ingest` ([] when none); a failing one stops those started. */
export async function startIngests(cfg: GatewayAppConfig, gw: RunningGateway, log: Logger): Promise<Ingest[]> {
  const sink: IngestSink = {
    publish: (channel, data, opts) =>
      gw.gateway.publish({
        channel,
        data,
        ...(opts?.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(opts?.tags !== undefined ? { tags: opts.tags } : {}),
        ...(opts?.source !== undefined ? { source: opts.source } : {}),
      }),
  };
  const started: Ingest[] = [];
  for (const kind of cfg.ingest) {
    const factory = ingestFactories.get(kind);
    if (!factory) throw new ConfigError(`ingest: "${kind}" is not available in this build`);
    let failures = 0;
    const ingest = factory(
      cfg,
      sink,
      (err, channel) => {
        // Rate-limited: an outage fails every message.
        if (failures++ % 1000 === 0) log.warn({ err, channel, failures, ingest: kind }, 'ingest: publication failed');
      },
      { gw, log },
    );
    try {
      await ingest.start();
    } catch (err) {
      for (const s of started) await s.stop().catch(() => undefined);
      throw err;
    }
    started.push(ingest);
    log.info({ ingest: kind, broker: cfg.broker, reading: ingest.health().reading }, 'ingest started');
  }
  if (started.length > 0) addIngestMetrics(gw.registry, () => started.map((i) => i.health()));
  return started;
}
