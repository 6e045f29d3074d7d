/**
 * Issue 21: bounded state and work for anonymous clients, streams, the admin and server APIs.
 * One regression test per item, each with a bystander client that stays connected and keeps
 * receiving; where memory is the point, the heap is measured after a forced GC.
 */
import { FakeClock } from '../testkit/fake-clock.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import type { GatewayServerOptionsInput } from '../../src/apps/gateway/options.js';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { RECOVERY_COST_PER_PUBLICATION, RecoveryBudget } from '../../src/lib/core/recovery-budget.js';
import { STREAM_END_GRACE_MS } from '../../src/lib/http/node-server.js';
import { resolveDashboardOptions } from '../../src/lib/dashboard/options.js';
import { collectStats, renderStats } from '../../src/lib/ops-probe/stats.js';
import { DEFAULT_ENDPOINTS } from '../../src/lib/ops-probe/services.js';
import { TestClient, api, type Json } from '../testkit/ws-client.js';
import { OP, RawClient } from '../testkit/raw-socket.js';

const KEY = 'resource-bounds-key-0123456789abcdef';
const isType = (t: string) => (m: Json) => m.type === t;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full, forced collection, bytes. */
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const MiB = 1024 * 1024;

/** Polls `cond` every 20 ms until it holds (a condition with no event to wait on: fds). */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A client subscribed to BYSTANDER.trade; `served()` proves it is still connected and receiving. */
class Bystander {
  private n = 0;
  private constructor(
    private readonly gw: RunningGateway,
    readonly client: TestClient,
  ) {}

