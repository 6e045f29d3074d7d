/**
 * Proxies to the application (issue 23): a local HTTP backend answers Centrifugo's proxy
 * requests for connect, subscribe, publish and refresh — allow, deny, disconnect, slow, down,
 * garbage. A backend that fails refuses (fail closed) with 100 temporary and is counted; the
 * gateway and a bystander go on. Per-namespace choice of the subscribe and publish proxies.
 * The connect and subscribe proxies apply to Odin `/ws` connections too (no token: the connect
 * proxy decides), with the same fail-closed rule and codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { api, TestClient, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'proxy-api-key';
type Mode = 'allow' | 'deny' | 'disconnect' | 'slow' | 'garbage' | 'status500';
type Kind = 'connect' | 'subscribe' | 'publish' | 'refresh';

/** The application's backend: one path per proxy kind, each answering as `mode[kind]` says; keeps every request. */
class Backend {
  mode: Record<Kind, Mode> = { connect: 'allow', subscribe: 'allow', publish: 'allow', refresh: 'allow' };
  /** What an allowing answer's result holds, per kind. */
  result: Record<Kind, Json> = {
    connect: { user: 'alice', channels: ['PX.trade'] },
    subscribe: { data: { granted: true } },
    publish: {},
    refresh: { expire_at: Math.floor(Date.now() / 1000) + 3600 },
  };
  readonly requests: { kind: Kind; body: Json; headers: IncomingMessage['headers'] }[] = [];
  private readonly server: Server = createServer((req, res) => {
    const kind = req.url!.slice(1) as Kind;
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      this.requests.push({ kind, body: JSON.parse(raw) as Json, headers: req.headers });
      const reply = (body: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      switch (this.mode[kind]) {
        case 'allow':
          return reply({ result: this.result[kind] });
        case 'deny':
          return reply({ error: { code: 103, message: 'not for you' } });
        case 'disconnect':
          return reply({ disconnect: { code: 4501, reason: 'banned' } });
        case 'garbage':
          return void res.writeHead(200).end('<html>oops');
        case 'status500':
          return void res.writeHead(500).end('{}');
        case 'slow':
          return; // never answers: the gateway's deadline must
      }
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const backend = new Backend();
let gw: RunningGateway;
let ws: string;
const open: TestClient[] = [];

before(async () => {
  await backend.start();
  const ep = (kind: Kind, headers: string[] = []) => ({ url: `${backend.url}/${kind}`, timeoutMs: 1000, headers });
  gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey: KEY,
    proxy: { connect: ep('connect', ['cookie']), subscribe: ep('subscribe'), publish: ep('publish'), refresh: ep('refresh') },
    namespaces: [
      ...DEFAULT_NAMESPACES,
      { name: 'acct', pattern: 'acct\\.[a-z]+', subscribe: 'token', proxySubscribe: true, historySize: 10 },
      { name: 'chat', pattern: 'chat\\.[a-z]+', proxyPublish: true, historySize: 10 },
    ],
  });
  ws = `${gw.url.replace('http', 'ws')}/connection/websocket`;
});
after(async () => {
  for (const c of open) c.close();
  await gw.close();
  await backend.stop();
});

/** Connects (connect data, name, version): the reply, or {} when the connection was closed without one. */
async function connect(headers: Record<string, string> = {}): Promise<{ c: TestClient; reply: Json }> {
  const c = await TestClient.connect(ws, { headers });
  open.push(c);
  c.send({ id: 1, connect: { data: { app: 'desk' }, name: 'bot', version: '1.0' } });
  const reply = await Promise.race([c.next((m) => m.id === 1), c.waitClose().then(() => ({}) as Json)]);
  return { c, reply };
}
let id = 10;
async function call(c: TestClient, cmd: Json): Promise<Json> {
  const n = id++;
  c.send({ id: n, ...cmd });
  return c.next((m) => m.id === n);
}
const metric = async (kind: Kind, outcome: string): Promise<number> => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`ws_proxy_requests_total\\{proxy="${kind}",outcome="${outcome}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
};

test("connect proxy: Centrifugo's request (client, transport, protocol, encoding, data, name, version, chosen headers); its user and channels", async () => {
  backend.mode.connect = 'allow';
  const { reply } = await connect({ cookie: 'session=s1', 'x-not-passed': 'secret' });
  assert.ok(((reply.connect as Json | undefined)?.subs as Json | undefined)?.['PX.trade'], JSON.stringify(reply));
  const req = backend.requests.filter((r) => r.kind === 'connect').at(-1)!;
  assert.deepEqual(
    { ...req.body, client: typeof req.body.client },
    {
      client: 'string',
      transport: 'websocket',
      protocol: 'json',
      encoding: 'json',
      user: '',
      name: 'bot',
      version: '1.0',
      data: { app: 'desk' },
    },
  );
  assert.equal(req.headers.cookie, 'session=s1');
  assert.equal(req.headers['x-not-passed'], undefined);
});

test('connect proxy refusals: its error (reply, close 3500), its disconnect (that code); down, slow, garbage or 500 → 100 temporary, close 3000', async () => {
  backend.mode.connect = 'deny';
  const denied = await connect();
  assert.deepEqual(denied.reply.error, { code: 103, message: 'not for you' });
  assert.equal((await denied.c.waitClose()).code, 3500);
  backend.mode.connect = 'disconnect';
  const banned = await connect();
  assert.equal((await banned.c.waitClose()).code, 4501);
  for (const mode of ['slow', 'garbage', 'status500'] as const) {
    backend.mode.connect = mode;
    const failed = await connect();
    assert.deepEqual(failed.reply.error, { code: 100, message: 'the application could not be asked, retry later', temporary: true }, mode);
    assert.equal((await failed.c.waitClose()).code, 3000, mode);
  }
  assert.ok((await metric('connect', 'failed')) >= 3);
  assert.ok((await metric('connect', 'refused')) >= 2);
  backend.mode.connect = 'allow';
});

test('subscribe proxy only where the namespace asks for it; allow (its data in the reply), deny, slow; a bystander goes on', async () => {
  backend.mode.connect = 'allow';
  const { c } = await connect();
  const bystander = await connect();
  await call(bystander.c, { subscribe: { channel: 'BTC.trade' } });
  const before = backend.requests.filter((r) => r.kind === 'subscribe').length;
  assert.ok((await call(c, { subscribe: { channel: 'ETH.trade' } })).subscribe, 'public: not proxied');
  assert.equal(backend.requests.filter((r) => r.kind === 'subscribe').length, before);
  const ok = await call(c, { subscribe: { channel: 'acct.main' } });
  assert.deepEqual((ok.subscribe as Json).data, { granted: true });
  const req = backend.requests.filter((r) => r.kind === 'subscribe').at(-1)!;
  assert.equal(req.body.channel, 'acct.main');
  assert.equal(req.body.user, 'alice');
  backend.mode.subscribe = 'deny';
  assert.deepEqual((await call(c, { subscribe: { channel: 'acct.other' } })).error, { code: 103, message: 'not for you' });
  backend.mode.subscribe = 'slow';
  const slow = await call(c, { subscribe: { channel: 'acct.slow' } });
  assert.deepEqual((slow.error as Json).code, 100);
  assert.equal((slow.error as Json).temporary, true);
  await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { still: 1 } });
  await bystander.c.next((m) => (m.push as Json | undefined)?.channel === 'BTC.trade');
  backend.mode.subscribe = 'allow';
});

test('publish proxy: allow (its data replaces the client’s), deny, down — the namespace’s own publish flag is not needed', async () => {
  const { c } = await connect();
  await call(c, { subscribe: { channel: 'chat.room' } });
  backend.result.publish = { data: { text: 'rewritten' } };
  assert.deepEqual((await call(c, { publish: { channel: 'chat.room', data: { text: 'raw' } } })).publish, {});
  const pub = await c.next((m) => (m.push as Json | undefined)?.channel === 'chat.room');
  assert.deepEqual(((pub.push as Json).pub as Json).data, { text: 'rewritten' });
  assert.deepEqual(backend.requests.filter((r) => r.kind === 'publish').at(-1)!.body.data, { text: 'raw' });
  backend.mode.publish = 'deny';
  assert.equal(((await call(c, { publish: { channel: 'chat.room', data: 1 } })).error as Json).code, 103);
  backend.mode.publish = 'status500';
  assert.equal(((await call(c, { publish: { channel: 'chat.room', data: 1 } })).error as Json).code, 100);
  // Not a proxied namespace, no publish flag: refused as before.
  assert.equal(((await call(c, { publish: { channel: 'BTC.trade', data: 1 } })).error as Json).code, 103);
  backend.mode.publish = 'allow';
});

test('refresh proxy: a proxied connection at its expire_at is extended, or ended with 3005 when the proxy fails', async () => {
  backend.result.connect = { user: 'bob', expire_at: Math.floor(Date.now() / 1000) + 1 };
  backend.mode.refresh = 'allow';
  backend.result.refresh = { expire_at: Math.floor(Date.now() / 1000) + 3600 };
  const kept = await connect();
  assert.equal((kept.reply.connect as Json).expires, true);
  await waitFor(() => backend.requests.some((r) => r.kind === 'refresh' && r.body.user === 'bob'), 5000, "bob's refresh");
  backend.mode.refresh = 'garbage';
  backend.result.connect = { user: 'carol', expire_at: Math.floor(Date.now() / 1000) + 1 };
  const ended = await connect();
  assert.equal((await ended.c.waitClose(5000)).code, 3005);
  assert.equal(kept.c.closed, null);
  assert.ok((await call(kept.c, { subscribe: { channel: 'SOL.trade' } })).subscribe);
  assert.ok((await metric('refresh', 'failed')) >= 1);
  backend.result.connect = { user: 'alice', channels: ['PX.trade'] };
  backend.mode.refresh = 'allow';
});

/** An Odin connection to /ws without a token (the connect proxy decides), with upgrade headers. */
async function odin(headers: Record<string, string> = {}): Promise<TestClient> {
  const c = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`, { headers });
  open.push(c);
  return c;
}

