/** `odin-ws gateway`: the only place that reads env and argv for the gateway. */
import { ConfigError } from '../../lib/core/options.js';
import { GATEWAY_HELP, loadGatewayConfig } from '../../lib/server/config.js';
import { createLogger } from '../../lib/runtime/logger.js';
import { onShutdownSignal, runGateway } from '../../lib/server/run.js';
import cluster from 'node:cluster';
import { ingestHealth } from '../../lib/dashboard/stats-producer.js';
import { isClusterPrimary, runPrimary, workerCount } from '../../lib/server/workers.js';
import { startIngests } from '../../lib/server/ingest.js';

const isWorker = (): boolean => cluster.isWorker;

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
  if (cfg.gateway.apiKey === '' && (!isWorker() || process.env.ODIN_WS_WORKER_SLOT === '0'))
    log.warn(
      'no API key: every POST /api/* (publish, broadcast, ...) answers 401; set --api-key or GATEWAY_API_KEY to publish through the server API',
    );
  const gw = await runGateway(cfg, log);
  let ingests;
  try {
    ingests = await startIngests(cfg, gw, log);
  } catch (err) {
    log.error({ err, ingest: cfg.ingest, natsUrl: cfg.natsUrl }, 'cannot start ingest');
    await gw.close();
    return 1;
  }
  for (const i of ingests) gw.dashboard?.addHealth(`ingest-${i.kind}`, ingestHealth(i));
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
  onShutdownSignal(log, async () => {
    for (const i of ingests) await i.stop();
    await gw.close();
  });
  return -1; // keep running
}
