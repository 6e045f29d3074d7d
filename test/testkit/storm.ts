/**
 * Test helper (also bench/chaos/clients.ts `storm`): a reconnect storm on the JetStream broker.
 * A real nats-server; a gateway process with load-tester Odin clients (and optionally real
 * centrifuge SDK clients) subscribed, publishing through the API; the gateway is stopped (3001
 * with a jittered `reconnect_delay_ms` to everyone) and a new one started on the same port; every
 * client reconnects and recovers from its positions. Measures time until all are subscribed
 * again, the gateway's recovery slots (peak concurrent, waiting, refusals), and checks every
 * subscriber against what the stream holds: nothing lost, duplicated or reordered.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadRun, type Totals } from '../../src/lib/loadtest/runner.js';
import { HttpApiTarget, RatePublisher } from '../../src/lib/loadtest/publisher.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { waitFor } from './wait.js';
import { freePort } from './free-port.js';
import { startNatsServer } from './nats-server.js';
import { SdkSubscriber } from './sdk-subscriber.js';

export const STORM_CHANNELS = ['BTC', 'ETH', 'SOL', 'ODIN', 'DOGE'].map((s) => `${s}.trade`);
const API_KEY = 'storm-key';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface StormOptions {
  /** Load-tester Odin connections, 2 channels each. */
  readonly connections: number;
  /** Real centrifuge SDK clients (Centrifugo protocol), 1 channel each. */
  readonly sdkClients: number;
  /** Publications per second through the API, over all channels. */
  readonly rate: number;
  /** Publishing before the restart, ms. */
  readonly beforeMs: number;
  /** Gateway options (its config file): recovery.*, reconnect.*. */
  readonly gateway?: Record<string, unknown>;
  /** Until every client is subscribed again after the new gateway listens, ms. */
  readonly allBackTimeoutMs: number;
  /** Seed of the load tester's random draws (reconnect jitter): test/testkit/chaos-seed.ts. */
  readonly seed: number;
  readonly log?: (line: string) => void;
}

export interface StormResult {
  readonly restartMs: number;
  readonly allSubscribedAgainMs: number;
  readonly published: number;
  readonly publishFailed: number;
  /** Publications in the stream at the end (all channels). */
  readonly inStream: number;
  /** What the load-tester clients must have received together: each subscriber every publication of its channels. */
  readonly expectedDeliveries: number;
  readonly odin: Totals;
  readonly sdk: {
    readonly subscribers: number;
    readonly lost: number;
    readonly duplicated: number;
    readonly reordered: number;
    readonly notRecovered: number;
  };
  /** The new gateway's /metrics after the storm. */
  readonly slots: { readonly peak: number; readonly maxWaitingSeen: number; readonly refusals: Record<string, number> };
}

async function metric(gw: GatewayProcess, prefix: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) {
    if (!l.startsWith(prefix)) continue;
    const sp = l.lastIndexOf(' ');
    out[l.slice(0, sp)] = Number(l.slice(sp + 1));
  }
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