  static async join(gw: RunningGateway): Promise<Bystander> {
    const c = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`);
    c.send({ type: 'subscribe', data: { channels: ['BYSTANDER.trade'] } });
    await c.next(isType('subscription_ack'));
    return new Bystander(gw, c);
  }

  /** Publications made by `served()` so far. */
  get count(): number {
    return this.n;
  }

  async served(): Promise<void> {
    const n = ++this.n;
    await this.gw.gateway.api.publish({ channel: 'BYSTANDER.trade', data: JSON.stringify({ n }) });
    await this.client.next((m) => m.channel === 'BYSTANDER.trade' && (m.data as Json | undefined)?.n === n, 10_000);
    assert.equal(this.client.closed, null, 'the bystander stays connected');
  }
}

async function withGateway(
  opts: GatewayServerOptionsInput,
  fn: (gw: RunningGateway, by: Bystander) => Promise<void>,
  deps: Parameters<typeof startGateway>[1] = {},
): Promise<void> {
  const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, logLevel: 'silent', ...opts }, deps);
  try {
    const by = await Bystander.join(gw);
    await fn(gw, by);
    await by.served();
    by.client.close();
  } finally {
    await gw.close();
  }
}

const broker = (gw: RunningGateway): MemoryBroker => gw.gateway.broker as MemoryBroker;

test('item 1: channels subscribed and left by anonymous clients are freed (heap back after GC); a channel that comes back gets a new epoch', () =>
  withGateway({ commandBurst: 1000 }, async (gw, by) => {
    const ws = gw.url.replace('http', 'ws');
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestClient.connect(`${ws}/ws`)));
    const round = async (r: number): Promise<void> => {
      await Promise.all(
        clients.map(async (c, i) => {
          const channels = Array.from({ length: 128 }, (_, k) => `F${r}x${i}x${k}.trade`);
          c.send({ type: 'subscribe', data: { channels } });
          await c.next((m) => m.type === 'subscription_ack' && (m.subscribed as string[]).includes(channels[0]!), 10_000);
          c.send({ type: 'unsubscribe', data: { channels } });
          await c.next((m) => m.type === 'unsubscription_ack' && JSON.stringify(m).includes(channels[0]!), 10_000);
        }),
      );
    };
    // Warm-up: code, hidden classes and map capacities settle in the first rounds.
    for (let r = 0; r < 20; r++) await round(r);
    const heapNow = (): number => {
      for (const c of clients) c.messages.length = 0;
      return heapAfterGc();
    };
    const mid = heapNow();
    for (let r = 20; r < 100; r++) await round(r);
    const grown = heapNow() - mid;
    // 80 × 10 × 128 = 102,400 channels came and went: at the ~216 B each they used to keep,
    // +21 MiB. Measured now: -1.5 to +3.5 MiB, all of it in V8's large-object space and not
    // growing with the count (old space +0.2 MiB).
    assert.ok(grown < 6 * MiB, `heap grew ${(grown / MiB).toFixed(2)} MiB after 102,400 channels came and went`);
    assert.equal(broker(gw).usage.channels, 1, 'only the bystander channel is held');
    assert.equal(gw.gateway.hub.channelCount, 1);
    await by.served();

    // Left by everyone with an empty history: freed, so it comes back in a new epoch.
    const c = clients[0]!;
    c.send({ type: 'subscribe', data: { channels: ['BACK.trade'] } });
    const a1 = await c.next((m) => m.type === 'subscription_ack' && (m.subscribed as string[]).includes('BACK.trade'));
    const e1 = (a1.positions as Record<string, { epoch: string }> | undefined)?.['BACK.trade']?.epoch;
    c.send({ type: 'unsubscribe', data: { channels: ['BACK.trade'] } });
    await c.next(isType('unsubscription_ack'));
    c.messages.length = 0;
    c.send({ type: 'subscribe', data: { channels: ['BACK.trade'] } });
    const a2 = await c.next((m) => m.type === 'subscription_ack' && (m.subscribed as string[]).includes('BACK.trade'));
    const e2 = (a2.positions as Record<string, { epoch: string }> | undefined)?.['BACK.trade']?.epoch;
    assert.ok(e1 !== undefined && e2 !== undefined);
    assert.notEqual(e2, e1);
    for (const x of clients) x.close();
  }));

test('item 9: expired history is freed by the timer, not on read (heap back after GC); the node history cap refuses with 106, counted', () =>
  withGateway(
    {
      namespaces: [
        { name: 'short', pattern: 'short\\.[0-9]+', historySize: 100, historyTtlMs: 300 },
        { name: 'public', pattern: '[A-Za-z0-9_-]{1,32}\\.trade', historySize: 0 },
      ],
      limits: { maxHistoryBytes: 24 * MiB },
    },
    async (gw, by) => {
      const before = heapAfterGc();
      const pad = 'x'.repeat(100 * 1024);
      const fillRound = async (): Promise<void> => {
        for (let i = 0; i < 200; i++) await gw.gateway.api.publish({ channel: `short.${i % 20}`, data: JSON.stringify({ i, pad }) });
      };
      for (let round = 0; round < 4; round++) {
        await fillRound(); // 20 MiB into channels with a 300 ms TTL
        await by.served();
        const deadline = Date.now() + 10_000;
        while (broker(gw).usage.historyBytes > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(broker(gw).usage.historyBytes, 0, 'expired history dropped without anyone reading it');
      }
      const grown = heapAfterGc() - before;
      assert.ok(grown < 8 * MiB, `heap grew ${(grown / MiB).toFixed(2)} MiB after 80 MiB of expired history`);
      assert.equal(broker(gw).usage.channels, 1, 'channels whose history expired are freed');

      // Past limits.maxHistoryBytes a publication is refused, not stored: 106, counted.
      await fillRound();
      const big = pad.repeat(9);
      let refused: Json | undefined;
      for (let i = 0; i < 10 && refused === undefined; i++) {
        const r = await api(gw.url, KEY, 'publish', { channel: `short.${100 + i}`, data: { big } });
        assert.equal(r.status, 200);
        refused = r.body.error as Json | undefined;
      }
      assert.equal(refused?.code, 106);
      assert.ok(broker(gw).usage.historyBytes <= 24 * MiB);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /ws_limit_refusals_total\{limit="history_bytes"\} [1-9]/);
      assert.match(metrics, /ws_broker_history_bytes [1-9]/);
    },
  ));

test('item 1: a node-wide cap on channels, with a smaller share for anonymous connections (106, counted); an authenticated client still subscribes', () =>
  withGateway(
    { limits: { maxChannels: 20, anonymousChannelShare: 0.5 }, tokenHmacSecret: 'resource-bounds-secret-long-enough-hs256' },
    async (gw) => {
      const ws = gw.url.replace('http', 'ws');
      const anon = await TestClient.connect(`${ws}/ws`);
      const channels = Array.from({ length: 30 }, (_, i) => `A${i}.trade`);
      anon.send({ type: 'subscribe', data: { channels } });
      const ack = await anon.next(isType('subscription_ack'));
      // The bystander holds one channel: anonymous connections may open up to 10 in all.
      assert.equal((ack.subscribed as string[]).length, 9);
      const errors = ack.errors as { code: number }[];
      assert.equal(errors.length, 21);
      assert.ok(errors.every((e) => e.code === 106));
      assert.equal(gw.gateway.stats.limitRefusals.anonymous_channels, 21);
      const { SignJWT } = await import('jose');
      const jwt = await new SignJWT({ sub: 'alice' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
        .sign(new TextEncoder().encode('resource-bounds-secret-long-enough-hs256'));
      const user = await TestClient.connect(`${ws}/ws?token=${jwt}`);
      user.send({ type: 'subscribe', data: { channels: Array.from({ length: 12 }, (_, i) => `U${i}.trade`) } });
      const u = await user.next(isType('subscription_ack'));
      assert.equal((u.subscribed as string[]).length, 10, 'authenticated connections use the rest');
      assert.equal(gw.gateway.stats.limitRefusals.channels, 2);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /ws_limit_refusals_total\{limit="anonymous_channels"\} 21/);
      assert.equal(anon.closed, null);
      anon.close();
      user.close();
    },
  ));

/** Open file descriptors of this process (the gateway runs in it). */
const openFds = (): number => readdirSync('/proc/self/fd').length;

/** A raw `POST /connection/http_stream` that subscribes and then never reads. */
function stalledStream(port: number, channel: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const body = '{"id":1,"connect":{}}\n' + JSON.stringify({ id: 2, subscribe: { channel } });
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `POST /connection/http_stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      s.once('data', () => {
        s.pause(); // reads the head, then nothing more
        resolve(s);
      });
    });
    s.on('error', reject);
  });
}

