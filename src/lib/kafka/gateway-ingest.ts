/** `gateway --ingest kafka`: the ingest factory (server/ingest.ts), with its readiness check and metrics. */
import { hostname } from 'node:os';
import { CodedError } from '../protocol/codes.js';
import { httpStatusOf } from '../server/api-errors.js';
import type { GatewayAppConfig } from '../server/config.js';
import type { IngestContext } from '../server/ingest.js';
import type { IngestSink } from '../core/ingest.js';
import { ConfigError } from '../core/options.js';
import { kafkaConnection, resolveIngestMode } from './config.js';
import { KafkaIngest } from './ingest.js';
import { registerKafkaMetrics } from './metrics.js';

export function kafkaIngestFactory(cfg: GatewayAppConfig, sink: IngestSink, _onError: unknown, ctx: IngestContext): KafkaIngest {
  const section = cfg.kafka;
  if (!section) throw new ConfigError('ingest: kafka needs the kafka options');
  const { gw, log } = ctx;
  const { mode, start } = resolveIngestMode(section, cfg.broker);
  let ingest: KafkaIngest | null = null;
  const onLatency = registerKafkaMetrics(gw.registry, () => ingest);
  ingest = new KafkaIngest(
    {
      connection: kafkaConnection(section, `odin-ws-gateway-${gw.gateway.nodeId}`),
      groupId: section.group,
      mode,
      start,
      ...(section.rules ? { rules: section.rules } : {}),
      maxRecordBytes: section.maxRecordBytes,
      publish: (channel, data, opts) => sink.publish(channel, data, opts),
      // Unknown channel or bad request: retrying cannot help. Unavailable (503) or internal: retry.
      isPermanent: (err) => err instanceof CodedError && httpStatusOf(err) < 500,
      log,
      onLatency,
    },
    `${hostname()}-${gw.port}`,
  );
  gw.addReadinessCheck('kafka', () => ingest?.readiness() ?? null);
  log.info({ brokers: section.brokers, group: ingest.group, mode, start }, 'kafka ingest configured');
  return ingest;
}