export async function runReconnectStorm(o: StormOptions): Promise<StormResult> {
  const log = o.log ?? ((): void => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'storm-'));
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify(o.gateway ?? {}));
  const nats = await startNatsServer();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const start = (): Promise<GatewayProcess> =>
    startGatewayProcess({
      natsUrl: nats.url,
      apiKey: API_KEY,
      extraArgs: ['--port', String(port), '--config', config],
      env: { GATEWAY_DRAIN_MS: '0' },
    });
  let gw: GatewayProcess | null = null;
  let run: LoadRun | null = null;
  const sdk: SdkSubscriber[] = [];
  try {
    gw = await start();
    run = await LoadRun.start({
      host: '127.0.0.1',
      port,
      protocol: 'odin',
      connections: o.connections,
      connectRate: 500,
      channels: STORM_CHANNELS,
      channelsPerConnection: 2,
      trackEvery: 1,
      perAddress: 20_000,
      reconnect: true,
      connectRetries: 1_000,
      seed: o.seed,
    });
    await run.waitConnected((o.connections / 500) * 2000 + 15_000);
    for (let i = 0; i < o.sdkClients; i++)
      sdk.push(new SdkSubscriber(`ws://127.0.0.1:${port}`, STORM_CHANNELS[i % STORM_CHANNELS.length]!));
    await Promise.all(sdk.map((s) => s.waitFor(() => s.subscribed.length > 0, 15_000, 'SDK subscribed')));
    const subscriptions = o.connections * 2 + o.sdkClients;
    const first = gw;
    await waitFor(
      async () => (await metric(first, 'ws_subscriptions_active'))['ws_subscriptions_active'] === subscriptions,
      15_000,
      'all subscribed',
      { everyMs: 100 },
    );
    const target = new HttpApiTarget(url, API_KEY);
    const pub = new RatePublisher(target, STORM_CHANNELS, 'sustained', o.rate, Number.MAX_SAFE_INTEGER);
    pub.start();
    await sleep(o.beforeMs);
    const stoppedAt = Date.now();
    await gw.stop();
    gw = null;
    const next = await start();
    gw = next;
    const upAt = Date.now();
    log(`# storm: new gateway listening ${upAt - stoppedAt} ms after the stop`);
    let maxWaitingSeen = 0;
    await waitFor(
      async () => {
        const m = await metric(next, 'ws_');
        maxWaitingSeen = Math.max(maxWaitingSeen, m['ws_recoveries_waiting'] ?? 0);
        return m['ws_subscriptions_active'] === subscriptions;
      },
      o.allBackTimeoutMs,
      'every client subscribed again',
      { everyMs: 100 },
    );
    const allBackMs = Date.now() - upAt;
    log(`# storm: every client subscribed again ${allBackMs} ms after the new gateway listened`);
    // A little live traffic after the storm, then everything published must arrive.
    await sleep(1_000);
    await pub.drain();
    await target.close();
    let inStream = 0;
    const tops = new Map<string, number>();
    for (const ch of STORM_CHANNELS) {
      const top = await topOffset(url, ch);
      tops.set(ch, top);
      inStream += top;
    }
    const expectedDeliveries = (inStream * o.connections * 2) / STORM_CHANNELS.length;
    await waitFor(
      async () => {
        await run!.flush();
        return run!.totals().delivered >= expectedDeliveries;
      },
      30_000,
      'every publication delivered to the load-tester clients',
      { everyMs: 200 },
    ).catch(() => undefined); // the totals below show what is missing
    let sdkLost = 0;
    let sdkDup = 0;
    let sdkReordered = 0;
    let sdkNotRecovered = 0;
    for (const s of sdk) {
      const top = tops.get(s.sub.channel)!;
      await s.waitFor(() => s.pubs.some((p) => p.offset === top), 15_000, 'the SDK subscriber caught up').catch(() => undefined);
      const from = s.subscribed[0]!.streamPosition?.offset ?? 0;
      const seen = new Set<number>();
      s.pubs.forEach((p, i) => {
        if (seen.has(p.offset)) sdkDup++;
        seen.add(p.offset);
        if (i > 0 && p.offset < s.pubs[i - 1]!.offset) sdkReordered++;
      });
      for (let off = from + 1; off <= top; off++) if (!seen.has(off)) sdkLost++;
      sdkNotRecovered += s.subscribed.filter((c) => c.wasRecovering && !c.recovered).length;
    }
    const m = await metric(next, 'ws_recover');
    const refusals: Record<string, number> = {};
    for (const [k, v] of Object.entries(m)) {
      const r = /^ws_recovery_refusals_total\{reason="(\w+)"\}$/.exec(k);
      if (r) refusals[r[1]!] = v;
    }
    const odin = await run.stop();
    run = null;
    return {
      restartMs: upAt - stoppedAt,
      allSubscribedAgainMs: allBackMs,
      published: pub.stats.published,
      publishFailed: pub.stats.failed,
      inStream,
      expectedDeliveries,
      odin,
      sdk: { subscribers: sdk.length, lost: sdkLost, duplicated: sdkDup, reordered: sdkReordered, notRecovered: sdkNotRecovered },
      slots: { peak: m['ws_recoveries_in_progress_peak'] ?? NaN, maxWaitingSeen, refusals },
    };
  } finally {
    for (const s of sdk) s.close();
    if (run) await run.stop();
    await gw?.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
