/**
 * Per-user connection limit and per-address connection rate (issue 23), over real sockets:
 * the connection over `maxConnectionsPerUser` is closed with 3504 (Centrifugo's
 * client.user_connection_limit), anonymous ones are not counted, a closed one frees its slot;
 * past `connectionRatePerIp`'s burst an upgrade gets 429 with the Retry-After its bucket
 * implies, another address is unaffected; both counted in /metrics by reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { TestClient } from '../testkit/ws-client.js';

const SECRET = 'limits-secret-limits-secret-limits-secret';
let gw: RunningGateway;
let ws: string;
const open: TestClient[] = [];

const token = (sub: string): Promise<string> =>
  new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));

before(async () => {
  gw = await startGateway({ port: 0, host: '127.0.0.1', tokenHmacSecret: SECRET, maxConnectionsPerUser: 2 });
  ws = gw.url.replace('http', 'ws');
});
after(async () => {
  for (const c of open) c.close();
  await gw.close();
});

/** A Centrifugo JSON connection as `user`: connected, or the close code. */
async function centrifuge(user: string | null): Promise<{ c: TestClient; closed: number | null }> {
  const c = await TestClient.connect(`${ws}/connection/websocket`);
  open.push(c);
  c.send({ id: 1, connect: user === null ? {} : { token: await token(user) } });
  const r = await Promise.race([c.next((m) => m.id === 1), c.waitClose().then(() => null)]);
  return { c, closed: r?.connect ? null : (await c.waitClose()).code };
}

test('maxConnectionsPerUser: the third connection of a user is closed with 3504, on either protocol; others unaffected', async () => {
  const a1 = await centrifuge('ann');
  const a2 = await centrifuge('ann');
  assert.equal(a1.closed, null);
  assert.equal(a2.closed, null);
  assert.equal((await centrifuge('ann')).closed, 3504);
  // Odin: the notice says not to reconnect, then 3504.
  const odin = await TestClient.connect(`${ws}/ws?token=${await token('ann')}`);
  const notice = await odin.next((m) => m.type === 'disconnect');
  assert.equal(notice.code, 3504);
  assert.equal(notice.reconnect, false);
  assert.equal((await odin.waitClose()).code, 3504);
  // Another user and anonymous connections are not limited by ann's count.
  assert.equal((await centrifuge('bob')).closed, null);
  for (let i = 0; i < 3; i++) assert.equal((await centrifuge(null)).closed, null);
  // A closed connection frees its slot.
  a1.c.close();
  await a1.c.waitClose();
  await waitUntilFreed('ann');
  assert.equal((await centrifuge('ann')).closed, null);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /ws_capacity_rejections_total\{reason="max_connections_per_user"\} 2/);
});

/** The server sees the close a moment after the client: wait for the user's count to drop (a query: it counts no rejection). */
async function waitUntilFreed(user: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (gw.gateway.userConnections(user) >= 2) {
    if (Date.now() > deadline) throw new Error('slot not freed');
    await new Promise((r) => setImmediate(r));
  }
}

test('connectionRatePerIp: past the burst 429 with Retry-After from the bucket; another address goes on', async () => {
  const limited = await startGateway({ port: 0, host: '127.0.0.1', connectionRatePerIp: 0.5, connectionBurstPerIp: 3 });
  try {
    const url = `${limited.url.replace('http', 'ws')}/connection/websocket`;
    const conns: TestClient[] = [];
    for (let i = 0; i < 3; i++) conns.push(await TestClient.connect(url));
    const refused = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => reject(new Error('admitted past the burst')));
      socket.once('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
        res.resume();
      });
      socket.once('error', () => undefined);
    });
    assert.equal(refused.status, 429);
    // 0.5/s: the next connection in about 2 s.
    assert.ok(Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 2, `Retry-After ${refused.retryAfter}`);
    // Another address (127.0.0.2 is loopback too) has its own allowance.
    const other = await TestClient.connect(url, { localAddress: '127.0.0.2' });
    other.close();
    for (const c of conns) c.close();
    const metrics = await (await fetch(`${limited.url}/metrics`)).text();
    assert.match(metrics, /ws_capacity_rejections_total\{reason="connection_rate"\} 1/);
  } finally {
    await limited.close();
  }
});