test('item 2: cut HTTP streams that never read release their sockets within the grace; open sockets and arriving bodies count against the limits', () =>
  withGateway({ maxQueueBytes: 64 * 1024, maxConnectionsPerIp: 20 }, async (gw, by) => {
    const before = openFds();
    const streams = await Promise.all(Array.from({ length: 10 }, () => stalledStream(gw.port, 'BUSY.trade')));
    await waitFor(() => gw.gateway.connectionCount === 11, 'the streams are connections');
    assert.ok(openFds() >= before + 20, 'both ends of each stream are open');
    const pad = 'x'.repeat(100 * 1024);
    for (let i = 0; i < 100 && gw.gateway.connectionCount > 1; i++) {
      await gw.gateway.api.publish({ channel: 'BUSY.trade', data: JSON.stringify({ i, pad }) });
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => gw.gateway.connectionCount === 1, 'every stream cut as slow (3008)');
    assert.ok((gw.gateway.stats.disconnects.get(3008) ?? 0) >= 10);
    await by.served();
    // The gateway's ends close within STREAM_END_GRACE_MS although the peers never read.
    await waitFor(
      () => openFds() <= before + 10 + 2,
      `the gateway closed its ends (fds ${openFds()}, before ${before})`,
      STREAM_END_GRACE_MS + 3000,
    );
    for (const s of streams) s.destroy();

    // Requests whose body is still arriving hold a slot: 19 of them and the bystander fill 20.
    const partial = await Promise.all(
      Array.from(
        { length: 19 },
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect(gw.port, '127.0.0.1', () => {
              s.write(`POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: 100\r\n\r\n{"chan`);
              resolve(s);
            });
            s.on('error', () => {});
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const refused = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`).then(
      (c) => {
        c.close();
        return false;
      },
      () => true,
    );
    assert.ok(refused, 'a 21st socket from the address is refused');
    for (const s of partial) s.destroy();
    await waitFor(() => openFds() <= before + 4, 'partial requests closed');
    const again = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`);
    again.close();
  }));

test('item 6: a pathological channels pattern is matched in linear time; /health answers meanwhile', () =>
  withGateway({}, async (gw, by) => {
    const ch = 'abcdefghijklmnopqrstuvwxyz0123.trade'; // 36 characters
    const sub = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`);
    sub.send({ type: 'subscribe', data: { channels: [ch] } });
    await sub.next(isType('subscription_ack'));
    for (const pattern of ['*********#', '*'.repeat(1000) + '#', '*a'.repeat(500)]) {
      const t0 = performance.now();
      const r = await api(gw.url, KEY, 'channels', { pattern });
      const ms = performance.now() - t0;
      assert.equal(r.status, 200);
      assert.deepEqual((r.body.result as Json).channels, {});
      assert.ok(ms < 500, `${pattern.slice(0, 12)}…: ${ms.toFixed(0)} ms`);
    }
    const hit = await api(gw.url, KEY, 'channels', { pattern: 'abc*.{trade,book}' });
    assert.deepEqual(Object.keys((hit.body.result as Json).channels as Json), [ch]);
    const health = await fetch(`${gw.url}/health`);
    assert.equal(health.status, 200);
    await by.served();
    sub.close();
  }));

test('item 7: history over a batch is bounded by api.maxResponseBytes (106 past it, counted); the response stays small', () =>
  withGateway({ api: { maxResponseBytes: 2 * MiB } }, async (gw, by) => {
    const pad = 'x'.repeat(1000);
    for (let i = 0; i < 1000; i++) await gw.gateway.api.publish({ channel: 'H.trade', data: JSON.stringify({ i, pad }) }); // ~1 MB
    const commands = Array.from({ length: 100 }, () => ({ history: { channel: 'H.trade', limit: -1 } }));
    const res = await fetch(`${gw.url}/api/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ commands }),
    });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.ok(text.length < 3 * MiB, `response ${text.length} bytes (was ~100 MiB)`);
    const replies = (JSON.parse(text) as { replies: Json[] }).replies;
    const ok = replies.filter((r) => 'history' in r).length;
    const refused = replies.filter((r) => (r.error as Json | undefined)?.code === 106).length;
    assert.equal(ok, 2);
    assert.equal(refused, 98);
    assert.equal(gw.gateway.stats.limitRefusals.api_response_bytes, 98);
    // A single history larger than the budget is refused alone, with a hint to page.
    const one = await api(gw.url, KEY, 'history', { channel: 'H.trade', limit: 100 });
    assert.equal(((one.body.result as Json).publications as unknown[]).length, 100);
    await by.served();
  }));

