/**
 * Centrifugo's unidirectional transports (issue 23), read without an SDK: curl on
 * uni_http_stream and uni_sse, the `eventsource` package (the WHATWG EventSource) on uni_sse
 * with recovery through `Last-Event-ID` after a cut, a plain WebSocket on uni_websocket. Bare
 * Push objects (`{"connect":…}` first, then `{"channel":…,"pub":…}`), `subs` with
 * recover/offset/epoch, refusals as disconnects, and off unless `uniTransports: true`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { api, TestClient, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'uni-api-key';
const SECRET = 'uni-secret-uni-secret-uni-secret-uni-secret';
let gw: RunningGateway;
const children: ChildProcess[] = [];

before(async () => {
  gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey: KEY,
    tokenHmacSecret: SECRET,
    uniTransports: true,
    namespaces: [...DEFAULT_NAMESPACES, { name: 'desk', pattern: 'desk\\.[a-z]+', subscribe: 'token', historySize: 100 }],
  });
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill();
  await gw.close();
});

const publish = (channel: string, data: unknown): Promise<unknown> => api(gw.url, KEY, 'publish', { channel, data });

/** Runs curl, collecting stdout lines as they come. */
function curl(args: string[]): { lines: string[]; proc: ChildProcess } {
  const proc = spawn('curl', ['-sN', ...args]);
  children.push(proc);
  const lines: string[] = [];
  let rest = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const parts = (rest + d.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  return { lines, proc };
}

test('uni_http_stream with curl: the connect push, then publications, one bare push a line', async () => {
  const { lines, proc } = curl([
    '-X',
    'POST',
    '--data',
    JSON.stringify({ subs: { 'UNI.trade': {} } }),
    `${gw.url}/connection/uni_http_stream`,
  ]);
  await waitFor(() => lines.length >= 1, 5000, 'connect push');
  const connect = JSON.parse(lines[0]!) as { connect: Json };
  assert.equal(typeof connect.connect.client, 'string');
  assert.ok((connect.connect.subs as Json)['UNI.trade'], lines[0]);
  await publish('UNI.trade', { px: 1 });
  await waitFor(() => lines.some((l) => l.includes('"pub"')), 5000, 'publication');
  const pub = JSON.parse(lines.find((l) => l.includes('"pub"'))!) as { channel: string; pub: Json };
  assert.deepEqual([pub.channel, pub.pub.data, pub.pub.offset], ['UNI.trade', { px: 1 }, 1]);
  proc.kill();
});

test('uni_sse with curl: GET with cf_connect; data: events; a subscription token in subs grants its channel', async () => {
  const sub = await new SignJWT({ sub: '', channel: 'desk.fx' })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(SECRET));
  const q = encodeURIComponent(JSON.stringify({ subs: { 'desk.fx': { token: sub } } }));
  const { lines, proc } = curl([`${gw.url}/connection/uni_sse?cf_connect=${q}`]);
  await waitFor(() => lines.some((l) => l.startsWith('data: {"connect"')), 5000, 'connect event');
  const id = lines.find((l) => l.startsWith('id: '));
  assert.deepEqual(JSON.parse(id!.slice(4)), {
    'desk.fx': [0, (JSON.parse(id!.slice(4)) as Record<string, [number, string]>)['desk.fx']![1]],
  });
  await publish('desk.fx', { bid: 2 });
  await waitFor(() => lines.some((l) => l.startsWith('data: {"channel"')), 5000, 'publication event');
  const ev = JSON.parse(lines.find((l) => l.startsWith('data: {"channel"'))!.slice(6)) as { channel: string; pub: Json };
  assert.deepEqual([ev.channel, ev.pub.data, ev.pub.offset], ['desk.fx', { bid: 2 }, 1]);
  proc.kill();
});

