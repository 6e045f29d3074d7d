import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../../src/lib/server/server.js';
import { TestClient, api, type Json } from '../testkit/ws-client.js';

const KEY = 'test-key';
const SECRET = 'test-secret-that-is-long-enough-for-hs256';
let gw: RunningGateway;
let ws: string;

before(async () => {
  gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, tokenHmacSecret: SECRET, maxMessageBytes: 1024 });
  ws = gw.url.replace('http', 'ws');
});
after(async () => {
  await gw.close();
});

const isType = (t: string) => (m: Record<string, unknown>) => m.type === t;

test('odin over real sockets: subscribe, publish through the API, receive the envelope', async () => {
  const c = await TestClient.connect(`${ws}/ws`);
  c.send({ type: 'subscribe', data: { channels: ['BTC.trade'] } });
  await c.next(isType('subscription_ack'));
  const r = await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { type: 'trade:new', price: 43250 } });
  assert.equal(r.status, 200);
  const result = r.body.result as { offset: number; epoch: string };
  assert.equal(typeof result.epoch, 'string');
  const push = await c.next(isType('trade:new'));
  assert.deepEqual(push.data, { type: 'trade:new', price: 43250 });
  assert.equal(push.offset, result.offset);
  assert.equal(push.epoch, result.epoch);
  c.close();
});

test('centrifuge protocol over real sockets: several commands in one frame, replies by id', async () => {
  const c = await TestClient.connect(`${ws}/connection/websocket`);
  c.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"ETH.trade"}}');
  await c.next((m) => m.id === 2);
  await api(gw.url, KEY, 'publish', { channel: 'ETH.trade', data: { p: 1 } });
  const push = await c.next((m) => m.push !== undefined);
  assert.deepEqual((push.push as { pub: { data: unknown } }).pub.data, { p: 1 });
  c.close();
});

test('API: wrong key 401; errors are HTTP 200 with code and message (Centrifugo default), huge body 413', async () => {
  assert.equal((await api(gw.url, 'nope', 'publish', { channel: 'BTC.trade', data: {} })).status, 401);
  const code = (r: { body: Json }): number => (r.body.error as { code: number }).code;
  const bad = await api(gw.url, KEY, 'publish', '{oops');
  assert.equal(bad.status, 200);
  assert.equal(code(bad), 107);
  const unknown = await api(gw.url, KEY, 'frobnicate', {});
  assert.equal(unknown.status, 200);
  assert.equal(code(unknown), 104);
  const field = await api(gw.url, KEY, 'publish', { channel: 42, data: {} });
  assert.equal(field.status, 200);
  assert.match((field.body.error as { message: string }).message, /^channel:/);
  const noData = await api(gw.url, KEY, 'publish', { channel: 'BTC.trade' });
  assert.equal(noData.status, 200);
  assert.equal(code(noData), 107);
  const ch = await api(gw.url, KEY, 'publish', { channel: 'no such channel', data: {} });
  assert.equal(ch.status, 200);
  assert.equal(code(ch), 102);
  const huge = await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: 'x'.repeat(2 * 1024 * 1024) });
  assert.equal(huge.status, 413);
  // Still serving.
  assert.equal((await api(gw.url, KEY, 'info', {})).status, 200);
});

test('API transport error mode: bad JSON 400, unknown method 404, unknown channel 404, bad field 400; body is the error', async () => {
  const mode = { 'x-centrifugo-error-mode': 'transport' };
  const bad = await api(gw.url, KEY, 'publish', '{oops', mode);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 107);
  const unknown = await api(gw.url, KEY, 'frobnicate', {}, mode);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, 104);
  const ch = await api(gw.url, KEY, 'publish', { channel: 'no such channel', data: {} }, mode);
  assert.equal(ch.status, 404);
  assert.equal(ch.body.code, 102);
  const field = await api(gw.url, KEY, 'publish', { channel: 42, data: {} }, mode);
  assert.equal(field.status, 400);
  assert.match(field.body.message as string, /^channel:/);
  const ok = await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: {} }, mode);
  assert.equal(ok.status, 200);
  assert.ok(ok.body.result);
});

