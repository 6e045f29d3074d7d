/**
 * The same protocol cases over both transports (`ws` and uWebSockets.js): what a client sees
 * must not depend on which one serves it. uws cases are skipped, with the reason, where the
 * native module does not load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type RunningGateway } from '../../src/lib/server/server.js';
import { loadUwsTransport } from '../../src/lib/transport-uws/uws-transport.js';
import { TestClient, api } from '../testkit/ws-client.js';

const KEY = 'parity-key';
const uwsProblem = await loadUwsTransport({ maxPayload: 1024, maxBackpressure: 1 << 20 }).then((t) => (typeof t === 'string' ? t : null));
const isType = (t: string) => (m: Record<string, unknown>) => m.type === t;

async function withGateway(
  transport: 'ws' | 'uws',
  opts: { maxConnections?: number },
  fn: (gw: RunningGateway, ws: string) => Promise<void>,
): Promise<void> {
  const gw = await startGateway(
    { port: 0, host: '127.0.0.1', apiKey: KEY, maxMessageBytes: 1024, logLevel: 'silent', ...opts },
    { transport },
  );
  try {
    await fn(gw, gw.url.replace('http', 'ws'));
  } finally {
    await gw.close();
  }
}

for (const transport of ['ws', 'uws'] as const) {
  const skip = transport === 'uws' && uwsProblem !== null ? uwsProblem : false;

  test(
    `[${transport}] odin: subscribe, publish through the API on the same port, envelope with offset and epoch; heartbeat → pong`,
    { skip },
    () =>
      withGateway(transport, {}, async (gw, ws) => {
        const c = await TestClient.connect(`${ws}/ws`);
        c.send({ type: 'subscribe', data: { channels: ['BTC.trade'] } });
        await c.next(isType('subscription_ack'));
        const r = await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { type: 'trade:new', price: 43250 } });
        assert.equal(r.status, 200);
        const pos = r.body.result as { offset: number; epoch: string };
        const push = await c.next(isType('trade:new'));
        assert.deepEqual(push.data, { type: 'trade:new', price: 43250 });
        assert.equal(push.offset, pos.offset);
        assert.equal(push.epoch, pos.epoch);
        c.send({ type: 'heartbeat' });
        assert.equal(typeof (await c.next(isType('pong'))).ts, 'number');
        c.close();
      }),
  );

  test(`[${transport}] centrifuge: several commands in one frame, pushes, recovery on resubscribe`, { skip }, () =>
    withGateway(transport, {}, async (gw, ws) => {
      const c = await TestClient.connect(`${ws}/connection/websocket`);
      c.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"ETH.trade"}}');
      const sub = (await c.next((m) => m.id === 2)).subscribe as { epoch: string; offset?: number };
      await api(gw.url, KEY, 'publish', { channel: 'ETH.trade', data: { p: 1 } });
      const push = await c.next((m) => m.push !== undefined);
      assert.deepEqual((push.push as { pub: { data: unknown } }).pub.data, { p: 1 });
      c.close();
      await api(gw.url, KEY, 'publish', { channel: 'ETH.trade', data: { p: 2 } });
      const d = await TestClient.connect(`${ws}/connection/websocket`);
      d.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"ETH.trade","recover":true,"offset":1,"epoch":"${sub.epoch}"}}`);
      const rec = (await d.next((m) => m.id === 2)).subscribe as { recovered: boolean; publications: { data: unknown }[] };
      assert.equal(rec.recovered, true);
      assert.deepEqual(
        rec.publications.map((p) => p.data),
        [{ p: 2 }],
      );
      d.close();
    }),
  );

  test(`[${transport}] bad frames: oversize closes 1009, binary on centrifuge closes 3501; others keep receiving`, { skip }, () =>
    withGateway(transport, {}, async (gw, ws) => {
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
    }),
  );

  test(`[${transport}] HTTP on the same port: unknown WS path 404, health, stats, 404 route, API errors keep their status`, { skip }, () =>
    withGateway(transport, {}, async (gw, ws) => {
      await assert.rejects(TestClient.connect(`${ws}/nope`), (e: { status?: number }) => e.status === 404);
      assert.equal((await fetch(`${gw.url}/health`)).status, 200);
      assert.equal(((await (await fetch(`${gw.url}/stats`)).json()) as { ready: boolean }).ready, true);
      assert.equal((await fetch(`${gw.url}/nothing`)).status, 404);
      assert.equal((await api(gw.url, 'wrong', 'publish', { channel: 'BTC.trade', data: {} })).status, 401);
      const bad = await api(gw.url, KEY, 'publish', '{oops');
      assert.equal(bad.status, 200); // Centrifugo's default: the error is in the body
      assert.equal((bad.body.error as { code: number }).code, 107);
      const badTransport = await api(gw.url, KEY, 'publish', '{oops', { 'x-centrifugo-error-mode': 'transport' });
      assert.equal(badTransport.status, 400);
      assert.equal(badTransport.body.code, 107);
    }),
  );

  test(`[${transport}] max connections: over the limit the upgrade gets HTTP 503`, { skip }, () =>
    withGateway(transport, { maxConnections: 1 }, async (_gw, ws) => {
      const a = await TestClient.connect(`${ws}/ws`);
      await assert.rejects(TestClient.connect(`${ws}/ws`), (e: { status?: number }) => e.status === 503);
      a.close();
    }),
  );

  test(`[${transport}] graceful shutdown: clients of both protocols get 3001`, { skip }, async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, logLevel: 'silent' }, { transport });
    const url = g.url.replace('http', 'ws');
    const a = await TestClient.connect(`${url}/ws`);
    const b = await TestClient.connect(`${url}/connection/websocket`);
    b.send({ id: 1, connect: {} });
    await b.next((m) => m.id === 1);
    const closing = g.close();
    assert.equal((await a.waitClose()).code, 3001);
    assert.equal((await b.waitClose()).code, 3001);
    await closing;
  });
}