test('Odin /ws without a token asks the connect proxy: its user, its channels subscribed server-side, the chosen headers', async () => {
  backend.mode.connect = 'allow';
  backend.result.connect = { user: 'alice', channels: ['PX.trade'] };
  const c = await odin({ cookie: 'session=o1' });
  // Its server-side subscription is announced as an ack; then it gets the channel's publications.
  const ack = await c.next((m) => m.type === 'subscription_ack', 5000);
  assert.deepEqual(ack.subscribed, ['PX.trade']);
  c.send({ type: 'hello' });
  assert.equal((await c.next((m) => m.type === 'connected')).user, 'alice');
  const req = backend.requests.filter((r) => r.kind === 'connect').at(-1)!;
  assert.deepEqual(
    { ...req.body, client: typeof req.body.client },
    { client: 'string', transport: 'odin', protocol: 'json', encoding: 'json', user: '' },
  );
  assert.equal(req.headers.cookie, 'session=o1');
  await api(gw.url, KEY, 'publish', { channel: 'PX.trade', data: { type: 'trade', px: 1 } });
  await c.next((m) => m.channel === 'PX.trade' && m.type === 'trade');
  // The subscribe proxy applies to Odin subscribes of its namespaces too, with the proxied user.
  backend.mode.subscribe = 'allow';
  c.send({ type: 'subscribe', data: { channels: ['acct.odin'] } });
  assert.deepEqual((await c.next((m) => m.type === 'subscription_ack' && (m.subscribed as string[]).includes('acct.odin'))).count, 2);
  assert.equal(backend.requests.filter((r) => r.kind === 'subscribe').at(-1)!.body.user, 'alice');
  backend.mode.subscribe = 'deny';
  c.send({ type: 'subscribe', data: { channels: ['acct.nope'] } });
  const refused = await c.next((m) => m.type === 'subscription_ack' && (m.errors as Json[] | undefined)?.length === 1);
  assert.deepEqual(
    (refused.errors as Json[]).map((e) => [e.channel, e.code]),
    [['acct.nope', 103]],
  );
  backend.mode.subscribe = 'allow';
});

