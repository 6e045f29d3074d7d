import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { clientFrame, closePayload, handshake, OP, RawClient } from '../testkit/raw-socket.js';
import { TestClient, api, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'test-key';
const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const isType = (t: string) => (m: Record<string, unknown>) => m.type === t;
/** Short deadlines so the deadline cases answer within a test's time. */
const LIMITS = { bodyTimeoutMs: 500, headersTimeoutMs: 1000 } as const;

/** What a client sees over real sockets: answers, close codes, HTTP statuses (docs/protocol.md). */
describe('gateway over real sockets', () => {
  let gw: RunningGateway;
  let ws: string;

  before(async () => {
    gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, tokenHmacSecret: SECRET, maxMessageBytes: 1024 }, LIMITS);
    ws = gw.url.replace('http', 'ws');
  });
  after(async () => {
    await gw.close();
  });

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

  test('API: wrong key 401; errors are HTTP 200 with code and message (Centrifugo default), unknown method 404, huge body 413', async () => {
    assert.equal((await api(gw.url, 'nope', 'publish', { channel: 'BTC.trade', data: {} })).status, 401);
    const code = (r: { body: Json }): number => (r.body.error as { code: number }).code;
    const bad = await api(gw.url, KEY, 'publish', '{oops');
    assert.equal(bad.status, 200);
    assert.equal(code(bad), 107);
    // An unknown method has no route: HTTP 404 in both modes, as Centrifugo (issue 20).
    const unknown = await api(gw.url, KEY, 'frobnicate', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 104);
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
    await waitFor(() => gw.gateway.connectionCount === 0, 5000, 'every connection gone');
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

  // ---- heartbeat and recovery ----

  test('odin heartbeat → pong', async () => {
    const c = await TestClient.connect(`${ws}/ws`);
    c.send({ type: 'heartbeat' });
    assert.equal(typeof (await c.next(isType('pong'))).ts, 'number');
    c.close();
  });

  test('centrifuge: recovery on resubscribe from an earlier position', async () => {
    const c = await TestClient.connect(`${ws}/connection/websocket`);
    c.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"XRP.trade"}}');
    const sub = (await c.next((m) => m.id === 2)).subscribe as { epoch: string; offset?: number };
    await api(gw.url, KEY, 'publish', { channel: 'XRP.trade', data: { p: 1 } });
    const push = await c.next((m) => m.push !== undefined);
    assert.deepEqual((push.push as { pub: { data: unknown } }).pub.data, { p: 1 });
    c.close();
    await api(gw.url, KEY, 'publish', { channel: 'XRP.trade', data: { p: 2 } });
    const d = await TestClient.connect(`${ws}/connection/websocket`);
    d.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"XRP.trade","recover":true,"offset":1,"epoch":"${sub.epoch}"}}`);
    const rec = (await d.next((m) => m.id === 2)).subscribe as { recovered: boolean; publications: { data: unknown }[] };
    assert.equal(rec.recovered, true);
    assert.deepEqual(
      rec.publications.map((p) => p.data),
      [{ p: 2 }],
    );
    d.close();
  });

  // ---- RFC 6455 on raw frames: the documented close code (docs/protocol.md, "Bad frames") ----

  const frameCases: { name: string; frames: () => Buffer[]; code: number }[] = [
    {
      name: 'an unmasked client frame',
      frames: () => [clientFrame(OP.text, '{"type":"heartbeat"}', { mask: false })],
      code: 1002,
    },
    {
      name: 'a data frame inside a fragmented message',
      frames: () => [clientFrame(OP.text, '{"type":', { fin: false }), clientFrame(OP.text, '"heartbeat"}')],
      code: 1002,
    },
    {
      name: 'a continuation frame with no message started',
      frames: () => [clientFrame(OP.continuation, 'x')],
      code: 1002,
    },
    {
      name: 'a 1-byte close payload',
      frames: () => [clientFrame(OP.close, Buffer.from([3]))],
      code: 1002,
    },
    {
      name: 'a close code that may not be sent (1005)',
      frames: () => [clientFrame(OP.close, closePayload(1005))],
      code: 1002,
    },
    {
      name: 'a close code out of range (2999)',
      frames: () => [clientFrame(OP.close, closePayload(2999))],
      code: 1002,
    },
    {
      name: 'a close reason that is not UTF-8',
      frames: () => [clientFrame(OP.close, closePayload(1000, Buffer.from([0xff, 0xfe])))],
      code: 1007,
    },
    {
      name: 'reserved bits set without an extension',
      frames: () => [clientFrame(OP.text, 'hi', { rsv: 4 })],
      code: 1002,
    },
    { name: 'an unknown opcode', frames: () => [clientFrame(3, 'hi')], code: 1002 },
    {
      name: 'a text frame that is not UTF-8',
      frames: () => [clientFrame(OP.text, Buffer.from([0xff, 0xfe]))],
      code: 1007,
    },
    { name: 'a ping with more than 125 bytes', frames: () => [clientFrame(OP.ping, Buffer.alloc(126))], code: 1002 },
    { name: 'a fragmented ping', frames: () => [clientFrame(OP.ping, 'x', { fin: false })], code: 1002 },
  ];
  for (const c of frameCases) {
    test(`${c.name} closes with ${c.code}`, async () => {
      const r = await RawClient.upgrade(gw.port, '/ws');
      for (const f of c.frames()) r.write(f);
      assert.equal(await r.closeCode(), c.code, `frames seen: ${r.describe()}`);
      r.destroy();
    });
  }

  test('more than 16,384 fragments in one message closes with 1008', async () => {
    const r = await RawClient.upgrade(gw.port, '/ws');
    const frames = [clientFrame(OP.text, ' ', { fin: false })];
    for (let i = 0; i < 16_384; i++) frames.push(clientFrame(OP.continuation, '', { fin: false }));
    r.write(Buffer.concat(frames));
    assert.equal(await r.closeCode(), 1008);
    r.destroy();
  });

  // ---- handshakes and plain HTTP: the documented status ----

  test('handshake without a supported Sec-WebSocket-Version: 400 naming the versions', async () => {
    for (const version of [undefined, '99', '']) {
      const r = await RawClient.open(gw.port);
      r.write(handshake('/ws', { 'Sec-WebSocket-Version': version }));
      const a = await r.response();
      assert.equal(a.status, 400, `version ${String(version)}`);
      assert.equal(a.headers['sec-websocket-version'], '13, 8');
      r.destroy();
    }
  });

  test('handshake with a bad Sec-WebSocket-Key: 400', async () => {
    const r = await RawClient.open(gw.port);
    r.write(handshake('/ws', { 'Sec-WebSocket-Key': 'short' }));
    assert.equal((await r.response()).status, 400);
    r.destroy();
  });

  test('Origin "" and a duplicated Origin header do not pass an allow-list: 403', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', allowedOrigins: ['https://odin.fun'] });
    try {
      const cases: [Record<string, string>, string[], number][] = [
        [{ Origin: 'https://odin.fun' }, [], 101],
        [{ Origin: '' }, [], 403],
        [{}, ['Origin: https://odin.fun', 'Origin: https://evil.example'], 403],
        [{}, ['Origin: https://evil.example', 'Origin: https://odin.fun'], 403],
      ];
      for (const [headers, extra, status] of cases) {
        const r = await RawClient.open(g.port);
        r.write(handshake('/ws', headers, extra));
        await r.until(() => r.status !== null, 'an answer');
        assert.equal(r.status, status, JSON.stringify([headers, extra]));
        r.destroy();
      }
    } finally {
      await g.close();
    }
  });

  test('CONNECT is answered 405, never tunnelled', async () => {
    const r = await RawClient.open(gw.port);
    r.write('CONNECT /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.equal((await r.response()).status, 405);
    r.destroy();
  });

  test('CONNECT in authority form (a proxy request) is answered 405', async () => {
    const r = await RawClient.open(gw.port);
    r.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal((await r.response(3000)).status, 405);
    r.destroy();
  });

  test('API: the key is checked before the body is read: 64 MB without a key gets 401 after the headers alone', async () => {
    const r = await RawClient.open(gw.port);
    r.write(
      `POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`,
    );
    const a = await r.response();
    assert.equal(a.status, 401);
    assert.equal((JSON.parse(a.body) as { error: { code: number } }).error.code, 101);
    r.destroy();
  });

  test('API: a body declared far over the limit gets 413 after the headers alone, even with the key', async () => {
    const r = await RawClient.open(gw.port);
    r.write(`POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${KEY}\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
    assert.equal((await r.response()).status, 413);
    r.destroy();
  });

  test('API: streaming 64 MB without a key does not grow the process by the body', async () => {
    const before = process.memoryUsage().rss;
    const r = await RawClient.open(gw.port);
    r.write(`POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    // The server closes a refused request's connection once its answer is out: a write
    // waiting for 'drain' then gets an error and a close instead.
    const drainedOrClosed = (): Promise<void> =>
      new Promise((resolve) => {
        const done = (): void => {
          r.socket.off('drain', done);
          r.socket.off('close', done);
          resolve();
        };
        r.socket.once('drain', done);
        r.socket.once('close', done);
      });
    for (let sent = 0; sent < 64 * 1024 * 1024 && !r.closed; sent += chunk.length) {
      if (!r.socket.write(chunk)) await drainedOrClosed();
    }
    assert.equal((await r.response()).status, 401);
    r.destroy();
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 32 * 1024 * 1024, `RSS grew ${Math.round(grown / 1048576)} MiB`);
  });

  test('API: a body that stalls gets 408 at the body deadline', async () => {
    const r = await RawClient.open(gw.port);
    r.write(`POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${KEY}\r\nContent-Length: 100\r\n\r\n{"chan`);
    const a = await r.response();
    assert.equal(a.status, 408);
    assert.equal((JSON.parse(a.body) as { error: { code: number } }).error.code, 107);
    r.destroy();
  });

  test('a half-sent handshake is cut after the header deadline', async () => {
    const r = await RawClient.open(gw.port);
    r.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    // The deadline given (LIMITS.headersTimeoutMs, 1 s).
    await r.until(() => r.closed, 'the server to cut the connection', 15_000);
    r.destroy();
  });

  test('half-sent handshakes count against the per-IP and connection limits', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', maxConnectionsPerIp: 2 });
    try {
      const half = await Promise.all([RawClient.open(g.port), RawClient.open(g.port)]);
      for (const h of half) h.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // The third connection from this address is over the limit: dropped at accept.
      const third = await RawClient.open(g.port);
      await third.until(() => third.closed, 'the third connection to be dropped');
      assert.ok(g.gateway.stats.rejected.max_connections_per_ip >= 1);
      for (const h of half) h.destroy();
      // Once they are gone (the server sees the close a moment later), the address may connect again.
      let c = null as TestClient | null;
      const connected = async (): Promise<boolean> =>
        (c = await TestClient.connect(g.url.replace('http', 'ws') + '/ws').catch(() => null)) !== null;
      await waitFor(connected, 5000, 'a connection', { everyMs: 0 });
      assert.ok(c, 'no connection after the half-sent ones closed');
      c.close();
    } finally {
      await g.close();
    }
  });

  test('shutdown: while clients drain, the port still answers: /ready and upgrades get 503, clients get 3001', async () => {
    // drainMs: the port keeps answering this long at least.
    const g = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY }, { drainMs: 3000 });
    // A client that does not answer the closing handshake keeps the drain going.
    const stubborn = await RawClient.upgrade(g.port, '/ws');
    const polite = await TestClient.connect(g.url.replace('http', 'ws') + '/connection/websocket');
    const closing = g.close();
    assert.equal(await stubborn.closeCode(), 3001);
    assert.equal((await polite.waitClose()).code, 3001);
    const ready = await fetch(`${g.url}/ready`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { draining: boolean }).draining, true);
    await assert.rejects(TestClient.connect(g.url.replace('http', 'ws') + '/ws'), (e: { status?: number }) => e.status === 503);
    // The stubborn client completes the handshake (if its socket is still open): close resolves.
    if (!stubborn.closed) stubborn.write(clientFrame(OP.close, closePayload(1000)));
    await closing;
    stubborn.destroy();
  });

  // Last: it leaves megabytes of pongs behind, which would blur the RSS figure of the
  // streaming test above.
  test('a ping flood from a peer that reads none of the pongs is dropped; the server keeps serving', async () => {
    // Dropped after more than WS_MAX_PENDING_PONGS pongs not taken (ws's maxPendingAutoPongs).
    const g = await startGateway({ port: 0, host: '127.0.0.1' });
    try {
      const r = await RawClient.upgrade(g.port, '/ws');
      r.socket.pause(); // reads nothing
      const batch = Buffer.concat(Array.from({ length: 1000 }, () => clientFrame(OP.ping, Buffer.alloc(125, 1))));
      const closed = new Promise((resolve) => r.socket.once('close', resolve));
      // Bounded: at most 500,000 pings (~65 MB); the peer is dropped long before.
      for (let sent = 0; sent < 500_000 && !r.socket.destroyed; sent += 1000) {
        if (!r.socket.write(batch)) await Promise.race([new Promise((resolve) => r.socket.once('drain', resolve)), closed]);
      }
      await waitFor(() => g.gateway.connectionCount === 0, 10_000, 'the flooding peer gone', { everyMs: 10 });
      assert.equal(g.gateway.connectionCount, 0, 'the flooding peer is still connected');
      r.socket.resume();
      await r.until(() => r.closed, 'the socket to close');
      assert.ok(!r.frames.some((f) => f.opcode === OP.close), 'dropped without a close frame (the peer reads nothing)');
      assert.equal((await fetch(`${g.url}/health`)).status, 200);
    } finally {
      await g.close();
    }
  });
});
