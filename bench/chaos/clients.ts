/**
 * Bench (not a test): client faults at length, against a gateway process, with the load tester's
 * gap detection (offsets per subscription: lost, duplicated, reordered).
 *
 *  churn [connections=1000] [seconds=120] [dropsPerSecond=20] [rate=200]
 *      Random TCP cuts while publishing through the API (memory broker); each cut client
 *      reconnects with its positions. Gateway gauges, open fds and RSS recorded after the ramp and
 *      again after every client left. The soak is the same run at 30 minutes:
 *      `node dist/bench/chaos/clients.js churn 1000 1800 20 200`.
 *  storm [connections=1000] [rate=200]
 *      JetStream broker (nats-server); the gateway is stopped (3001 to everyone) and a new one
 *      started on the same port: all clients reconnect at once and recover; time until every one
 *      is subscribed again, refusals counted, nothing lost.
 *
 *   npm run build && node dist/bench/chaos/clients.js churn|storm [...]
 * Prints one JSON line; exits 1 if anything was lost, duplicated or not recovered.
 */
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { LoadRun, type Totals } from '../../src/lib/loadtest/runner.js';
import { HttpApiTarget, RatePublisher } from '../../src/lib/loadtest/publisher.js';
import { startGatewayProcess, pollUntil, type GatewayProcess } from '../../test/testkit/gateway-process.js';
import { freePort, startNatsServer } from '../../test/testkit/nats-cluster.js';
import { rssBytes } from '../proc.js';

const API_KEY = 'chaos-bench-key';
const CHANNELS = ['BTC', 'ETH', 'SOL', 'ODIN', 'DOGE'].map((s) => `${s}.trade`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const arg = (i: number, d: number): number => Number(process.argv[i] ?? d);

async function gauges(gw: GatewayProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of ['ws_connections_active', 'ws_subscriptions_active', 'ws_channels_active']) {
    const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
    out[name] = line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  for (const l of text.split('\n'))
    if (l.startsWith('ws_recovery_refusals_total{')) out[l.slice(0, l.lastIndexOf(' '))] = Number(l.slice(l.lastIndexOf(' ') + 1));
  return out;
}

async function topOffset(url: string, channel: string): Promise<number> {
  const r = await fetch(`${url}/api/history`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ channel, limit: 0 }),
  });
  return ((await r.json()) as { result?: { offset?: number } }).result?.offset ?? 0;
}

async function snapshot(gw: GatewayProcess): Promise<Record<string, number>> {
  return { ...(await gauges(gw)), fds: readdirSync(`/proc/${gw.pid}/fd`).length, rssMiB: Math.round(rssBytes(gw.pid) / 2 ** 20) };
}

function verdict(t: Totals): { lost: number; duplicatedOrReordered: number; notRecovered: number } {
  return { lost: t.missing, duplicatedOrReordered: t.duplicates, notRecovered: t.notRecovered };
}

const summary = (t: Totals): Record<string, unknown> => ({
  established: t.established,
  delivered: t.delivered,
  inOrder: t.inOrder,
  reconnects: t.reconnects,
  recovered: t.recovered,
  disconnects: t.disconnects,
  failed: t.failed,
  serverErrors: t.serverErrors,
});

