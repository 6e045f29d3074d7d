/**
 * Presence, join/leave, server-side subscribe/unsubscribe/disconnect/refresh and skip_history
 * across three gateway processes on one real nats-server (JetStream broker), driven by the
 * official centrifuge JS SDK and the `cent` Python SDK; a node that dies has its clients leave
 * presence within the TTL; bad control and side messages are dropped.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Centrifuge, type Subscription } from 'centrifuge';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { assertApiOk, callApi, startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { runPython } from '../testkit/compat-clients.js';
import { waitFor } from '../testkit/wait.js';

const SECRET = 'pc-secret-pc-secret-pc-secret-pc-secret';
const API_KEY = 'pc-' + randomBytes(6).toString('hex');
/** Short, so a dead node's entries expire within the test. */
const PRESENCE_TTL_MS = 3000;
const room = (): string => `room.r${randomBytes(4).toString('hex')}`;

const token = (sub: string): Promise<string> =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

/** A JS SDK client recording what it sees. */
class Peer {
  readonly client: Centrifuge;
  readonly events: string[] = [];
  readonly serverPubs: { channel: string; data: unknown }[] = [];
  disconnected: { code: number; reason: string } | null = null;
  /** Codes of the SDK's `connecting` events (0: the first connect; else why it reconnects). */
  readonly connecting: number[] = [];

  constructor(wsUrl: string, tok: string) {
    this.client = new Centrifuge(`${wsUrl}/connection/websocket`, { websocket: WebSocket, token: tok, minReconnectDelay: 100 });
    this.client.on('subscribed', (ctx) => this.events.push(`server-subscribed ${ctx.channel}`));
    this.client.on('unsubscribed', (ctx) => this.events.push(`server-unsubscribed ${ctx.channel}`));
    this.client.on('publication', (ctx) => this.serverPubs.push({ channel: ctx.channel, data: ctx.data }));
    this.client.on('disconnected', (ctx) => (this.disconnected = { code: ctx.code, reason: ctx.reason }));
    this.client.on('connecting', (ctx) => this.connecting.push(ctx.code));
    this.client.connect();
  }

  async join(channel: string): Promise<Subscription> {
    const sub = this.client.newSubscription(channel);
    sub.on('join', (ctx) => this.events.push(`join ${ctx.info.user}`));
    sub.on('leave', (ctx) => this.events.push(`leave ${ctx.info.user}`));
    sub.subscribe();
    await sub.ready(10_000);
    return sub;
  }

  close(): void {
    this.client.disconnect();
  }
}

async function writeConfig(dir: string): Promise<string> {
  const path = join(dir, 'gateway.json');
  await writeFile(
    path,
    JSON.stringify({
      tokenHmacSecret: SECRET,
      namespaces: [
        { name: 'room', pattern: 'room\\.[a-z0-9]+', presence: true, joinLeave: true, historySize: 50 },
        { name: 'quiet', pattern: 'quiet\\.[a-z0-9]+', presence: true },
        { name: 'market', pattern: '[A-Z]+\\.trade' },
      ],
      jetstream: { presenceTtlMs: PRESENCE_TTL_MS },
    }),
  );
  return path;
}

/** `cent` (Python) against a node's server API. */
async function cent(gw: GatewayProcess, method: string, params: unknown): Promise<Record<string, unknown>> {
  return runPython('cent_call.py', [`${gw.url}/api`, API_KEY, method, JSON.stringify(params)]);
}

