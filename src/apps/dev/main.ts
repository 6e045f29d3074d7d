/**
 * `odin-ws dev` (what `npm start` runs): the gateway's own composition root (apps/gateway) on the
 * embedded broker, plus the simulated feed, in one process — so the two cannot drift.
 */
import { randomBytes } from 'node:crypto';
import { toNumber } from '../../lib/runtime/flags.js';
import { ConfigError } from '../../lib/core/options.js';
import { createLogger } from '../../lib/runtime/logger.js';
import { startPublisher } from '../../lib/publisher/server.js';
import { isLoopback } from '../../lib/http/loopback.js';
import type { SinkOptions } from '../../lib/publisher/options.js';
import { startLocalKafka, type LocalKafka } from '../../lib/kafka-local/local-broker.js';
import { loadGatewayConfig } from '../gateway/options.js';
import { composeGateway } from '../gateway/compose.js';
import { onShutdownSignal } from '../gateway/main.js';

/** The simulated feed's rate in `odin-ws dev`: enough to see data flow, light on a laptop. */
const DEV_EVENTS_PER_SECOND = 20;

export const DEV_HELP = `Usage: odin-ws dev [gateway options]

Runs the local stack on the embedded default: the gateway (in-memory broker) on port 3002 and
the publisher (control API on port 3003, PUBLISHER_PORT) feeding simulated Odin events, so
data flows at once. Prints the URLs and the API key.
Ctrl-C stops it cleanly. Takes the gateway's options (odin-ws gateway --help).

  --kafka   the same stack on a real local Kafka broker (no Docker: tools/kafka's jars, Java 17):
            the publisher writes the Odin topics, the gateway ingests them (docs/kafka.md).
            KAFKA_PORT (default 19092; 0 = any free port).
`;

export async function devCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DEV_HELP);
    return 0;
  }
  const env = { ...process.env };
  env.GATEWAY_API_KEY ||= 'dev-' + randomBytes(8).toString('hex');
  // The dashboard's console drives this process's publisher (set once it listens); its admin password is printed below.
  env.GATEWAY_ADMIN_PASSWORD ||= 'dev-' + randomBytes(8).toString('hex');
  const publisherPort = toNumber('PUBLISHER_PORT', process.env.PUBLISHER_PORT, { integer: true, min: 0, error: ConfigError }, 3003);
  const withKafka = argv.includes('--kafka');
  const kafkaPort = withKafka ? toNumber('KAFKA_PORT', env.KAFKA_PORT, { integer: true, min: 0, error: ConfigError }, 19092) : 0;
  const gatewayArgv = withKafka ? [...argv.filter((a) => a !== '--kafka'), '--ingest', 'kafka'] : argv;
  // Options are checked before anything starts (a bad one exits 2 with nothing to clean up).
  loadGatewayConfig(gatewayArgv, withKafka ? { ...env, KAFKA_BROKERS: '127.0.0.1:1' } : env);
  let kafka: LocalKafka | null = null;
  if (withKafka) {
    kafka = await startLocalKafka(kafkaPort === 0 ? {} : { port: kafkaPort });
    env.KAFKA_BROKERS = kafka.bootstrap;
  }
  const cfg = loadGatewayConfig(gatewayArgv, env);
  const log = createLogger(cfg.gateway.logLevel, 'dev');
  let gw;
  try {
    gw = await composeGateway(cfg, { log });
  } catch (err) {
    await kafka?.stop();
    throw err;
  }
  const sink: SinkOptions = kafka
    ? { kind: 'kafka', connection: { brokers: [kafka.bootstrap], clientId: 'odin-ws-dev' } }
    : { kind: 'gateway', url: gw.url, apiKey: cfg.gateway.apiKey };
  const feed = await startPublisher({
    port: publisherPort,
    sink,
    autostart: true,
    messagesPerSecond: DEV_EVENTS_PER_SECOND,
    logger: log,
  });
  if (!env.PUBLISHER_URL) gw.dashboard?.setPublisherUrl(feed.url);
  const ws = gw.url.replace('http', 'ws');
  process.stdout.write(
    `\nodin-ws dev is running (in-memory broker${kafka ? `; feed through Kafka at ${kafka.bootstrap}` : ''})\n` +
      `  Listening on         ${cfg.gateway.host}${isLoopback(cfg.gateway.host) ? ' only (--host 0.0.0.0 opens it to the network)' : ''}\n` +
      `  Odin protocol        ${ws}/ws\n` +
      `  Centrifugo protocol  ${ws}/connection/websocket\n` +
      `  Server API           ${gw.url}/api/publish   (X-API-Key: ${cfg.gateway.apiKey})\n` +
      `  Health / metrics     ${gw.url}/health  ${gw.url}/metrics  ${gw.url}/stats\n` +
      `  Dashboard            ${gw.url}/dashboard   (admin password: ${env.GATEWAY_ADMIN_PASSWORD})\n` +
      `  Publisher            ${feed.url}/stats  (POST ${feed.url}/control to change rate or mix; ${DEV_EVENTS_PER_SECOND} events/s now)\n` +
      `  Watch a channel      node bin/odin-ws.js tail BTC.trade --url ${ws}/ws\n` +
      `  Publish              curl -s -H "X-API-Key: ${cfg.gateway.apiKey}" -d '{"channel":"BTC.trade","data":{"price":43250}}' ${gw.url}/api/publish\n\n`,
  );
  // The reverse of the start: the feed, then the gateway (its ingests first), then Kafka.
  onShutdownSignal(log, async () => {
    await feed.close();
    await gw.close();
    await kafka?.stop();
  });
  return -1;
}