async function churn(): Promise<boolean> {
  const connections = arg(3, 1000);
  const seconds = arg(4, 120);
  const drops = arg(5, 20);
  const rate = arg(6, 200);
  const gw = await startGatewayProcess({ natsUrl: '', broker: 'memory', apiKey: API_KEY, env: { LOG_LEVEL: 'info' } });
  try {
    const idle = await snapshot(gw);
    const run = await LoadRun.start({
      host: '127.0.0.1',
      port: gw.port,
      protocol: 'odin',
      connections,
      connectRate: 500,
      channels: CHANNELS,
      channelsPerConnection: 2,
      trackEvery: 1,
      perAddress: 20_000,
      reconnect: true,
      connectRetries: 5,
      dropPerSecond: drops,
    });
    await run.waitConnected((connections / 500) * 2000 + 15_000);
    const before = await snapshot(gw);
    const target = new HttpApiTarget(gw.url, API_KEY);
    const pub = new RatePublisher(target, CHANNELS, 'sustained', rate, seconds * 1000);
    pub.start();
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(30_000, end - Date.now()));
      const t = run.totals();
      console.error(
        `# ${Math.round((seconds * 1000 - (end - Date.now())) / 1000)} s: ${t.delivered} delivered, ${t.reconnects} reconnects, missing ${t.missing}, dup ${t.duplicates}`,
      );
    }
    await pub.drain();
    await sleep(2_000);
    const during = await snapshot(gw);
    const t = await run.stop();
    await target.close(); // its keep-alive sockets would count as the gateway's fds
    await pollUntil(async () => (await gauges(gw))['ws_connections_active'] === 0, 30_000, 'every connection gone', 200);
    await sleep(1_000);
    const after = await snapshot(gw);
    const v = verdict(t);
    console.log(
      JSON.stringify({
        scenario: 'churn',
        connections,
        seconds,
        dropsPerSecond: drops,
        rate,
        published: pub.stats.published,
        publishFailed: pub.stats.failed,
        ...v,
        ...summary(t),
        gateway: { idle, before, during, after },
        loadavg: loadavg().map((x) => Math.round(x * 10) / 10),
      }),
    );
    return v.lost + v.duplicatedOrReordered + v.notRecovered === 0;
  } finally {
    await gw.stop();
  }
}

async function storm(): Promise<boolean> {
  const connections = arg(3, 1000);
  const rate = arg(4, 200);
  const nats = await startNatsServer();
  const port = await freePort();
  const start = (): Promise<GatewayProcess> =>
    startGatewayProcess({ natsUrl: nats.url, apiKey: API_KEY, extraArgs: ['--port', String(port)], env: { GATEWAY_DRAIN_MS: '0' } });
  let gw = await start();
  try {
    const run = await LoadRun.start({
      host: '127.0.0.1',
      port,
      protocol: 'odin',
      connections,
      connectRate: 500,
      channels: CHANNELS,
      channelsPerConnection: 2,
      trackEvery: 1,
      perAddress: 20_000,
      reconnect: true,
      connectRetries: 1_000,
    });
    await run.waitConnected((connections / 500) * 2000 + 15_000);
    const pub = new RatePublisher(new HttpApiTarget(`http://127.0.0.1:${port}`, API_KEY), CHANNELS, 'sustained', rate, 40_000);
    pub.start();
    await sleep(10_000);
    const stoppedAt = Date.now();
    await gw.stop();
    gw = await start();
    const upAt = Date.now();
    await pollUntil(
      async () => (await gauges(gw))['ws_subscriptions_active'] === connections * 2,
      120_000,
      'every client subscribed again',
      100,
    );
    const allBackMs = Date.now() - upAt;
    await pub.drain();
    await sleep(2_000);
    const g = await snapshot(gw);
    // What the stream holds: each subscriber (2 channels of 5 per connection) must have got all of it.
    let inStream = 0;
    for (const ch of CHANNELS) inStream += await topOffset(`http://127.0.0.1:${port}`, ch);
    const expectedDeliveries = (inStream * connections * 2) / CHANNELS.length;
    const t = await run.stop();
    const v = verdict(t);
    console.log(
      JSON.stringify({
        scenario: 'storm',
        connections,
        rate,
        restartMs: upAt - stoppedAt,
        allSubscribedAgainMs: allBackMs,
        published: pub.stats.published,
        publishFailedDuringRestart: pub.stats.failed,
        inStream,
        expectedDeliveries,
        ...v,
        ...summary(t),
        gateway: g,
        loadavg: loadavg().map((x) => Math.round(x * 10) / 10),
      }),
    );
    return v.lost + v.duplicatedOrReordered + v.notRecovered === 0;
  } finally {
    await gw.stop();
    await nats.stop();
  }
}

const scenario = process.argv[2] ?? 'churn';
if (scenario !== 'churn' && scenario !== 'storm') {
  console.error(`unknown scenario "${scenario}" (churn, storm)`);
  process.exit(2);
}
const ok = scenario === 'churn' ? await churn() : await storm();
process.exit(ok ? 0 : 1);