describe('presence and server-side commands across gateway processes (JetStream broker)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;
  const gws: GatewayProcess[] = [];
  const peers: Peer[] = [];
  const peer = async (gw: GatewayProcess, user: string): Promise<Peer> => {
    const p = new Peer(gw.wsUrl, await token(user));
    peers.push(p);
    return p;
  };

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    dir = await mkdtemp(join(tmpdir(), 'odin-presence-'));
    const config = await writeConfig(dir);
    gws.push(
      ...(await Promise.all(
        [0, 1, 2].map(() => startGatewayProcess({ natsUrl: nats.url, apiKey: API_KEY, extraArgs: ['--config', config] })),
      )),
    );
  });
  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(gws.map((g) => g.stop()));
    await nc?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('presence and presence_stats list the clients of every node (JS SDK and cent); leave removes them', async () => {
    const [a, b, c] = [gws[0]!, gws[1]!, gws[2]!];
    const ch = room();
    const ann = await peer(a, 'ann');
    const ben = await peer(b, 'ben');
    const carl = await peer(c, 'carl');
    const annSub = await ann.join(ch);
    await ben.join(ch);
    const carlSub = await carl.join(ch);

    const p = await annSub.presence();
    assert.deepEqual(
      Object.values(p.clients)
        .map((i) => i.user)
        .sort(),
      ['ann', 'ben', 'carl'],
    );
    assert.deepEqual(await carlSub.presenceStats(), { numClients: 3, numUsers: 3 });
    // A second connection of the same user: one more client, same users.
    const ann2 = await peer(c, 'ann');
    await ann2.join(ch);
    assert.deepEqual(await annSub.presenceStats(), { numClients: 4, numUsers: 3 });

    const viaCent = await cent(b, 'presence', { channel: ch });
    assert.equal(viaCent['ok'], true, JSON.stringify(viaCent));
    const listed = (viaCent['result'] as { presence: Record<string, { user: string; client: string }> }).presence;
    assert.deepEqual(
      Object.values(listed)
        .map((i) => i.user)
        .sort(),
      ['ann', 'ann', 'ben', 'carl'],
    );
    for (const [id, info] of Object.entries(listed)) assert.equal(info.client, id);
    const stats = await cent(a, 'presence_stats', { channel: ch });
    assert.deepEqual(stats['result'], { num_clients: 4, num_users: 3 });

    ben.close();
    ann2.close();
    await waitFor(async () => (await annSub.presenceStats()).numClients === 2, 10_000, 'ben and ann#2 gone from presence', { everyMs: 50 });
    assert.deepEqual(
      Object.values((await carlSub.presence()).clients)
        .map((i) => i.user)
        .sort(),
      ['ann', 'carl'],
    );
  });

  it('join and leave pushes reach subscribers on other nodes', async () => {
    const [a, b, c] = [gws[0]!, gws[1]!, gws[2]!];
    const ch = room();
    const ann = await peer(a, 'ann');
    await ann.join(ch);
    await waitFor(() => ann.events.includes('join ann'), 5000, 'own join');
    const ben = await peer(b, 'ben');
    await ben.join(ch);
    const carl = await peer(c, 'carl');
    await carl.join(ch);
    await waitFor(() => ann.events.includes('join ben') && ann.events.includes('join carl'), 10_000, 'joins on A');
    await waitFor(() => ben.events.includes('join carl'), 10_000, 'carl join on B');
    ben.close();
    await waitFor(() => ann.events.includes('leave ben') && carl.events.includes('leave ben'), 10_000, 'ben leave on A and C');
    assert.deepEqual(ann.events, ['join ann', 'join ben', 'join carl', 'leave ben']);
    assert.ok(!carl.events.includes('join ann'), 'a join before carl subscribed is not replayed to him');
  });

  it('a namespace without joinLeave sends no join/leave across nodes, but has presence', async () => {
    const [a, b] = [gws[0]!, gws[1]!];
    const ch = `quiet.q${randomBytes(4).toString('hex')}`;
    const ann = await peer(a, 'ann');
    const sub = await ann.join(ch);
    const ben = await peer(b, 'ben');
    await ben.join(ch);
    assert.deepEqual(await sub.presenceStats(), { numClients: 2, numUsers: 2 });
    // A publication through B after ben's subscribe is delivered to ann after any join would be.
    const seen: unknown[] = [];
    sub.on('publication', (ctx) => seen.push(ctx.data));
    assertApiOk(await callApi(b.url, API_KEY, 'publish', { channel: ch, data: { n: 1 } }));
    await waitFor(() => seen.length === 1, 10_000, 'publication');
    assert.deepEqual(ann.events, []);
  });

  it('server API subscribe, unsubscribe, refresh and disconnect reach a user connected to another node (cent)', async () => {
    const [a, b, c] = [gws[0]!, gws[1]!, gws[2]!];
    const ch = room();
    const dave = await peer(c, 'dave');
    await new Promise<void>((resolve) => dave.client.once('connected', () => resolve()));

    const sub = await cent(a, 'subscribe', { user: 'dave', channel: ch, data: { hello: 1 } });
    assert.equal(sub['ok'], true, JSON.stringify(sub));
    await waitFor(() => dave.events.includes(`server-subscribed ${ch}`), 10_000, 'server-side subscribe on C');
    assertApiOk(await callApi(b.url, API_KEY, 'publish', { channel: ch, data: { n: 1 } }));
    await waitFor(() => dave.serverPubs.length === 1, 10_000, 'publication on the server-side subscription');
    assert.deepEqual(dave.serverPubs[0], { channel: ch, data: { n: 1 } });
    // dave is in presence, seen from another node
    const pres = await callApi(a.url, API_KEY, 'presence', { channel: ch });
    assert.deepEqual(
      Object.values(pres.body.result!['presence'] as Record<string, { user: string }>).map((i) => i.user),
      ['dave'],
    );

    const unsub = await cent(b, 'unsubscribe', { user: 'dave', channel: ch });
    assert.equal(unsub['ok'], true, JSON.stringify(unsub));
    await waitFor(() => dave.events.includes(`server-unsubscribed ${ch}`), 10_000, 'server-side unsubscribe on C');

    // refresh with expire_at moves the expiry (the connection stays); a client id that is not
    // dave's reaches nobody.
    assert.equal((await cent(a, 'refresh', { user: 'dave', expire_at: Math.floor(Date.now() / 1000) + 3600 }))['ok'], true);
    assert.equal((await cent(a, 'disconnect', { user: 'dave', client: 'not-a-client-of-dave' }))['ok'], true);

    const disc = await cent(a, 'disconnect', { user: 'dave', disconnect: { code: 4501, reason: 'bye from A' } });
    assert.equal(disc['ok'], true, JSON.stringify(disc));
    await waitFor(() => dave.disconnected !== null, 10_000, 'dave disconnected');
    assert.deepEqual(dave.disconnected, { code: 4501, reason: 'bye from A' });
  });

  it('refresh with expired: true closes the user connection on another node with 3005', async () => {
    const [a, c] = [gws[0]!, gws[2]!];
    const erin = await peer(c, 'erin');
    await new Promise<void>((resolve) => erin.client.once('connected', () => resolve()));
    const r = await callApi(a.url, API_KEY, 'refresh', { user: 'erin', expired: true });
    assertApiOk(r);
    await waitFor(() => erin.connecting.includes(3005), 10_000, 'erin expired (3005)');
  });

  it('skip_history: delivered live to every node, not in history, numbering untouched', async () => {
    const [a, b, c] = [gws[0]!, gws[1]!, gws[2]!];
    const ch = room();
    const seenA: { offset?: number; data: unknown }[] = [];
    const seenC: { offset?: number; data: unknown }[] = [];
    const pa = await peer(a, 'ann');
    const pc = await peer(c, 'carl');
    const sa = await pa.join(ch);
    const sc = await pc.join(ch);
    sa.on('publication', (ctx) => seenA.push({ offset: ctx.offset, data: ctx.data }));
    sc.on('publication', (ctx) => seenC.push({ offset: ctx.offset, data: ctx.data }));
    const first = await callApi(b.url, API_KEY, 'publish', { channel: ch, data: { n: 1 } });
    assertApiOk(first);
    const eph = await cent(b, 'publish', { channel: ch, data: { n: 'live' }, skip_history: true });
    assert.equal(eph['ok'], true, JSON.stringify(eph));
    const third = await callApi(a.url, API_KEY, 'publish', { channel: ch, data: { n: 2 } });
    assertApiOk(third);
    assert.deepEqual([first.body.result!['offset'], third.body.result!['offset']], [1, 2], 'skip_history takes no offset');
    for (const seen of [seenA, seenC]) {
      await waitFor(() => seen.length === 3, 10_000, '3 publications');
      const live = seen.find((p) => (p.data as { n: unknown }).n === 'live');
      assert.ok(live, JSON.stringify(seen));
      assert.equal(live.offset ?? 0, 0, 'a live-only publication carries no offset');
      assert.deepEqual(
        seen.filter((p) => p !== live).map((p) => p.offset),
        [1, 2],
      );
    }
    const h = await callApi(c.url, API_KEY, 'history', { channel: ch, limit: -1 });
    assertApiOk(h);
    assert.deepEqual(
      (h.body.result!['publications'] as { data: unknown }[]).map((p) => p.data),
      [{ n: 1 }, { n: 2 }],
    );
    // larger than NATS carries (max_payload 1 MiB) but within the API's body limit: 107, said plainly
    const big = await callApi(b.url, API_KEY, 'publish', { channel: ch, data: 'x'.repeat(1_048_000), skip_history: true });
    assert.equal(big.body.error?.code, 107, JSON.stringify(big.body).slice(0, 200));
    assert.match(big.body.error!.message, /too large/);
    // with an idempotency key: refused, as before
    const bad = await callApi(b.url, API_KEY, 'publish', { channel: ch, data: {}, skip_history: true, idempotency_key: 'k' });
    assert.equal(bad.body.error?.code, 107);
  });

  it('bad input: unknown channel 102, presence off 108, malformed control and side messages dropped', async () => {
    const [a, b] = [gws[0]!, gws[1]!];
    assert.equal((await callApi(a.url, API_KEY, 'presence', { channel: 'nope.x' })).body.error?.code, 102);
    assert.equal((await callApi(a.url, API_KEY, 'presence', { channel: 'BTC.trade' })).body.error?.code, 108);
    assert.equal((await callApi(a.url, API_KEY, 'subscribe', { user: 'u', channel: 'nope.x' })).body.error?.code, 102);
    assert.equal((await callApi(a.url, API_KEY, 'presence_stats', { channel: '' })).body.error?.code, 107);

    const ch = room();
    const fay = await peer(b, 'fay');
    await fay.join(ch);
    // Foreign writers on the control subject and on the channel's live subject.
    nc.publish('odin-ws.control', 'not json');
    nc.publish('odin-ws.control', JSON.stringify({ v: 1, from: 'x', cmd: { op: 'disconnect', user: 'fay', reason: 'no' } }));
    nc.publish('odin-ws.control', JSON.stringify({ v: 2, from: 'x', cmd: { op: 'disconnect', user: 'fay' } }));
    const h = headers();
    h.set('Odin-Side', 'join');
    nc.publish(`odin-ws.live.${ch}`, 'garbage', { headers: h });
    const h2 = headers();
    h2.set('Odin-Side', 'what');
    nc.publish(`odin-ws.live.${ch}`, '{}', { headers: h2 });
    await nc.flush();
    // Still connected and served: a real command after them works.
    const r = await cent(a, 'subscribe', { user: 'fay', channel: room() });
    assert.equal(r['ok'], true);
    await waitFor(() => fay.events.some((e) => e.startsWith('server-subscribed')), 10_000, 'command after the garbage');
    assert.equal(fay.disconnected, null);
    assert.ok(!fay.events.some((e) => e.startsWith('join') && e !== 'join fay'), JSON.stringify(fay.events));
    for (const g of gws) assert.ok(g.running(), 'every gateway still running');
  });

  it('a node that dies: its clients leave presence within the TTL; the others stay', async () => {
    const [a, c] = [gws[0]!, gws[2]!];
    const ch = room();
    const ann = await peer(a, 'ann');
    const annSub = await ann.join(ch);
    const gus = await peer(c, 'gus');
    await gus.join(ch);
    assert.deepEqual(await annSub.presenceStats(), { numClients: 2, numUsers: 2 });
    process.kill(c.pid, 'SIGKILL');
    await c.stop();
    const killedAt = Date.now();
    await waitFor(async () => (await annSub.presenceStats()).numClients === 1, PRESENCE_TTL_MS + 10_000, 'gus expired', { everyMs: 50 });
    const took = Date.now() - killedAt;
    assert.deepEqual(
      Object.values((await annSub.presence()).clients).map((i) => i.user),
      ['ann'],
    );
    process.stdout.write(`# dead node's presence entry gone ${took} ms after SIGKILL (TTL ${PRESENCE_TTL_MS} ms)\n`);
    // The survivors keep refreshing theirs: ann stays present for more than a whole TTL.
    const until = Date.now() + PRESENCE_TTL_MS + 500;
    while (Date.now() < until) {
      assert.deepEqual(await annSub.presenceStats(), { numClients: 1, numUsers: 1 });
      await new Promise<void>((r) => setTimeout(r, 250)); // within the client's command rate limit
    }
  });
});