test('item 8: broadcast is bounded by api.maxBroadcastChannels and a request by api.maxPublications (106, counted)', () =>
  withGateway({ api: { maxBroadcastChannels: 1000, maxPublications: 1500 } }, async (gw, by) => {
    const channels = (n: number, p: string): string[] => Array.from({ length: n }, (_, i) => `${p}${i}.trade`);
    const tooMany = await api(gw.url, KEY, 'broadcast', { channels: channels(1001, 'W'), data: { x: 1 } });
    assert.equal((tooMany.body.error as Json).code, 106);
    assert.match((tooMany.body.error as Json).message as string, /maxBroadcastChannels/);
    const batch = await api(gw.url, KEY, 'batch', {
      commands: Array.from({ length: 6 }, (_, k) => ({ broadcast: { channels: channels(1000, `B${k}x`), data: { k } } })),
    });
    const replies = (batch.body as unknown as { replies: Json[] }).replies;
    assert.equal(replies.filter((r) => 'broadcast' in r).length, 1, 'one broadcast of 1,000 fits the 1,500 budget');
    assert.equal(replies.filter((r) => (r.error as Json | undefined)?.code === 106).length, 5);
    assert.equal(gw.gateway.stats.publications, 1000 + by.count);
    const s = gw.gateway.stats.limitRefusals;
    assert.deepEqual([s.api_broadcast_channels, s.api_publications], [1, 5]);
    const big = await api(gw.url, KEY, 'batch', { commands: Array.from({ length: 1001 }, () => ({ info: {} })) });
    assert.equal((big.body.error as Json).code, 106);
    await by.served();
  }));

const ADMIN_TOKEN = 'resource-bounds-admin-token';
const dashboard = (): Parameters<typeof startGateway>[1] => ({
  dashboard: resolveDashboardOptions({
    enabled: true,
    adminToken: ADMIN_TOKEN,
    adminPassword: 'resource-bounds-password',
    loginAttemptsPerMinute: 5,
  }),
});

