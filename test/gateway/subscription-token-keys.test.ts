/**
 * Subscription-token keys apart from the connection keys (Centrifugo's client.subscription_token),
 * globally (`subscriptionToken`) and per namespace (`namespaces[].subscriptionToken`), over real
 * sockets: where a separate key is configured a token signed with the connection key is refused
 * (103; on sub_refresh a bad token closes with 3500, as Centrifugo) and one signed with the right key accepted, on subscribe, sub_refresh and Odin's
 * subscribe; each set applies its own audience; a namespace without a set falls back to the
 * global set, then to the connection keys; a subscription key never verifies a connection token;
 * a bad set is refused at start without showing its secret.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, type JWTPayload } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions } from '../../src/lib/core/options.js';
import { TestClient, type Json } from '../testkit/ws-client.js';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';

const CONN = 'conn-secret-conn-secret-conn-secret-conn';
const SUBS = 'subs-secret-subs-secret-subs-secret-subs';
const DESK = 'desk-secret-desk-secret-desk-secret-desk';
const now = (): number => Math.floor(Date.now() / 1000);
const sign = (claims: JWTPayload, secret: string): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
const subToken = (sub: string, channel: string, secret: string, extra: JWTPayload = {}): Promise<string> =>
  sign({ sub, channel, exp: now() + 3600, ...extra }, secret);

/** `desk.*`: its own key (and audience); `vault.*`: the global subscription key; `open.*`: token channels of no set. */
const NAMESPACES = [
  ...DEFAULT_NAMESPACES,
  { name: 'desk', pattern: 'desk\\.[a-z]+', subscribe: 'token' as const, subscriptionToken: { hmacSecret: DESK, audience: 'desks' } },
  { name: 'vault', pattern: 'vault\\.[a-z]+', subscribe: 'token' as const },
];

let both: RunningGateway; // global subscription set + desk's own set
let nsOnly: RunningGateway; // only desk's own set: vault falls back to the connection keys

before(async () => {
  both = await startGateway({
    port: 0,
    host: '127.0.0.1',
    tokenHmacSecret: CONN,
    subscriptionToken: { hmacSecret: SUBS },
    namespaces: NAMESPACES,
  });
  nsOnly = await startGateway({ port: 0, host: '127.0.0.1', tokenHmacSecret: CONN, namespaces: NAMESPACES });
});
after(async () => {
  await both.close();
  await nsOnly.close();
});

let nextId = 10;
async function connect(gw: RunningGateway, user: string): Promise<TestClient> {
  const c = await TestClient.connect(`${gw.url.replace('http', 'ws')}/connection/websocket`);
  c.send({ id: 1, connect: { token: await sign({ sub: user, exp: now() + 3600 }, CONN) } });
  assert.ok((await c.next((m) => m.id === 1)).connect);
  return c;
}
async function call(c: TestClient, cmd: Json): Promise<Json> {
  const id = nextId++;
  c.send({ id, ...cmd });
  return c.next((m) => m.id === id);
}
const code = (r: Json): number | null => (r.error as { code?: number } | undefined)?.code ?? null;
const subscribe = async (c: TestClient, channel: string, token: string): Promise<number | null> =>
  code(await call(c, { subscribe: { channel, token } }));

test('a separate global key: connection-key tokens refused (103), the subscription key accepted', async () => {
  const c = await connect(both, 'ann');
  assert.equal(await subscribe(c, 'vault.a', await subToken('ann', 'vault.a', CONN)), 103);
  assert.equal(await subscribe(c, 'vault.a', await subToken('ann', 'vault.a', DESK)), 103);
  assert.equal(await subscribe(c, 'vault.a', await subToken('ann', 'vault.a', SUBS)), null);
  // sub_refresh is verified by the same set: the right key extends, the connection key is a bad
  // token there (Centrifugo closes with 3500).
  assert.ok((await call(c, { sub_refresh: { channel: 'vault.a', token: await subToken('ann', 'vault.a', SUBS) } })).sub_refresh);
  c.send({ id: 99, sub_refresh: { channel: 'vault.a', token: await subToken('ann', 'vault.a', CONN) } });
  assert.equal((await c.waitClose()).code, 3500);
  c.close();
});

