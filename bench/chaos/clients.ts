/**
 * Bench (not a test): client faults at length, against a gateway process, with the load tester's
 * gap detection (offsets per subscription: lost, duplicated, reordered).
 *
 *  churn [connections=1000] [seconds=120] [dropsPerSecond=20] [rate=200]
 *      Random TCP cuts while publishing through the API (memory broker); each cut client
 *      reconnects with its positions. Gateway gauges, open fds and RSS recorded after the ramp and
 *      again after every client left. The soak is the same run at 30 minutes:
 *      `node dist/bench/chaos/clients.js churn 1000 1800 20 50`.
 *  storm [connections=1000] [rate=200] [sdkClients=20] [maxConcurrent] [maxWaiting]
 *      JetStream broker (nats-server); the gateway is stopped (3001 and a jittered
 *      reconnect_delay_ms to everyone) and a new one started on the same port: all clients
 *      reconnect at once and recover (test/testkit/storm.ts); time until every one is subscribed
 *      again, the recovery slots' peak and refusals, nothing lost (Odin load-tester clients and
 *      real centrifuge SDK clients). maxConcurrent/maxWaiting override recovery.* for the run.
 *
 *   npm run build && node dist/bench/chaos/clients.js churn|storm [...]
 * Prints one JSON line (with the run's CHAOS_SEED); exits 1 if anything was lost, duplicated or not
 * recovered. `CHAOS_SEED=<seed>` replays a run's random draws (docs/reliability.md).
 */
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadRun, type Totals } from '../../src/lib/loadtest/runner.js';
import { HttpApiTarget, RatePublisher } from '../../src/lib/loadtest/publisher.js';
import { startGatewayProcess, type GatewayProcess } from '../../test/testkit/gateway-process.js';
import { waitFor } from '../../test/testkit/wait.js';
import { runReconnectStorm } from '../../test/testkit/storm.js';
import { chaosSeed } from '../../test/testkit/chaos-seed.js';
import { rssBytes } from '../proc.js';

const API_KEY = 'chaos-bench-key';
const CHANNELS = ['BTC', 'ETH', 'SOL', 'ODIN', 'DOGE'].map((s) => `${s}.trade`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const arg = (i: number, d: number): number => Number(process.argv[i] ?? d);
/** Seed of every random draw of the run (which connections are cut, reconnect jitter). */
const seed = chaosSeed();
console.error(`# CHAOS_SEED=${seed}`);

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

async function snapshot(gw: GatewayProcess): Promise<Record<string, number>> {
  return { ...(await gauges(gw)), fds: readdirSync(`/proc/${gw.pid}/fd`).length, rssMiB: Math.round(rssBytes(gw.pid) / 2 ** 20) };
}

/** RSS and V8 heap (used, total) and external memory of the gateway, MiB, from /proc and /metrics. */
async function memory(gw: GatewayProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const mib = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return line === undefined ? NaN : Math.round((Number(line.slice(line.lastIndexOf(' ') + 1)) / 2 ** 20) * 10) / 10;
  };
  return {
    rssMiB: Math.round(rssBytes(gw.pid) / 2 ** 20),
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  };
}

/**
 * A heap snapshot of the gateway (started with `--heapsnapshot-signal=SIGUSR2`): V8 runs a full
 * garbage collection before writing it, so the memory read afterwards is what is really retained.
 * Waits until the file stops growing and the gateway answers /metrics again.
 */