test('uni_sse with EventSource: after a cut it reconnects with Last-Event-ID and recovers every missed publication, once', async () => {
  // A user, so that the server API can cut this connection.
  const token = await new SignJWT({ sub: 'es-user' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
  const q = encodeURIComponent(JSON.stringify({ token, subs: { 'ES.trade': {} } }));
  const pushes: Json[] = [];
  const es = new EventSource(`${gw.url}/connection/uni_sse?cf_connect=${q}`);
  es.onmessage = (e: MessageEvent<string>) => pushes.push(JSON.parse(e.data) as Json);
  try {
    await waitFor(() => pushes.some((p) => p.connect !== undefined), 5000, 'connect');
    for (let i = 1; i <= 3; i++) await publish('ES.trade', { i });
    await waitFor(() => pushes.filter((p) => p.pub !== undefined).length === 3, 5000, 'first 3');
    // Cut: the server disconnects the stream (a reconnect code); publications go on meanwhile.
    const connects = (): Json[] => pushes.filter((p) => p.connect !== undefined).map((p) => p.connect as Json);
    const cut = await api(gw.url, KEY, 'disconnect', { user: 'es-user', disconnect: { code: 3011, reason: 'force reconnect' } });
    assert.equal(cut.status, 200);
    for (let i = 4; i <= 6; i++) await publish('ES.trade', { i });
    await waitFor(() => connects().length === 2, 10_000, 'reconnect');
    await publish('ES.trade', { i: 7 });
    await waitFor(() => pushes.filter((p) => p.pub !== undefined).length === 4, 5000, 'live after reconnect');
    const resumed = (connects()[1]!.subs as Record<string, Json>)['ES.trade']!;
    assert.equal(resumed.recovered, true);
    const recovered = (resumed.publications as Json[]).map((p) => (p.data as { i: number }).i);
    const live = pushes.filter((p) => p.pub !== undefined).map((p) => ((p.pub as Json).data as { i: number }).i);
    assert.deepEqual([...live.slice(0, 3), ...recovered, ...live.slice(3)], [1, 2, 3, 4, 5, 6, 7]);
  } finally {
    es.close();
  }
});

test('uni_websocket with a plain WebSocket: the connect request as first message or in cf_connect; later messages ignored', async () => {
  const base = gw.url.replace('http', 'ws') + '/connection/uni_websocket';
  const c = await TestClient.connect(base);
  c.send({ subs: { 'WS.trade': {} } });
  const connect = await c.next((m) => m.connect !== undefined);
  assert.ok(((connect.connect as Json).subs as Json)['WS.trade']);
  c.send({ subscribe: { channel: 'ETH.trade' } }); // not a command here: dropped
  await publish('WS.trade', { w: 1 });
  const got = await c.next((m) => m.pub !== undefined);
  assert.deepEqual([got.channel, (got.pub as Json).data, (got.pub as Json).offset], ['WS.trade', { w: 1 }, 1]);
  c.close();
  const epoch = (((connect.connect as Json).subs as Record<string, Json>)['WS.trade']!.epoch as string) ?? '';
  const q = encodeURIComponent(JSON.stringify({ subs: { 'WS.trade': { recover: true, offset: 0, epoch } } }));
  const r = await TestClient.connect(`${base}?cf_connect=${q}`);
  const rc = await r.next((m) => m.connect !== undefined);
  const sub = ((rc.connect as Json).subs as Record<string, Json>)['WS.trade']!;
  assert.equal(sub.recovered, true);
  assert.equal((sub.publications as Json[]).length, 1);
  r.close();
});

test('refusals are disconnects: a channel not allowed (3507), a bad connect request (3501), a bad token (3500); /metrics unharmed', async () => {
  const base = gw.url.replace('http', 'ws') + '/connection/uni_websocket';
  const denied = await TestClient.connect(base);
  denied.send({ subs: { 'BTC.balances.alice': {} } });
  assert.equal((await denied.waitClose()).code, 3507);
  const bad = await TestClient.connect(base);
  bad.send('not json');
  assert.equal((await bad.waitClose()).code, 3501);
  const forged = await TestClient.connect(base);
  forged.send({ token: 'a.b.c' });
  assert.equal((await forged.waitClose()).code, 3500);
  // On a stream the disconnect is the last push.
  const { lines } = curl(['-X', 'POST', '--data', JSON.stringify({ subs: { 'desk.fx': {} } }), `${gw.url}/connection/uni_http_stream`]);
  await waitFor(() => lines.length >= 1, 5000, 'disconnect push');
  assert.deepEqual(JSON.parse(lines[0]!), { disconnect: { code: 3507, reason: 'permission denied', reconnect: false } });
  const lastEventId = await fetch(`${gw.url}/connection/uni_sse`, { headers: { 'last-event-id': 'garbage' } });
  assert.equal(lastEventId.status, 400);
  assert.equal(((await lastEventId.json()) as { error: Json }).error.code, 107);
  assert.equal((await fetch(`${gw.url}/metrics`)).status, 200);
});

test('off by default: the uni paths are unknown', async () => {
  const plain = await startGateway({ port: 0, host: '127.0.0.1' });
  try {
    // Not served: 404, or 405 where another route answers GET under the same prefix.
    assert.ok([404, 405].includes((await fetch(`${plain.url}/connection/uni_http_stream`, { method: 'POST', body: '{}' })).status));
    assert.equal((await fetch(`${plain.url}/connection/uni_sse`)).status, 404);
    await assert.rejects(TestClient.connect(`${plain.url.replace('http', 'ws')}/connection/uni_websocket`), /HTTP 404/);
  } finally {
    await plain.close();
  }
});

test('a plain WebSocket is not refused as slow or dead for not answering {} pings (it answers WebSocket pings)', async () => {
  const fast = await startGateway({ port: 0, host: '127.0.0.1', uniTransports: true, pingIntervalMs: 100, pongTimeoutMs: 50 });
  try {
    const ws = new WebSocket(`${fast.url.replace('http', 'ws')}/connection/uni_websocket?cf_connect=${encodeURIComponent('{}')}`);
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    await waitFor(() => got.filter((m) => m === '{}').length >= 3, 5000, 'three pings');
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  } finally {
    await fast.close();
  }
});

test('protobuf is refused on every uni transport, as Centrifugo serves them in JSON only (400, code 107; a binary connect frame 3501)', async () => {
  const base = gw.url.replace('http', 'ws') + '/connection/uni_websocket';
  // The protobuf subprotocol: refused at the upgrade, never selected and then answered in JSON.
  const upgrade = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(base, ['centrifuge-protobuf']);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => reject(new Error('upgraded')));
    ws.once('error', () => undefined);
  });
  assert.equal(upgrade.status, 400);
  assert.match(upgrade.body, /JSON only/);
  // A binary (protobuf) connect request as the first frame: a malformed connect request.
  const binary = await TestClient.connect(base);
  binary.ws.send(Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]));
  assert.equal((await binary.waitClose()).code, 3501);
  // A protobuf body (the emulation transports' Content-Type for it) on the HTTP uni transports.
  for (const path of ['/connection/uni_http_stream', '/connection/uni_sse']) {
    const r = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from([0x0a, 0x00]),
    });
    assert.equal(r.status, 400, path);
    const err = ((await r.json()) as { error: Json }).error;
    assert.equal(err.code, 107, path);
    assert.match(String(err.message), /JSON only/, path);
  }
  // The gateway goes on: a JSON client on the same path still connects.
  const ok = await TestClient.connect(`${base}?cf_connect=${encodeURIComponent('{}')}`);
  await ok.next((m) => m.connect !== undefined);
  ok.close();
});
