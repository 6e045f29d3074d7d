/**
 * Subscription tokens side by side with Centrifugo v6.9.1 (issue 23): the same raw JSON-protocol
 * script — subscribe with no token, a forged, garbage, channel-less, expired, not-yet-valid,
 * wrong-audience token, one for another channel, user or client, one for a channel no namespace
 * knows, a good one; then sub_refresh with good and bad tokens — against a real Centrifugo and
 * against odin-ws configured alike, each answer recorded as the reply (error code, or expires)
 * or the close code. The two lists must be equal, except the one documented deviation (an
 * expired sub_refresh token: Centrifugo answers success and lifts the expiry; odin-ws 109).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, type JWTPayload } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { startCentrifugo, type CentrifugoHandle } from '../testkit/centrifugo.js';
import { TestClient, type Json } from '../testkit/ws-client.js';

const SECRET = 'token-parity-secret-token-parity-secret';
const AUD = 'odin-ws';
let centrifugo: CentrifugoHandle;
let gw: RunningGateway;

const now = (): number => Math.floor(Date.now() / 1000);
const sign = (claims: JWTPayload, secret = SECRET): Promise<string> =>
  new SignJWT({ aud: AUD, exp: now() + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

before(async () => {
  centrifugo = await startCentrifugo({
    client: { token: { hmac_secret_key: SECRET, audience: AUD }, allowed_origins: ['*'] },
    log: { level: 'error' },
    // No subscribe permission of its own: only a subscription token grants its channels.
    channel: { namespaces: [{ name: 'desk' }] },
  });
  gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    tokenHmacSecret: SECRET,
    tokenAudience: AUD,
    namespaces: [...DEFAULT_NAMESPACES, { name: 'desk', pattern: 'desk:[a-z]+', subscribe: 'token', historySize: 0, recovery: false }],
  });
});
after(async () => {
  await gw?.close();
  await centrifugo?.stop();
});

/** What one command came to: `error <code>`, `ok [expires]`, or `closed <code>`. */
type Outcome = string;

async function session(base: string, user: string): Promise<{ c: TestClient; client: string }> {
  const c = await TestClient.connect(`${base.replace('http', 'ws')}/connection/websocket`);
  c.send({ id: 1, connect: { token: await sign({ sub: user }) } });
  const r = await c.next((m) => m.id === 1);
  assert.ok(r.connect, JSON.stringify(r));
  return { c, client: (r.connect as Json).client as string };
}

async function outcome(c: TestClient, id: number, cmd: Json): Promise<Outcome> {
  c.send({ id, ...cmd });
  const r = await Promise.race([c.next((m) => m.id === id), c.waitClose().then((x) => x)]);
  if ('code' in r && !('id' in r)) return `closed ${String(r.code)}`;
  const reply = r as Json;
  if (reply.error) return `error ${String((reply.error as Json).code)}`;
  const result = (reply.subscribe ?? reply.sub_refresh) as Json | undefined;
  return `ok${result?.expires === true ? ' expires' : ''}`;
}