test("a namespace's own key (and audience) wins over the global set and the connection keys", async () => {
  const c = await connect(both, 'bob');
  assert.equal(await subscribe(c, 'desk.a', await subToken('bob', 'desk.a', CONN, { aud: 'desks' })), 103);
  assert.equal(await subscribe(c, 'desk.a', await subToken('bob', 'desk.a', SUBS, { aud: 'desks' })), 103);
  // Its audience check is its own: the right key without the audience is refused.
  assert.equal(await subscribe(c, 'desk.a', await subToken('bob', 'desk.a', DESK)), 103);
  assert.equal(await subscribe(c, 'desk.a', await subToken('bob', 'desk.a', DESK, { aud: 'desks' })), null);
  // Expired with the right key: 109, as with any key.
  assert.equal(await subscribe(c, 'desk.b', await subToken('bob', 'desk.b', DESK, { aud: 'desks', exp: now() - 5 })), 109);
  c.close();
});

test('without a global set, other namespaces fall back to the connection keys', async () => {
  const c = await connect(nsOnly, 'cat');
  assert.equal(await subscribe(c, 'vault.a', await subToken('cat', 'vault.a', CONN)), null);
  assert.equal(await subscribe(c, 'desk.a', await subToken('cat', 'desk.a', CONN, { aud: 'desks' })), 103);
  assert.equal(await subscribe(c, 'desk.a', await subToken('cat', 'desk.a', DESK, { aud: 'desks' })), null);
  c.close();
});

test("Odin: per-channel tokens are verified by the channel's set", async () => {
  const c = await TestClient.connect(`${both.url.replace('http', 'ws')}/ws?token=${await sign({ sub: 'dan' }, CONN)}`);
  c.send({
    type: 'subscribe',
    data: {
      channels: ['desk.a', 'desk.b', 'vault.a', 'vault.b'],
      tokens: {
        'desk.a': await subToken('dan', 'desk.a', DESK, { aud: 'desks' }),
        'desk.b': await subToken('dan', 'desk.b', CONN, { aud: 'desks' }),
        'vault.a': await subToken('dan', 'vault.a', SUBS),
        'vault.b': await subToken('dan', 'vault.b', CONN),
      },
    },
  });
  const ack = await c.next((m) => m.type === 'subscription_ack');
  assert.deepEqual(ack.subscribed, ['desk.a', 'vault.a']);
  assert.deepEqual(
    (ack.errors as Json[]).map((e) => [e.channel, e.code]),
    [
      ['desk.b', 103],
      ['vault.b', 103],
    ],
  );
  c.close();
});

test('a subscription key never verifies a connection token (3500)', async () => {
  const c = await TestClient.connect(`${both.url.replace('http', 'ws')}/connection/websocket`);
  c.send({ id: 1, connect: { token: await sign({ sub: 'eve' }, SUBS) } });
  assert.equal((await c.waitClose()).code, 3500);
});

test('a bad set is refused at start, naming the key, never showing a secret', () => {
  assert.throws(
    () => resolveGatewayOptions({ subscriptionToken: { audience: 'x' } }),
    /subscriptionToken\.hmacSecret: audience\/issuer checks need a key/,
  );
  const ns = [{ name: 'd', pattern: 'd\\.x', subscriptionToken: { hmacSecret: 'top-secret-value', jwksUrl: 'https://idp.example/jwks' } }];
  assert.throws(
    () => resolveGatewayOptions({ namespaces: ns }),
    (e: Error) =>
      /namespaces\.0\.subscriptionToken\.jwksUrl: a JWKS endpoint is the only source/.test(e.message) &&
      !e.message.includes('top-secret-value'),
  );
  assert.throws(
    () => resolveGatewayOptions({ subscriptionToken: { hmacSecret: 7 } }),
    (e: Error) => !e.message.includes('got 7'),
  );
});

test('the global set from the environment (GATEWAY_SUBSCRIPTION_TOKEN_*)', () => {
  const cfg = loadGatewayConfig([], {
    GATEWAY_SUBSCRIPTION_TOKEN_SECRET: SUBS,
    GATEWAY_SUBSCRIPTION_TOKEN_AUDIENCE: 'subs',
    GATEWAY_SUBSCRIPTION_TOKEN_ISSUER: 'idp',
  });
  const k = cfg.gateway.subscriptionToken;
  assert.deepEqual([k.hmacSecret, k.audience, k.issuer], [SUBS, 'subs', 'idp']);
});
