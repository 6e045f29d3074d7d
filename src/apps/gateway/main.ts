/**
 * `odin-ws gateway`: reads argv and the environment once (options.ts), then either runs the
 * primary of `--workers N` (primary.ts) or this process's gateway (compose.ts), and stops it on
 * SIGINT/SIGTERM. Bad options throw a ConfigError: the CLI prints it and exits 2.
 */
import cluster from 'node:cluster';
import { createLogger } from '../../lib/runtime/logger.js';
import type { Logger } from '../../lib/core/logger.js';
import { loadGatewayConfig } from './options.js';
import { gatewayHelp } from './options-table.js';
import { composeGateway } from './compose.js';
import { isClusterPrimary, runPrimary } from './primary.js';

/** Runs `stop` on SIGINT/SIGTERM, then exits; a second signal forces exit. */
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

export async function gatewayCommand(argv: readonly string[]): Promise<number> {
  const cfg = loadGatewayConfig(argv, process.env);
  if (cfg.help) {
    process.stdout.write(gatewayHelp());
    return 0;
  }
  const log = createLogger(cfg.gateway.logLevel, 'gateway');
  if (cfg.workers > 1 && isClusterPrimary()) {
    runPrimary(cfg.workers, log);
    return -1;
  }
  if (cfg.gateway.apiKey === '' && (!cluster.isWorker || process.env.ODIN_WS_WORKER_SLOT === '0'))
    log.warn(
      'no API key: every POST /api/* (publish, broadcast, ...) answers 401; set GATEWAY_API_KEY (or apiKey in the --config file) to publish through the server API',
    );
  // A failure to start (port taken, NATS or an ingest unreachable) reaches the CLI: one line, exit 3 or 1.
  const gw = await composeGateway(cfg, { log });
  log.info(
    {
      url: gw.url,
      odin: `${gw.url.replace('http', 'ws')}/ws`,
      centrifuge: `${gw.url.replace('http', 'ws')}/connection/websocket`,
      broker: cfg.broker,
      ingest: cfg.ingest,
      dashboard: gw.dashboard ? `${gw.url}/dashboard` : 'off',
    },
    'gateway listening',
  );
  onShutdownSignal(log, () => gw.close());
  return -1; // keep running
}