/** The script, run against one server: each case on its own connection where it may close it. */
async function script(base: string): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  const one = async (name: string, make: (client: string) => Promise<Json>): Promise<void> => {
    const { c, client } = await session(base, 'ann');
    out[name] = await outcome(c, 2, await make(client));
    c.close();
  };
  const sub = (token?: string, channel = 'desk:fx'): Json => ({ subscribe: { channel, ...(token !== undefined ? { token } : {}) } });
  await one('no token', async () => sub());
  await one('forged', async () => sub(await sign({ sub: 'ann', channel: 'desk:fx' }, 'another-secret-another-secret-another')));
  await one('garbage', async () => sub('not.a.jwt'));
  await one('no channel claim', async () => sub(await sign({ sub: 'ann' })));
  await one('expired', async () => sub(await sign({ sub: 'ann', channel: 'desk:fx', exp: now() - 30 })));
  await one('not yet valid', async () => sub(await sign({ sub: 'ann', channel: 'desk:fx', nbf: now() + 600 })));
  await one('wrong audience', async () => sub(await sign({ sub: 'ann', channel: 'desk:fx', aud: 'someone-else' })));
  await one('another channel', async () => sub(await sign({ sub: 'ann', channel: 'desk:eq' })));
  await one('another user', async () => sub(await sign({ sub: 'bob', channel: 'desk:fx' })));
  await one('another client', async () => sub(await sign({ sub: 'ann', channel: 'desk:fx', client: 'not-this-one' })));
  await one('this client', async (client) => sub(await sign({ sub: 'ann', channel: 'desk:fx', client })));
  await one('unknown namespace', async () => sub(await sign({ sub: 'ann', channel: 'nowhere:x' }), 'nowhere:x'));
  await one('good', async () => sub(await sign({ sub: 'ann', channel: 'desk:fx' })));
  // sub_refresh on a subscription made with a token.
  const refresh = async (name: string, make: () => Promise<Json>): Promise<void> => {
    const { c } = await session(base, 'ann');
    const ok = await outcome(c, 2, sub(await sign({ sub: 'ann', channel: 'desk:fx' })));
    assert.equal(ok, 'ok expires', `${base}: ${name}: subscribed first`);
    out[`sub_refresh ${name}`] = await outcome(c, 3, await make());
    c.close();
  };
  const sr = (token: string, channel = 'desk:fx'): Json => ({ sub_refresh: { channel, token } });
  await refresh('good', async () => sr(await sign({ sub: 'ann', channel: 'desk:fx', exp: now() + 3600 })));
  await refresh('forged', async () => sr(await sign({ sub: 'ann', channel: 'desk:fx' }, 'another-secret-another-secret-another')));
  await refresh('another channel', async () => sr(await sign({ sub: 'ann', channel: 'desk:eq' })));
  await refresh('another user', async () => sr(await sign({ sub: 'bob', channel: 'desk:fx' })));
  await refresh('no token', async () => ({ sub_refresh: { channel: 'desk:fx' } }));
  await refresh('not subscribed', async () => sr(await sign({ sub: 'ann', channel: 'desk:eq' }), 'desk:eq'));
  await refresh('empty channel', async () => sr('x', ''));
  await refresh('expired', async () => sr(await sign({ sub: 'ann', channel: 'desk:fx', exp: now() - 30 })));
  return out;
}

test('every subscription-token refusal answers as Centrifugo v6.9.1 does for the same token', async () => {
  const theirs = await script(centrifugo.url);
  const ours = await script(gw.url);
  // The one documented deviation (docs/protocol.md, "Subscription tokens").
  assert.equal(theirs['sub_refresh expired'], 'ok');
  assert.equal(ours['sub_refresh expired'], 'error 109');
  delete theirs['sub_refresh expired'];
  delete ours['sub_refresh expired'];
  assert.deepEqual(ours, theirs);
  // And what they are, so a change on both sides is seen too.
  assert.deepEqual(ours, {
    'no token': 'error 103',
    forged: 'error 103',
    garbage: 'error 103',
    'no channel claim': 'error 103',
    expired: 'error 109',
    'not yet valid': 'error 109',
    'wrong audience': 'error 103',
    'another channel': 'closed 3500',
    'another user': 'closed 3500',
    'another client': 'closed 3500',
    'this client': 'ok expires',
    'unknown namespace': 'error 102',
    good: 'ok expires',
    'sub_refresh good': 'ok expires',
    'sub_refresh forged': 'closed 3500',
    'sub_refresh another channel': 'closed 3500',
    'sub_refresh another user': 'closed 3500',
    'sub_refresh no token': 'error 107',
    'sub_refresh not subscribed': 'error 103',
    'sub_refresh empty channel': 'closed 3501',
  });
});