test('item 3: /stats shows counts only without the admin credential; the admin token gets addresses', () =>
  withGateway(
    {},
    async (gw, by) => {
      const anon = (await (await fetch(`${gw.url}/stats`)).json()) as Json;
      assert.equal(anon.ips, undefined, 'no client addresses');
      assert.equal(anon.pid, undefined);
      assert.equal(anon.addresses, 1);
      assert.doesNotMatch(JSON.stringify(anon), /127\.0\.0\.1|hostname/);
      const admin = (await (await fetch(`${gw.url}/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Json;
      assert.deepEqual(admin.ips, [{ ip: '127.0.0.1', connections: 1 }]);
      // `odin-ws stats ips` lists them only with GATEWAY_ADMIN_TOKEN.
      const ep = { ...DEFAULT_ENDPOINTS, gateway: gw.url };
      assert.match(renderStats(await collectStats('ips', ep), null), /1 addresses; the list needs the gateway's admin token/);
      assert.match(renderStats(await collectStats('ips', ep, undefined, ADMIN_TOKEN), null), /127\.0\.0\.1\s+1/);
      await by.served();
    },
    dashboard(),
  ));

test('item 4: past the admin token limit an address is refused (429), the right token too; counted on /metrics', () =>
  withGateway(
    {},
    async (gw, by) => {
      const get = (token: string): Promise<Response> =>
        fetch(`${gw.url}/dashboard/api/channels`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await get(ADMIN_TOKEN)).status, 200);
      for (let i = 0; i < 5; i++) assert.equal((await get(`wrong-${i}`)).status, 401);
      const blocked = await get(ADMIN_TOKEN);
      assert.equal(blocked.status, 429, 'the right token is refused while the address is blocked');
      assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
      const s = gw.gateway.stats.authRefusals;
      assert.deepEqual([s.admin_token_wrong, s.admin_token_blocked], [5, 1]);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /ws_auth_refusals_total\{reason="admin_token_blocked"\} 1/);
      await by.served();
    },
    dashboard(),
  ));

test('item 5: past 10 wrong API keys a minute an address is refused (429), the right key too; counted', () =>
  withGateway({}, async (gw, by) => {
    for (let i = 0; i < 10; i++) assert.equal((await api(gw.url, `wrong-key-${i}`, 'info', {})).status, 401);
    const r = await api(gw.url, KEY, 'info', {});
    assert.equal(r.status, 429);
    assert.equal((r.body.error as Json).code, 111);
    const s = gw.gateway.stats.authRefusals;
    assert.deepEqual([s.api_key_wrong, s.api_key_blocked], [10, 1]);
    await by.served();
  }));

test('item 11: logout of a live session needs its CSRF token', () =>
  withGateway(
    {},
    async (gw, by) => {
      const login = await fetch(`${gw.url}/dashboard/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: gw.url },
        body: JSON.stringify({ password: 'resource-bounds-password' }),
      });
      assert.equal(login.status, 200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const { csrf } = (await login.json()) as { csrf: string };
      const out = (headers: Record<string, string>): Promise<Response> =>
        fetch(`${gw.url}/dashboard/api/logout`, { method: 'POST', headers: { cookie, origin: gw.url, ...headers } });
      assert.equal((await out({})).status, 403, 'no CSRF token: refused');
      assert.equal(
        ((await fetch(`${gw.url}/dashboard/api/session`, { headers: { cookie } }).then((r) => r.json())) as Json).loggedIn,
        true,
      );
      assert.equal((await out({ 'x-csrf-token': csrf })).status, 200);
      await by.served();
    },
    dashboard(),
  ));

test('item 10: the page drops malformed stats rows (the poison row of the issue) and keeps real ones', () =>
  withGateway(
    {},
    async (gw, by) => {
      const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
      const { validStatsRow } = (await import(pathToFileURL(join(root, 'dashboard/static/stats-row.js')).href)) as {
        validStatsRow: (r: unknown) => boolean;
      };
      const page = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`);
      page.send({ type: 'subscribe', data: { channels: ['_odin.stats'] } });
      const real = await page.next((m) => m.channel === '_odin.stats' && (m.data as Json).node === gw.gateway.nodeId, 10_000);
      assert.ok(validStatsRow(real.data), 'a row the gateway publishes is valid');
      const poison: unknown[] = [
        { v: 1, node: 'poison', connections: null },
        { ...(real.data as Json), connections: { odin: 1, centrifuge: 1, total: '2' } },
        { ...(real.data as Json), health: { broker: null } },
        { ...(real.data as Json), latencyMs: { p50: 1, p90: 1 } },
        { ...(real.data as Json), node: 'x'.repeat(1000) },
        null,
        [],
        'row',
      ];
      for (const p of poison) assert.equal(validStatsRow(p), false, JSON.stringify(p)?.slice(0, 80));
      // Whoever holds the API key can put one on the channel: the page still sees the next real row.
      await api(gw.url, KEY, 'publish', { channel: '_odin.stats', data: poison[0] });
      await page.next((m) => m.channel === '_odin.stats' && (m.data as Json).node === 'poison');
      const next = await page.next(
        (m) => m.channel === '_odin.stats' && (m.data as Json).node === gw.gateway.nodeId && (m.data as Json).ts !== (real.data as Json).ts,
        10_000,
      );
      assert.ok(validStatsRow(next.data));
      page.close();
      await by.served();
    },
    dashboard(),
  ));

test('item 12: a recovered publication is encoded once per protocol and reused by the next recoveries; the node budget counts publications too', () =>
  withGateway({ commandBurst: 1000 }, async (gw, by) => {
    const pad = 'x'.repeat(380);
    let epoch = '';
    for (let i = 1; i <= 1000; i++)
      epoch = (await gw.gateway.api.publish({ channel: 'REC.trade', data: JSON.stringify({ i, pad }) })).epoch;
    const frames = gw.gateway.recoveryFrames;
    const ws = gw.url.replace('http', 'ws');
    const odin = await TestClient.connect(`${ws}/ws`);
    for (let round = 1; round <= 3; round++) {
      odin.messages.length = 0;
      odin.send({ type: 'subscribe', data: { channels: ['REC.trade'], positions: { 'REC.trade': { offset: 0, epoch } } } });
      const ack = await odin.next(isType('subscription_ack'), 10_000);
      assert.equal((ack.positions as Record<string, { publications: number }>)['REC.trade']!.publications, 1000);
      await odin.waitCount((m) => m.channel === 'REC.trade' && m.type !== 'subscription_ack', 1000, 10_000);
      odin.send({ type: 'unsubscribe', data: { channels: ['REC.trade'] } });
      await odin.next(isType('unsubscription_ack'));
      assert.equal(frames.misses, 1000, `round ${round}: encoded once, in the first round only`);
      assert.equal(frames.hits, 1000 * (round - 1));
    }
    const cent = await TestClient.connect(`${ws}/connection/websocket`);
    cent.send('{"id":1,"connect":{}}');
    await cent.next((m) => m.id === 1);
    for (let id = 2; id <= 3; id++) {
      cent.send(JSON.stringify({ id, subscribe: { channel: 'REC.trade', recover: true, offset: 0, epoch } }));
      const reply = await cent.next((m) => m.id === id, 10_000);
      assert.equal(((reply.subscribe as Json).publications as unknown[]).length, 1000);
      cent.send(JSON.stringify({ id: id + 10, unsubscribe: { channel: 'REC.trade' } }));
      await cent.next((m) => m.id === id + 10);
    }
    assert.equal(frames.misses, 2000, 'the Centrifugo JSON objects encoded once too');
    assert.equal(frames.hits, 3000);
    odin.close();
    cent.close();
    await by.served();
  }));

test('item 12: the node recovery budget charges RECOVERY_COST_PER_PUBLICATION per publication beside the bytes', () => {
  const t = 1_000_000;
  const b = new RecoveryBudget({ bytesPerSecond: 100 * RECOVERY_COST_PER_PUBLICATION, anonymousShare: 1 }, new FakeClock(t));
  assert.equal(b.admits(true), true);
  b.charge(0, 99, true); // 99 empty publications
  assert.equal(b.admits(true), true);
  b.charge(0, 1, true);
  assert.equal(b.admits(true), false, 'a hundred empty publications use the whole budget');
});

test('item 2: a WebSocket the gateway closed counts against the limits until its peer completes the close (or is dropped 5 s later)', () =>
  withGateway({ maxConnectionsPerIp: 3 }, async (gw, by) => {
    const ws = gw.url.replace('http', 'ws');
    const raw = await RawClient.upgrade(gw.port, '/ws');
    await waitFor(() => gw.gateway.connectionCount === 2, 'the raw client connected');
    // Connections are listed in the order they came: the raw one is the last.
    const id = gw.gateway.api.findClients({ user: '' }).at(-1)!.client;
    assert.equal(gw.gateway.api.disconnectClient(id), true);
    await raw.until(() => raw.frames.some((f) => f.opcode === OP.close), 'the close frame');
    // The raw peer never answers the close: its socket stays open, and counted.
    await waitFor(() => gw.gateway.connectionCount === 1, 'the client left the gateway');
    const second = await TestClient.connect(`${ws}/ws`);
    await assert.rejects(TestClient.connect(`${ws}/ws`), /HTTP 429/, 'bystander + closing socket + second = 3');
    await raw.until(() => raw.closed, 'dropped after the closing-handshake deadline', 8000);
    const third = await TestClient.connect(`${ws}/ws`);
    second.close();
    third.close();
    await by.served();
  }));
