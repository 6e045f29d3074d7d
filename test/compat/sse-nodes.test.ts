/**
 * `/emulation` reaching the node that holds the session, over NATS:
 * - `--workers 2` (the gateway CLI, JetStream broker): Node's cluster hands every TCP connection
 *   to a worker round-robin, so a client's emulation requests land on either worker while its
 *   stream is held by one. Checked with requests on fresh connections (each may land on the
 *   other worker), and with the real SDK (http_stream and sse) through a forced reconnect.
 * - two gateway nodes (two hosts behind a balancer without affinity): the SDK's stream on one,
 *   its emulation endpoint on the other.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Centrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { NatsSessionRouter } from '../../src/lib/emulation-nats/nats-session-router.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'emu-workers-key';
const SECRET = 'emu-workers-secret-emu-workers-secret';
let nats: NatsServerHandle;
let gw: GatewayProcess;

before(async () => {
  nats = await startNatsServer();
  gw = await startGatewayProcess({ natsUrl: nats.url, apiKey: KEY, workers: 2, env: { GATEWAY_TOKEN_SECRET: SECRET } });
});
after(async () => {
  await gw?.stop();
  await nats?.stop();
});

/** POST on a new TCP connection (no keep-alive), so the cluster may hand it to either worker. */
function freshPost(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const h = { 'content-type': 'application/json', connection: 'close', ...headers };
    const req = request(url, { method: 'POST', agent: false, headers: h }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('emulation requests reach the session whichever worker takes them', async () => {
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/connection/http_stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"id":1,"connect":{}}',
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  const lines = (): Record<string, unknown>[] =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      text += dec.decode(value);
    }
  })();
  try {
    await waitFor(() => lines().length > 0, 5000, 'connect reply');
    const { session, node } = (lines()[0] as { connect: { session: string; node: string } }).connect;
    assert.ok(session && node);
    const N = 8;
    for (let i = 0; i < N; i++) {
      const r = await freshPost(
        `${gw.url}/emulation`,
        JSON.stringify({ session, node, data: JSON.stringify({ id: 10 + i, rpc: { method: 'x' } }) }),
      );
      assert.equal(r.status, 204, r.body);
    }
    // Every command was served by the session's client: an answer for each id, in order.
    await waitFor(() => lines().length === 1 + N, 5000, 'a reply per emulation request');
    assert.deepEqual(
      lines()
        .slice(1)
        .map((l) => l.id),
      Array.from({ length: N }, (_, i) => 10 + i),
    );
    const unknown = await freshPost(`${gw.url}/emulation`, JSON.stringify({ session: 'nope', node, data: '{"id":1,"rpc":{}}' }));
    assert.equal(unknown.status, 404);
  } finally {
    ac.abort();
    await pump;
  }
});

for (const kind of ['http_stream', 'sse'] as const) {
  test(`SDK over ${kind} with 2 workers: subscribe, publish, recovery after a forced reconnect`, async () => {
    const user = `w-${kind}`;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    const c = new Centrifuge([{ transport: kind, endpoint: `${gw.url}/connection/${kind}` }], {
      token,
      emulationEndpoint: `${gw.url}/emulation`,
      eventsource: EventSource,
      minReconnectDelay: 50,
      maxReconnectDelay: 200,
    });
    try {
      const channel = `ETH.trade`;
      const got: number[] = [];
      const subscribed: SubscribedContext[] = [];
      const sub = c.newSubscription(channel);
      sub.on('publication', (p: PublicationContext) => got.push(Number(p.offset)));
      sub.on('subscribed', (s: SubscribedContext) => subscribed.push(s));
      sub.subscribe();
      c.connect();
      await sub.ready(10_000);
      const start = got.length;
      for (let i = 0; i < 3; i++) await api(gw.url, KEY, 'publish', { channel, data: { i } });
      await waitFor(() => got.length === start + 3, 10_000, '3 publications');
      const h = await sub.history({ limit: 3 });
      assert.equal(h.publications.length, 3);
      const reconnecting = new Promise<{ code: number }>((r) => c.once('connecting', (x) => r(x)));
      // The API's disconnect reaches the user's connections on the worker that serves the call:
      // two calls on fresh connections reach both workers (the cluster alternates them).
      for (let i = 0; i < 2; i++) {
        const r = await freshPost(
          `${gw.url}/api/disconnect`,
          JSON.stringify({ user, disconnect: { code: 3011, reason: 'force reconnect' } }),
          { 'x-api-key': KEY },
        );
        assert.equal(r.status, 200, r.body);
      }
      assert.equal((await reconnecting).code, 3011);
      for (let i = 3; i < 6; i++) await api(gw.url, KEY, 'publish', { channel, data: { i } });
      await waitFor(() => got.length === start + 6, 10_000, 'all 6 publications');
      for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1, `offsets consecutive: ${got.join(',')}`);
      assert.equal(subscribed[1]!.recovered, true);
    } finally {
      c.disconnect();
    }
  });
}

test('two nodes: the stream on one, /emulation on the other (no affinity), SDK over http_stream and sse', async () => {
  const routers = [await NatsSessionRouter.connect(nats.url, 'emu-a'), await NatsSessionRouter.connect(nats.url, 'emu-b')];
  const nodes: RunningGateway[] = [];
  try {
    for (const r of routers)
      nodes.push(await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY }, { sessionRouter: (id, deliver) => r.bind(id, deliver) }));
    const [a, b] = nodes as [RunningGateway, RunningGateway];
    for (const kind of ['http_stream', 'sse'] as const) {
      const c = new Centrifuge([{ transport: kind, endpoint: `${a.url}/connection/${kind}` }], {
        emulationEndpoint: `${b.url}/emulation`,
        eventsource: EventSource,
      });
      try {
        const channel = 'DOGE.trade';
        const got: unknown[] = [];
        const sub = c.newSubscription(channel);
        sub.on('publication', (p: PublicationContext) => got.push(p.data));
        sub.subscribe(); // a command through b, served on a
        c.connect();
        await sub.ready(10_000);
        await api(a.url, KEY, 'publish', { channel, data: { kind } });
        await waitFor(() => got.length === 1, 5000, 'the publication');
        const h = await sub.history({ limit: 10 });
        assert.ok(h.publications.length >= 1);
        assert.equal(a.gateway.connectionCount, 1);
        assert.equal(b.gateway.connectionCount, 0);
      } finally {
        c.disconnect();
      }
      await waitFor(() => a.gateway.connectionCount === 0, 5000, 'stream closed');
    }
    // A node id that is no node (or no subject at all): 404 from the node asked.
    for (const node of ['ffffffff', 'a.>', ''])
      assert.equal((await freshPost(`${b.url}/emulation`, JSON.stringify({ session: 's', node, data: '{"id":1}' }))).status, 404);
  } finally {
    for (const n of nodes) await n.close();
    for (const r of routers) await r.close();
  }
});
