/** `gateway --ingest kafka`: a KafkaIngest publishing through the running gateway, with its readiness and metrics. */
import { hostname } from 'node:os';
import { ApiError } from '../core/gateway.js';
import type { Logger } from '../core/stats.js';
import type { RunningGateway } from '../server/server.js';
import { kafkaConnection, resolveIngestMode, type KafkaSection } from './config.js';
import { KafkaIngest } from './ingest.js';
import { registerKafkaMetrics } from './metrics.js';

export async function startKafkaIngest(section: KafkaSection, broker: string, gw: RunningGateway, log: Logger): Promise<KafkaIngest> {
  const { mode, start } = resolveIngestMode(section, broker);
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
      // Through Gateway.publish, so namespaces (history size and TTL) apply as for any publication.
      publish: (channel, data, idempotencyKey, type) => gw.gateway.publish({ channel, data, idempotencyKey, tags: { type } }),
      // Unknown channel or bad request: retrying cannot help. Unavailable (503) or internal: retry.
      isPermanent: (err) => err instanceof ApiError && err.httpStatus < 500,
      log,
      onLatency,
    },
    `${hostname()}-${gw.port}`,
  );
  gw.addReadinessCheck('kafka', () => ingest?.readiness() ?? null);
  await ingest.start();
  log.info({ brokers: section.brokers, group: ingest.group, mode, start, ready: ingest.isReady() }, 'kafka ingest started');
  return ingest;
}