test('API: history, broadcast, batch, presence, channels, disconnect', async () => {
  for (let i = 0; i < 3; i++) await api(gw.url, KEY, 'publish', { channel: 'SOL.liquidity', data: { i } });
  const h = await api(gw.url, KEY, 'history', { channel: 'SOL.liquidity', limit: 10 });
  const hist = h.body.result as { publications: { data: { i: number }; offset: number }[]; epoch: string; offset: number };
  assert.deepEqual(
    hist.publications.map((p) => p.data.i),
    [0, 1, 2],
  );
  assert.equal(hist.offset, 3);
  const since = await api(gw.url, KEY, 'history', { channel: 'SOL.liquidity', limit: -1, since: { offset: 2, epoch: hist.epoch } });
  assert.deepEqual(
    (since.body.result as typeof hist).publications.map((p) => p.offset),
    [3],
  );
  const b = await api(gw.url, KEY, 'broadcast', { channels: ['SOL.trade', 'bad channel'], data: { x: 1 } });
  const responses = (b.body.result as { responses: { result?: unknown; error?: { code: number } }[] }).responses;
  assert.ok(responses[0]!.result);
  assert.equal(responses[1]!.error!.code, 102);
  const batch = await fetch(`${gw.url}/api/batch`, {
    method: 'POST',
    headers: { 'x-api-key': KEY },
    body: JSON.stringify({ commands: [{ publish: { channel: 'SOL.trade', data: {} } }, { nope: {} }] }),
  });
  const replies = ((await batch.json()) as { replies: Record<string, unknown>[] }).replies;
  assert.ok(replies[0]!.publish);
  assert.equal((replies[1]!.error as { code: number }).code, 104);
  const c = await TestClient.connect(`${ws}/ws`);
  c.send({ type: 'subscribe', data: { channels: ['DOGE.trade'] } });
  await c.next(isType('subscription_ack'));
  const p = await api(gw.url, KEY, 'presence_stats', { channel: 'DOGE.trade' });
  assert.equal((p.body.result as { num_clients: number }).num_clients, 1);
  const chans = await api(gw.url, KEY, 'channels', {});
  assert.equal((chans.body.result as { channels: Record<string, { num_clients: number }> }).channels['DOGE.trade']?.num_clients, 1);
  c.close();
});

test('authenticated user channel: token at upgrade lets a user read only their own balances', async () => {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
  const c = await TestClient.connect(`${ws}/ws?token=${token}`);
  // Sent at once: commands wait for the token check, so these are served as alice.
  c.send({ type: 'hello' });
  c.send({ type: 'subscribe', data: { channels: ['ODIN.balances.alice'] } });
  assert.equal((await c.next(isType('connected'))).user, 'alice');
  assert.deepEqual((await c.next(isType('subscription_ack'))).subscribed, ['ODIN.balances.alice']);
  c.send({ type: 'subscribe', data: { channels: ['ODIN.balances.bob'] } });
  const denied = await c.next((m) => m.type === 'subscription_ack' && (m.subscribed as string[]).length === 0);
  assert.equal((denied.errors as { code: number }[])[0]!.code, 103);
  await api(gw.url, KEY, 'publish', { channel: 'ODIN.balances.alice', data: { type: 'balance:update', btc: 1 } });
  assert.deepEqual((await c.next(isType('balance:update'))).data, { type: 'balance:update', btc: 1 });
  c.close();
});

test('bad tokens: alg none, wrong key and expired are refused with terminal codes', async () => {
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"mallory"}').toString('base64url')}.`;
  const a = await TestClient.connect(`${ws}/ws?token=${none}`);
  assert.equal((await a.waitClose()).code, 3500);
  const wrong = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('eve')
    .sign(new TextEncoder().encode('another-secret-another-secret-another'));
  const b = await TestClient.connect(`${ws}/connection/websocket`);
  b.send({ id: 1, connect: { token: wrong } });
  assert.equal((await b.waitClose()).code, 3500);
  const expired = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(new TextEncoder().encode(SECRET));
  const c = await TestClient.connect(`${ws}/connection/websocket`);
  c.send({ id: 1, connect: { token: expired } });
  const reply = await c.next((m) => m.id === 1);
  assert.equal((reply.error as { code: number }).code, 109);
});

test('bad frames: oversize closes with 1009, binary on centrifuge closes 3501; the server keeps serving others', async () => {
  const watcher = await TestClient.connect(`${ws}/ws`);
  watcher.send({ type: 'subscribe', data: { channels: ['BTC.social'] } });
  await watcher.next(isType('subscription_ack'));
  const big = await TestClient.connect(`${ws}/ws`);
  big.send('x'.repeat(5000));
  assert.equal((await big.waitClose()).code, 1009);
  const bin = await TestClient.connect(`${ws}/connection/websocket`);
  bin.ws.send(Buffer.from([0, 1, 2]));
  assert.equal((await bin.waitClose()).code, 3501);
  await api(gw.url, KEY, 'publish', { channel: 'BTC.social', data: { ok: true } });
  await watcher.next(isType('social'));
  watcher.close();
});

