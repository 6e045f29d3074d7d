/** `odin-ws gateway` and `odin-ws dev`: the only place that reads env and argv for the gateway. */
import { randomBytes } from 'node:crypto';
import type { Broker } from '../core/broker.js';
import { ConfigError } from '../core/options.js';
import { GATEWAY_HELP, loadGatewayConfig, type GatewayAppConfig } from './config.js';
import { createLogger } from './logger.js';
import { startGateway, type RunningGateway } from './server.js';
import { startPublisher } from '../publisher/server.js';
import type { Logger } from '../core/stats.js';
import { isClusterPrimary, natsBrokerFactory, runPrimary, startNatsIngest, workerCount } from './workers.js';

/** Hook for brokers other than memory (set by the JetStream package when it is wired). */
export type BrokerFactory = (cfg: GatewayAppConfig, log: Logger) => Promise<Broker>;
const brokerFactories = new Map<string, BrokerFactory>([['nats', natsBrokerFactory]]);
export function registerBrokerFactory(kind: string, f: BrokerFactory): void {
  brokerFactories.set(kind, f);
}

/** Stops `stop` on SIGINT/SIGTERM; a second signal forces exit. */
export function onShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function runGateway(cfg: GatewayAppConfig, log: Logger): Promise<RunningGateway> {
  let broker: Broker | undefined;
  if (cfg.broker !== 'memory') {
    const factory = brokerFactories.get(cfg.broker);
    if (!factory) throw new ConfigError(`broker: "${cfg.broker}" is not available in this build`);
    broker = await factory(cfg, log);
  }
  return startGateway(cfg.gateway, { log, transport: cfg.transport, ...(broker ? { broker } : {}) });
}

export async function gatewayCommand(argv: readonly string[]): Promise<number> {
  let cfg;
  try {
    cfg = loadGatewayConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`odin-ws gateway: ${err.message}\n(see odin-ws gateway --help)`);
      return 2;
    }
    throw err;
  }
  if (cfg.help) {
    process.stdout.write(GATEWAY_HELP);
    return 0;
  }
  const log = createLogger(cfg.gateway.logLevel, 'gateway');
  const workers = workerCount(cfg);
  if (workers > 1 && isClusterPrimary()) {
    runPrimary(workers, log);
    return -1;
  }
  const gw = await runGateway(cfg, log);
  const ingest = await startNatsIngest(cfg, gw, log);
  log.info({ url: gw.url, odin: `${gw.url.replace('http', 'ws')}/ws`, centrifuge: `${gw.url.replace('http', 'ws')}/connection/websocket`, broker: cfg.broker }, 'gateway listening');
  onShutdownSignal(log, async () => {
    await ingest?.stop();
    await gw.close();
  });
  return -1; // keep running
}

/** The simulated feed's rate in `odin-ws dev`: enough to see data flow, light on a laptop. */
const DEV_EVENTS_PER_SECOND = 20;

export const DEV_HELP = `Usage: odin-ws dev [gateway options]

Runs the local stack on the embedded default: the gateway (in-memory broker) on port 3002 and
the publisher (control API on port 3003, PUBLISHER_PORT) feeding simulated Odin events, so
data flows at once. Prints the URLs and the API key.
Ctrl-C stops it cleanly. Takes the gateway's options (odin-ws gateway --help).
`;

export async function devCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DEV_HELP);
    return 0;
  }
  const env = { ...process.env };
  env.GATEWAY_API_KEY ||= 'dev-' + randomBytes(8).toString('hex');
  let cfg;
  try {
    cfg = loadGatewayConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`odin-ws dev: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(cfg.gateway.logLevel, 'dev');
  const gw = await runGateway(cfg, log);
  const publisherPort = process.env.PUBLISHER_PORT ? Number(process.env.PUBLISHER_PORT) : 3003;
  const feed = await startPublisher({
    port: publisherPort,
    sink: { kind: 'gateway', url: gw.url, apiKey: cfg.gateway.apiKey },
    autostart: true,
    messagesPerSecond: DEV_EVENTS_PER_SECOND,
    logger: log,
  });
  const ws = gw.url.replace('http', 'ws');
  process.stdout.write(
    `\nodin-ws dev is running (in-memory broker)\n` +
      `  Odin protocol        ${ws}/ws\n` +
      `  Centrifugo protocol  ${ws}/connection/websocket\n` +
      `  Server API           ${gw.url}/api/publish   (X-API-Key: ${cfg.gateway.apiKey})\n` +
      `  Health / metrics     ${gw.url}/health  ${gw.url}/metrics  ${gw.url}/stats\n` +
      `  Publisher            ${feed.url}/stats  (POST ${feed.url}/control to change rate or mix; ${DEV_EVENTS_PER_SECOND} events/s now)\n` +
      `  Try: npx wscat -c ${ws}/ws  then  {"type":"subscribe","data":{"channels":["BTC.trade","ETH.trade"]}}\n\n`,
  );
  onShutdownSignal(log, async () => {
    await feed.close();
    await gw.close();
  });
  return -1;
}