async function gcAndSnapshot(gw: GatewayProcess, dir: string): Promise<Record<string, number | string>> {
  const before = new Set(readdirSync(dir));
  process.kill(gw.pid, 'SIGUSR2');
  let file = '';
  await waitFor(
    async () => {
      file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot')) ?? '';
      if (file === '') return false;
      const size = statSync(join(dir, file)).size;
      await sleep(500);
      return size > 0 && statSync(join(dir, file)).size === size;
    },
    120_000,
    'heap snapshot written',
    { everyMs: 200 },
  );
  return { ...(await memory(gw)), snapshot: join(dir, file) };
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
  const heapDir = mkdtempSync(join(tmpdir(), 'churn-heap-'));
  const gw = await startGatewayProcess({
    natsUrl: '',
    broker: 'memory',
    apiKey: API_KEY,
    env: { LOG_LEVEL: 'info', NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${heapDir}` },
  });
  const curve: Record<string, number>[] = [];
  try {
    // No snapshot here: writing one grows the RSS by tens of MiB, which would hide the run's own growth.
    const idle = { ...(await snapshot(gw)), ...(await memory(gw)) };
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
      seed,
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
      curve.push({ s: Math.round((seconds * 1000 - (end - Date.now())) / 1000), ...(await memory(gw)) });
      console.error(JSON.stringify(curve[curve.length - 1]));
      console.error(
        `# ${Math.round((seconds * 1000 - (end - Date.now())) / 1000)} s: ${t.delivered} delivered, ${t.reconnects} reconnects, missing ${t.missing}, dup ${t.duplicates}`,
      );
    }
    await pub.drain();
    await sleep(2_000);
    const during = await snapshot(gw);
    const t = await run.stop();
    await target.close(); // its keep-alive sockets would count as the gateway's fds
    await waitFor(async () => (await gauges(gw))['ws_connections_active'] === 0, 30_000, 'every connection gone', { everyMs: 200 });
    await sleep(1_000);
    const after = { ...(await snapshot(gw)), ...(await memory(gw)) };
    const afterGc = await gcAndSnapshot(gw, heapDir);
    const v = verdict(t);
    console.log(
      JSON.stringify({
        scenario: 'churn',
        seed,
        connections,
        seconds,
        dropsPerSecond: drops,
        rate,
        published: pub.stats.published,
        publishFailed: pub.stats.failed,
        ...v,
        ...summary(t),
        gateway: { idle, before, during, after },
        memory: { afterGc, curve },
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
  const sdkClients = arg(5, 20);
  // Optional: recovery.maxConcurrent and maxWaiting (defaults: the gateway's own).
  const maxConcurrent = process.argv[6];
  const maxWaiting = process.argv[7];
  const recovery: Record<string, number> = {};
  if (maxConcurrent !== undefined) recovery.maxConcurrent = Number(maxConcurrent);
  if (maxWaiting !== undefined) recovery.maxWaiting = Number(maxWaiting);
  const r = await runReconnectStorm({
    connections,
    sdkClients,
    rate,
    beforeMs: 10_000,
    allBackTimeoutMs: 180_000,
    gateway: Object.keys(recovery).length > 0 ? { recovery } : {},
    seed,
    log: (l) => console.error(l),
  });
  const v = verdict(r.odin);
  console.log(
    JSON.stringify({
      scenario: 'storm',
      seed,
      connections,
      sdkClients,
      rate,
      recovery,
      restartMs: r.restartMs,
      allSubscribedAgainMs: r.allSubscribedAgainMs,
      published: r.published,
      publishFailedDuringRestart: r.publishFailed,
      inStream: r.inStream,
      expectedDeliveries: r.expectedDeliveries,
      ...v,
      ...summary(r.odin),
      sdk: r.sdk,
      slots: r.slots,
      loadavg: loadavg().map((x) => Math.round(x * 10) / 10),
    }),
  );
  const sdkBad = r.sdk.lost + r.sdk.duplicated + r.sdk.reordered + r.sdk.notRecovered;
  return v.lost + v.duplicatedOrReordered + v.notRecovered + sdkBad === 0 && r.odin.delivered === r.expectedDeliveries;
}

const scenario = process.argv[2] ?? 'churn';
if (scenario !== 'churn' && scenario !== 'storm') {
  console.error(`unknown scenario "${scenario}" (churn, storm)`);
  process.exit(2);
}
const ok = scenario === 'churn' ? await churn() : await storm();
process.exit(ok ? 0 : 1);