test('upgrade refusals: unknown path 404; health, ready, metrics and stats answer', async () => {
  await assert.rejects(TestClient.connect(`${ws}/nope`), (e: { status?: number }) => e.status === 404);
  assert.equal((await fetch(`${gw.url}/health`)).status, 200);
  assert.equal((await fetch(`${gw.url}/ready`)).status, 200);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  for (const name of [
    'ws_connections_active',
    'ws_messages_sent_total',
    'ws_slow_clients_disconnected_total',
    'ws_replay_requests_total',
    'ws_capacity_rejections_total',
    'ws_broadcast_latency_seconds_bucket',
    'nodejs_eventloop_lag_seconds',
  ]) {
    assert.ok(metrics.includes(name), `metrics lack ${name}`);
  }
  const stats = (await (await fetch(`${gw.url}/stats`)).json()) as { ready: boolean };
  assert.equal(stats.ready, true);
  assert.equal((await fetch(`${gw.url}/nothing`)).status, 404);
});

test('garbage on the HTTP port gets 400 and does not disturb the server', async () => {
  const reply = await new Promise<string>((resolve) => {
    const s = netConnect(gw.port, '127.0.0.1', () => s.write('NOT HTTP AT ALL\r\n\r\n'));
    let buf = '';
    s.on('data', (d) => (buf += d.toString()));
    s.on('close', () => resolve(buf));
  });
  assert.match(reply, /^HTTP\/1.1 400/);
  assert.equal((await fetch(`${gw.url}/health`)).status, 200);
});

test('graceful shutdown: ready turns 503 first, clients get 3001, close resolves', async () => {
  const g = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY });
  const url = g.url.replace('http', 'ws');
  const a = await TestClient.connect(`${url}/ws`);
  const b = await TestClient.connect(`${url}/connection/websocket`);
  b.send({ id: 1, connect: {} });
  await b.next((m) => m.id === 1);
  const closing = g.close();
  assert.equal(g.gateway.isReady(), false);
  assert.equal((await a.waitClose()).code, 3001);
  assert.equal((await b.waitClose()).code, 3001);
  await closing;
  await g.close();
});

test('max connections: over the limit the upgrade gets HTTP 503', async () => {
  const g = await startGateway({ port: 0, host: '127.0.0.1', maxConnections: 1 });
  const url = g.url.replace('http', 'ws');
  const a = await TestClient.connect(`${url}/ws`);
  await assert.rejects(TestClient.connect(`${url}/ws`), (e: { status?: number }) => e.status === 503);
  a.close();
  await g.close();
});

test('churn over real sockets: gauges return to exactly zero', async () => {
  const clients: TestClient[] = [];
  for (let i = 0; i < 40; i++) {
    const odin = i % 2 === 0;
    const c = await TestClient.connect(odin ? `${ws}/ws` : `${ws}/connection/websocket`);
    if (odin) c.send({ type: 'subscribe', data: { channels: ['BTC.trade', `C${i}.trade`] } });
    else c.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"BTC.trade"}}`);
    await (odin ? c.next(isType('subscription_ack')) : c.next((m) => m.id === 2));
    clients.push(c);
  }
  const s = gw.gateway.stats;
  assert.ok(s.subscriptions >= 60);
  clients.forEach((c, i) => (i % 3 === 0 ? c.ws.terminate() : c.close()));
  await Promise.all(clients.map((c) => c.waitClose()));
  const deadline = Date.now() + 5000;
  while (gw.gateway.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(gw.gateway.connectionCount, 0);
  assert.equal(s.subscriptions, 0);
  assert.equal(s.connections.odin + s.connections.centrifuge, 0);
  assert.equal(gw.gateway.hub.channelCount, 0);
});

test('centrifuge token lifetime: refresh extends the connection; without refresh it closes with 3005; another user is refused', async () => {
  const key = new TextEncoder().encode(SECRET);
  const soon = Math.floor(Date.now() / 1000) + 2;
  const t1 = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ursula').setExpirationTime(soon).sign(key);
  const later = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ursula').setExpirationTime('1h').sign(key);
  const other = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('victor').setExpirationTime('1h').sign(key);

  const a = await TestClient.connect(`${ws}/connection/websocket`);
  a.send({ id: 1, connect: { token: t1 } });
  const cr = (await a.next((m) => m.id === 1)).connect as { expires: boolean; ttl: number };
  assert.equal(cr.expires, true);
  assert.ok(cr.ttl >= 1 && cr.ttl <= 2);
  a.send({ id: 2, refresh: { token: later } });
  const rr = (await a.next((m) => m.id === 2)).refresh as { expires: boolean; ttl: number };
  assert.equal(rr.expires, true);
  assert.ok(rr.ttl > 3500);

  const b = await TestClient.connect(`${ws}/connection/websocket`);
  b.send({ id: 1, connect: { token: t1 } });
  await b.next((m) => m.id === 1);
  // Not refreshed: closed when the token expires (an event, at most ~2 s away).
  assert.equal((await b.waitClose(5000)).code, 3005);
  // a outlived the first token.
  assert.equal(a.closed, null);
  a.send({ id: 3, refresh: { token: other } });
  assert.equal((await a.waitClose()).code, 3500);
});
