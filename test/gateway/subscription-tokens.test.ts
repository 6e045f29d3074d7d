/**
 * Subscription tokens (issue 23), over real sockets: every refusal with Centrifugo v6.9.1's code
 * for the same token (raw Centrifugo JSON protocol), `sub_refresh`, the end of an unrefreshed
 * grant (unsubscribe 2501), the official centrifuge-js SDK's `getToken` unchanged, and the Odin
 * protocol's per-channel `tokens`. Tokens are minted with jose.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type PublicationContext, type UnsubscribedContext } from 'centrifuge';
import WebSocket from 'ws';
import { SignJWT, type JWTPayload } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { api, TestClient, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'subtoken-api-key';
const SECRET = 'subtoken-secret-subtoken-secret-subtoken';
/** Granted by token only (Centrifugo's private channels). */
const DESK = 'desk\\.[a-z]+';
let gw: RunningGateway;
let ws: string;

const now = (): number => Math.floor(Date.now() / 1000);

function sign(claims: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}
/** A connection token for `sub`, an hour long. */
const connToken = (sub: string): Promise<string> => sign({ sub, exp: now() + 3600 });
/** A subscription token for `sub` and `channel`, an hour long unless `extra` says otherwise. */
const subToken = (sub: string, channel: string, extra: JWTPayload = {}): Promise<string> =>
  sign({ sub, channel, exp: now() + 3600, ...extra });

before(async () => {
  gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey: KEY,
    tokenHmacSecret: SECRET,
    // The grant's end is checked 3 s after it. The SDK refreshes at the ttl, in whole seconds
    // from the start of the current one (as with Centrifugo): up to a second after the grant ends.
    client: { expiredSubCloseDelayMs: 3000 },
    namespaces: [...DEFAULT_NAMESPACES, { name: 'desk', pattern: DESK, subscribe: 'token', historySize: 10 }],
  });
  ws = gw.url.replace('http', 'ws');
});
after(async () => {
  await gw.close();
});

/** A Centrifugo JSON client connected as `user` ('' = anonymous); returns it and its client id. */
async function connect(user: string): Promise<{ c: TestClient; id: string }> {
  const c = await TestClient.connect(`${ws}/connection/websocket`);
  c.send({ id: 1, connect: user === '' ? {} : { token: await connToken(user) } });
  const r = await c.next((m) => m.id === 1);
  assert.ok(r.connect, JSON.stringify(r));
  return { c, id: (r.connect as Json).client as string };
}

let nextId = 10;
/** Sends a command and waits for its reply. */
async function call(c: TestClient, cmd: Json): Promise<Json> {
  const id = nextId++;
  c.send({ id, ...cmd });
  return c.next((m) => m.id === id);
}
const errorCode = (r: Json): number | undefined => (r.error as { code?: number } | undefined)?.code;

test('a subscription token grants its channel; the reply says when the grant ends', async () => {
  const { c } = await connect('ann');
  const r = await call(c, { subscribe: { channel: 'desk.alpha', token: await subToken('ann', 'desk.alpha', { exp: now() + 600 }) } });
  const s = r.subscribe as Json;
  assert.equal(s.expires, true);
  assert.ok((s.ttl as number) > 590 && (s.ttl as number) <= 600, `ttl ${String(s.ttl)}`);
  await api(gw.url, KEY, 'publish', { channel: 'desk.alpha', data: { n: 1 } });
  const pub = await c.next((m) => (m.push as Json | undefined)?.channel === 'desk.alpha');
  assert.deepEqual(((pub.push as Json).pub as Json).data, { n: 1 });
  // `expire_at: 0` is a grant that never ends (no expires/ttl), as in Centrifugo.
  const r2 = await call(c, { subscribe: { channel: 'desk.beta', token: await subToken('ann', 'desk.beta', { expire_at: 0 }) } });
  // (offset 0 is left out, as Centrifugo leaves zero values out)
  assert.deepEqual(r2.subscribe, { recoverable: true, positioned: true, epoch: (r2.subscribe as Json).epoch });
  c.close();
});

test("refusals answer with Centrifugo's codes: no token or a bad one 103, expired 109, unknown channel 102, grant over 110", async () => {
  const { c } = await connect('bob');
  const cases: [string, string | undefined, number][] = [
    ['no token in a token namespace', undefined, 103],
    [
      'forged (another secret)',
      await sign({ sub: 'bob', channel: 'desk.alpha', exp: now() + 60 }, 'not-the-secret-not-the-secret-xx'),
      103,
    ],
    ['garbage', 'not.a.jwt', 103],
    ['no channel claim', await sign({ sub: 'bob', exp: now() + 60 }), 103],
    ['expired', await subToken('bob', 'desk.alpha', { exp: now() - 10 }), 109],
    ['not yet valid (nbf)', await subToken('bob', 'desk.alpha', { nbf: now() + 600 }), 109],
    ['a channel no namespace knows', await subToken('bob', 'nowhere.at.all'), 102],
    ['expire_at already past', await subToken('bob', 'desk.alpha', { expire_at: now() - 5 }), 110],
  ];
  for (const [what, token, code] of cases) {
    const r = await call(c, { subscribe: { channel: 'desk.alpha', ...(token !== undefined ? { token } : {}) } });
    assert.equal(errorCode(r), code, `${what}: ${JSON.stringify(r)}`);
  }
  // The connection is still fine after every refusal.
  const ok = await call(c, { subscribe: { channel: 'desk.alpha', token: await subToken('bob', 'desk.alpha') } });
  assert.ok(ok.subscribe, JSON.stringify(ok));
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /ws_token_refusals_total\{reason="invalid"\} [1-9]/);
  assert.match(metrics, /ws_token_refusals_total\{reason="expired"\} [1-9]/);
  c.close();
});