test('Odin connect proxy refusals: error then close 3500, its disconnect code; slow, garbage, 500 → error 100 and close 3000 (fail closed); a bystander goes on', async () => {
  const bystander = await connect();
  await call(bystander.c, { subscribe: { channel: 'BTC.trade' } });
  backend.mode.connect = 'deny';
  const denied = await odin();
  assert.deepEqual(await denied.next((m) => m.type === 'error'), { type: 'error', code: 103, message: 'not for you' });
  assert.equal((await denied.next((m) => m.type === 'disconnect')).reconnect, false);
  assert.equal((await denied.waitClose()).code, 3500);
  backend.mode.connect = 'disconnect';
  assert.equal((await (await odin()).waitClose()).code, 4501);
  const failedBefore = await metric('connect', 'failed');
  for (const mode of ['slow', 'garbage', 'status500'] as const) {
    backend.mode.connect = mode;
    const failed = await odin();
    // Commands sent while the proxy is asked wait, and are dropped with the connection.
    failed.send({ type: 'subscribe', data: { channels: ['ETH.trade'] } });
    const err = await failed.next((m) => m.type === 'error', 5000);
    assert.deepEqual([err.code, err.message], [100, 'the application could not be asked, retry later'], mode);
    assert.equal((await failed.next((m) => m.type === 'disconnect')).reconnect, true, mode);
    assert.equal((await failed.waitClose()).code, 3000, mode);
    assert.equal(
      failed.messages.some((m) => m.type === 'subscription_ack'),
      false,
      mode,
    );
  }
  assert.equal((await metric('connect', 'failed')) - failedBefore, 3);
  await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { still: 2 } });
  await bystander.c.next((m) => (m.push as Json | undefined)?.channel === 'BTC.trade' && ((m.push as Json).pub as Json).data !== undefined);
  backend.mode.connect = 'allow';
});

test('Odin connect proxy down (nothing listens): error 100, close 3000', async () => {
  const down = await startGateway({
    port: 0,
    host: '127.0.0.1',
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    proxy: { connect: { url: 'http://127.0.0.1:1/connect', timeoutMs: 1000, headers: [] } },
  });
  try {
    const c = await TestClient.connect(`${down.url.replace('http', 'ws')}/ws`);
    assert.equal((await c.next((m) => m.type === 'error')).code, 100);
    assert.equal((await c.waitClose()).code, 3000);
  } finally {
    await down.close();
  }
});
