/** `odin-ws dev` (what `npm start` runs): the gateway on the embedded broker and the simulated feed, in one process. */
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../lib/core/options.js';
import { loadGatewayConfig } from '../../lib/server/config.js';
import { toNumber } from '../../lib/runtime/flags.js';
import { createLogger } from '../../lib/runtime/logger.js';
import { onShutdownSignal, runGateway } from '../../lib/server/run.js';
import { startPublisher } from '../../lib/publisher/server.js';

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
  // The dashboard's console drives this process's publisher; its admin password is printed below.
  env.GATEWAY_ADMIN_PASSWORD ||= 'dev-' + randomBytes(8).toString('hex');
  let publisherPort: number;
  try {
    publisherPort = toNumber('PUBLISHER_PORT', process.env.PUBLISHER_PORT, { integer: true, min: 0 }, 3003);
  } catch (err) {
    console.error(`odin-ws dev: ${(err as Error).message}`);
    return 2;
  }
  env.PUBLISHER_URL ||= `http://127.0.0.1:${publisherPort}`;
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
      `  Dashboard            ${gw.url}/dashboard   (admin password: ${env.GATEWAY_ADMIN_PASSWORD})\n` +
      `  Publisher            ${feed.url}/stats  (POST ${feed.url}/control to change rate or mix; ${DEV_EVENTS_PER_SECOND} events/s now)\n` +
      `  Try: npx wscat -c ${ws}/ws  then  {"type":"subscribe","data":{"channels":["BTC.trade","ETH.trade"]}}\n\n`,
  );
  onShutdownSignal(log, async () => {
    await feed.close();
    await gw.close();
  });
  return -1;
}