test('a token for another channel, user or client closes the connection with 3500; a bystander is unaffected', async () => {
  const bystander = await connect('carl');
  await call(bystander.c, { subscribe: { channel: 'BTC.trade' } });
  for (const claims of [{ channel: 'desk.other' }, { sub: 'mallory' }, { client: 'someone-else' }]) {
    const { c } = await connect('dora');
    c.send({
      id: 2,
      subscribe: { channel: 'desk.alpha', token: await sign({ sub: 'dora', channel: 'desk.alpha', exp: now() + 60, ...claims }) },
    });
    const closed = await c.waitClose();
    assert.equal(closed.code, 3500, JSON.stringify(claims));
  }
  // Bound to this very client: accepted.
  const mine = await connect('dora');
  const r = await call(mine.c, { subscribe: { channel: 'desk.alpha', token: await subToken('dora', 'desk.alpha', { client: mine.id }) } });
  assert.ok(r.subscribe, JSON.stringify(r));
  mine.c.close();
  await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { still: 'here' } });
  await bystander.c.next((m) => (m.push as Json | undefined)?.channel === 'BTC.trade');
  assert.equal(bystander.c.closed, null);
  bystander.c.close();
});

test("a token grants a channel of any namespace, also another user's personal channel; anonymous grants need sub ''", async () => {
  const { c } = await connect('erin');
  const personal = 'BTC.balances.frank';
  assert.equal(errorCode(await call(c, { subscribe: { channel: personal } })), 103);
  const r = await call(c, { subscribe: { channel: personal, token: await subToken('erin', personal) } });
  assert.ok(r.subscribe, JSON.stringify(r));
  c.close();
  const anon = await connect('');
  const a = await call(anon.c, { subscribe: { channel: 'desk.open', token: await subToken('', 'desk.open') } });
  assert.ok(a.subscribe, JSON.stringify(a));
  anon.c.close();
});

test('sub_refresh extends a grant; its refusals follow Centrifugo (107, 103, 3500, 3501)', async () => {
  const { c } = await connect('gus');
  await call(c, { subscribe: { channel: 'desk.alpha', token: await subToken('gus', 'desk.alpha', { exp: now() + 60 }) } });
  const r = await call(c, { sub_refresh: { channel: 'desk.alpha', token: await subToken('gus', 'desk.alpha', { exp: now() + 7200 }) } });
  const res = r.sub_refresh as Json;
  assert.equal(res.expires, true);
  assert.ok((res.ttl as number) > 7100, JSON.stringify(res));
  const forever = await call(c, { sub_refresh: { channel: 'desk.alpha', token: await subToken('gus', 'desk.alpha', { expire_at: 0 }) } });
  assert.deepEqual(forever.sub_refresh, {});
  assert.equal(errorCode(await call(c, { sub_refresh: { channel: 'desk.alpha' } })), 107);
  assert.equal(errorCode(await call(c, { sub_refresh: { channel: 'desk.beta', token: await subToken('gus', 'desk.beta') } })), 103);
  // An expired refresh token: 109 (the subscription keeps its current grant).
  assert.equal(
    errorCode(await call(c, { sub_refresh: { channel: 'desk.alpha', token: await subToken('gus', 'desk.alpha', { exp: now() - 5 }) } })),
    109,
  );
  c.send({ id: 99, sub_refresh: { channel: 'desk.alpha', token: await subToken('gus', 'desk.other') } });
  assert.equal((await c.waitClose()).code, 3500);
  const bad = await connect('gus');
  bad.c.send({ id: 5, sub_refresh: { channel: '', token: 'x' } });
  assert.equal((await bad.c.waitClose()).code, 3501);
});

