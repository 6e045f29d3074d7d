/**
 * Proxies to the application (issue 23): a local HTTP backend answers Centrifugo's proxy
 * requests for connect, subscribe, publish and refresh — allow, deny, disconnect, slow, down,
 * garbage. A backend that fails refuses (fail closed) with 100 temporary and is counted; the
 * gateway and a bystander go on. Per-namespace choice of the subscribe and publish proxies.
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
