/**
 * The official `centrifuge` JavaScript SDK against our gateway, over real sockets: it must work
 * unchanged, including recovery after a reconnect.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import WebSocket from 'ws';
import type { RunningGateway } from '../../src/apps/gateway/compose.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';
import { sdkEndpoint, signToken, startSdkGateway } from '../testkit/sdk-gateway.js';

const KEY = 'sdk-key';
const SECRET = 'sdk-secret-sdk-secret-sdk-secret-sdk-secret';
let gw: RunningGateway;
let endpoint: string;

const token = (sub: string, expSeconds = 3600): Promise<string> => signToken(SECRET, sub, Math.floor(Date.now() / 1000) + expSeconds);

const clients: Centrifuge[] = [];
function client(opts: Record<string, unknown> = {}): Centrifuge {
  const c = new Centrifuge(endpoint, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200, ...opts });
  clients.push(c);
  return c;
}

before(async () => {
  gw = await startSdkGateway(KEY, SECRET);
  endpoint = sdkEndpoint(gw);
});
after(async () => {
  for (const c of clients) c.disconnect(); // also when a test failed half-way
  await gw.close();
});

test('SDK: connect, subscribe, receive what the server API publishes', async () => {
  const c = client();
  const got: unknown[] = [];
  const sub = c.newSubscription('BTC.trade');
  sub.on('publication', (ctx: PublicationContext) => got.push(ctx.data));
  sub.subscribe();
  c.connect();
  await sub.ready(5000);
  for (let i = 0; i < 5; i++) await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { i } });
  await waitFor(() => got.length === 5, 5000, '5 publications');
  assert.deepEqual(
    got,
    [0, 1, 2, 3, 4].map((i) => ({ i })),
  );
  c.disconnect();
});

test('SDK: after a forced reconnect the subscription recovers every missed publication, in order, once', async () => {
  const c = client({ token: await token('rita') });
  const offsets: number[] = [];
  const subscribed: SubscribedContext[] = [];
  const sub = c.newSubscription('ETH.trade');
  sub.on('publication', (ctx: PublicationContext) => offsets.push(Number(ctx.offset)));
  sub.on('subscribed', (ctx: SubscribedContext) => subscribed.push(ctx));
  sub.subscribe();
  c.connect();
  await sub.ready(5000);
  for (let i = 0; i < 3; i++) await api(gw.url, KEY, 'publish', { channel: 'ETH.trade', data: { i } });
  await waitFor(() => offsets.length === 3, 5000, 'first 3');
  // Server drops the connection with a reconnect code; publications continue meanwhile.
  const disconnected = new Promise<void>((r) => c.once('connecting', () => r()));
  const d = await api(gw.url, KEY, 'disconnect', { user: 'rita', disconnect: { code: 3011, reason: 'force reconnect' } });
  assert.equal(d.status, 200);
  await disconnected;
  for (let i = 3; i < 8; i++) await api(gw.url, KEY, 'publish', { channel: 'ETH.trade', data: { i } });
  await waitFor(() => subscribed.length === 2, 5000, 'resubscribe');
  for (let i = 8; i < 10; i++) await api(gw.url, KEY, 'publish', { channel: 'ETH.trade', data: { i } });
  await waitFor(() => offsets.length === 10, 5000, 'all 10');
  assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(subscribed[1]!.wasRecovering, true);
  assert.equal(subscribed[1]!.recovered, true);
  c.disconnect();
});

test('SDK: client publish where the namespace allows it, history and presence', async () => {
  const a = client({ token: await token('ann') });
  const b = client({ token: await token('bob') });
  const got: unknown[] = [];
  const subA = a.newSubscription('chat.lobby');
  const subB = b.newSubscription('chat.lobby');
  subB.on('publication', (ctx: PublicationContext) => got.push(ctx.data));
  subA.subscribe();
  subB.subscribe();
  a.connect();
  b.connect();
  await Promise.all([subA.ready(5000), subB.ready(5000)]);
  await subA.publish({ text: 'hello' });
  await waitFor(() => got.length === 1, 5000, 'chat message');
  assert.deepEqual(got[0], { text: 'hello' });
  const hist = await subB.history({ limit: 10 });
  assert.equal(hist.publications.length, 1);
  const pres = await subA.presenceStats();
  assert.equal(pres.numClients, 2);
  assert.equal(pres.numUsers, 2);
  // Not allowed: publishing into a market channel.
  const m = a.newSubscription('BTC.trade');
  m.subscribe();
  await m.ready(5000);
  await assert.rejects(m.publish({ fake: true }), (e: { code?: number }) => e.code === 103);
  a.disconnect();
  b.disconnect();
});

test('SDK: an expired token is refreshed through getToken and the connection goes on', async () => {
  let asked = 0;
  const c = client({
    token: await token('tom', -10),
    getToken: async () => {
      asked++;
      return token('tom');
    },
  });
  const connected = new Promise<void>((r) => c.once('connected', () => r()));
  c.connect();
  await connected;
  assert.ok(asked >= 1);
  c.disconnect();
});