test('an unrefreshed grant ends with unsubscribe 2501; a refreshed one goes on', async () => {
  const { c } = await connect('hal');
  await call(c, { subscribe: { channel: 'desk.kept', token: await subToken('hal', 'desk.kept', { exp: now() + 1 }) } });
  await call(c, { subscribe: { channel: 'desk.lapsed', token: await subToken('hal', 'desk.lapsed', { exp: now() + 1 }) } });
  const refreshed = await call(c, { sub_refresh: { channel: 'desk.kept', token: await subToken('hal', 'desk.kept') } });
  assert.equal((refreshed.sub_refresh as Json).expires, true);
  const unsub = await c.next((m) => (m.push as Json | undefined)?.unsubscribe !== undefined, 8000);
  assert.deepEqual(unsub.push, { channel: 'desk.lapsed', unsubscribe: { code: 2501, reason: 'subscription expired' } });
  // The lapsed channel delivers no more; the refreshed one still does.
  await api(gw.url, KEY, 'publish', { channel: 'desk.lapsed', data: { late: true } });
  await api(gw.url, KEY, 'publish', { channel: 'desk.kept', data: { kept: true } });
  await c.next((m) => (m.push as Json | undefined)?.channel === 'desk.kept' && (m.push as Json).pub !== undefined);
  assert.equal(
    c.messages.some((m) => (m.push as Json | undefined)?.channel === 'desk.lapsed' && (m.push as Json).pub !== undefined),
    false,
  );
  assert.equal(c.closed, null);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /ws_subscriptions_expired_total [1-9]/);
  c.close();
});

test('centrifuge-js: getToken is asked for the subscription token, again after 109 and before the grant ends', async () => {
  const tokens: number[] = [];
  const c = new Centrifuge(`${ws}/connection/websocket`, { websocket: WebSocket, token: await connToken('ivy') });
  const sub = c.newSubscription('desk.sdk', {
    getToken: async () => {
      tokens.push(Date.now());
      // The first is already expired (109: the SDK asks again); the rest last 2 s (refreshed at the ttl).
      return subToken('ivy', 'desk.sdk', { exp: tokens.length === 1 ? now() - 10 : now() + 2 });
    },
  });
  const got: unknown[] = [];
  const unsubscribed: UnsubscribedContext[] = [];
  sub.on('publication', (ctx: PublicationContext) => got.push(ctx.data));
  sub.on('unsubscribed', (ctx: UnsubscribedContext) => unsubscribed.push(ctx));
  sub.subscribe();
  c.connect();
  await sub.ready(5000);
  assert.ok(tokens.length >= 2, `getToken called ${tokens.length} times`);
  const atReady = tokens.length;
  // The SDK refreshes through sub_refresh when the ttl runs out; the subscription stays.
  await waitFor(() => tokens.length >= atReady + 2, 10_000, 'two refreshes');
  await api(gw.url, KEY, 'publish', { channel: 'desk.sdk', data: { after: 'refresh' } });
  await waitFor(() => got.length === 1, 5000, 'publication after refreshes');
  assert.deepEqual(got, [{ after: 'refresh' }]);
  assert.deepEqual(unsubscribed, []);
  c.disconnect();
});

test('Odin: per-channel tokens in subscribe; refusals per channel in the ack; a mismatch closes with 3500', async () => {
  const c = await TestClient.connect(`${ws}/ws?token=${await connToken('jo')}`);
  c.send({
    type: 'subscribe',
    data: {
      channels: ['desk.alpha', 'desk.beta', 'desk.gamma'],
      tokens: { 'desk.alpha': await subToken('jo', 'desk.alpha'), 'desk.gamma': await subToken('jo', 'desk.gamma', { exp: now() - 5 }) },
    },
  });
  const ack = await c.next((m) => m.type === 'subscription_ack');
  assert.deepEqual(ack.subscribed, ['desk.alpha']);
  assert.deepEqual(
    (ack.errors as Json[]).map((e) => [e.channel, e.code]),
    [
      ['desk.beta', 103],
      ['desk.gamma', 109],
    ],
  );
  c.send({ type: 'subscribe', data: { channels: ['desk.zeta'], tokens: { 'desk.zeta': 42 } } });
  const bad = await c.next((m) => m.type === 'error');
  assert.equal(bad.code, 107);
  c.send({ type: 'subscribe', data: { channels: ['desk.delta'], tokens: { 'desk.delta': await subToken('jo', 'desk.epsilon') } } });
  const notice = await c.next((m) => m.type === 'disconnect');
  assert.equal(notice.code, 3500);
  assert.equal((await c.waitClose()).code, 3500);
});

test('Odin: an unrefreshed grant ends with an unsubscription_ack carrying 2501', async () => {
  const c = await TestClient.connect(`${ws}/ws?token=${await connToken('kim')}`);
  c.send({
    type: 'subscribe',
    data: { channels: ['desk.alpha'], tokens: { 'desk.alpha': await subToken('kim', 'desk.alpha', { exp: now() + 1 }) } },
  });
  await c.next((m) => m.type === 'subscription_ack');
  const gone = await c.next((m) => m.type === 'unsubscription_ack', 8000);
  assert.deepEqual(gone, {
    type: 'unsubscription_ack',
    unsubscribed: ['desk.alpha'],
    count: 0,
    code: 2501,
    reason: 'subscription expired',
  });
  c.close();
});
