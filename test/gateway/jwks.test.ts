/**
 * Identity providers (issue 23): connection and subscription tokens verified with keys from a
 * JWKS endpoint served by a local HTTP server that rotates its keys, answers garbage, fails or
 * hangs; audience and issuer checks. An unverifiable token is refused with Centrifugo's code
 * (connect: close 3500; subscribe: 103), never accepted by a fallback; a bystander connection
 * and the gateway go on. Tokens and keys made with jose.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { TestClient, type Json } from '../testkit/ws-client.js';

interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}
async function signingKey(kid: string, alg: 'RS256' | 'ES256' | 'EdDSA'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The identity provider's JWKS endpoint: serves `keys`, or misbehaves as `mode` says; counts requests. */
class JwksServer {
  keys: SigningKey[] = [];
  mode: 'keys' | 'garbage' | 'error' | 'hang' = 'keys';
  requests = 0;
  private readonly hanging: ServerResponse[] = [];
  private readonly server: Server = createServer((_req, res) => {
    this.requests++;
    if (this.mode === 'hang') return void this.hanging.push(res);
    if (this.mode === 'error') return void res.writeHead(500).end('boom');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(this.mode === 'garbage' ? '{"keys": [{"kty": "nonsense"' : JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }
  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const now = (): number => Math.floor(Date.now() / 1000);
const AUD = 'odin-ws';
const ISS = 'https://idp.test/';
function sign(key: SigningKey, claims: JWTPayload): Promise<string> {
  return new SignJWT({ aud: AUD, iss: ISS, exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

const idp = new JwksServer();
const gateways: RunningGateway[] = [];
const open: TestClient[] = [];
let rsa: SigningKey, ec: SigningKey, ed: SigningKey, next: SigningKey;

before(async () => {
  await idp.start();
  [rsa, ec, ed, next] = await Promise.all([
    signingKey('rsa-1', 'RS256'),
    signingKey('ec-1', 'ES256'),
    signingKey('ed-1', 'EdDSA'),
    signingKey('ec-2', 'ES256'),
  ]);
});
after(async () => {
  for (const c of open) c.close();
  for (const g of gateways) await g.close();
  await idp.stop();
});

async function gateway(extra: GatewayOptionsInput = {}): Promise<string> {
  const gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    tokenJwksUrl: idp.url,
    tokenAudience: AUD,
    tokenIssuer: ISS,
    namespaces: [...DEFAULT_NAMESPACES, { name: 'desk', pattern: 'desk\\.[a-z]+', subscribe: 'token' }],
    ...extra,
  });
  gateways.push(gw);
  return gw.url.replace('http', 'ws') + '/connection/websocket';
}

/** Connects with `token`: the connect reply, or the close when refused. */
async function connect(url: string, token: string | null): Promise<{ c: TestClient; reply: Json | null; close: number | null }> {
  const c = await TestClient.connect(url);
  open.push(c);
  c.send({ id: 1, connect: token === null ? {} : { token } });
  const reply = await Promise.race([c.next((m) => m.id === 1), c.waitClose().then(() => null)]);
  if (reply?.connect) return { c, reply, close: null };
  return { c, reply, close: (await c.waitClose()).code };
}

test('keys of every supported algorithm verify connection and subscription tokens; audience and issuer are checked', async () => {
  idp.mode = 'keys';
  idp.keys = [rsa, ec, ed];
  const url = await gateway();
  for (const key of [rsa, ec, ed]) {
    const { c, reply } = await connect(url, await sign(key, { sub: `user-${key.kid}` }));
    assert.ok(reply?.connect, key.kid);
    c.send({ id: 2, subscribe: { channel: 'desk.fx', token: await sign(key, { sub: `user-${key.kid}`, channel: 'desk.fx' }) } });
    assert.ok((await c.next((m) => m.id === 2)).subscribe, key.kid);
    // A subscription token for another audience or issuer: 103.
    c.send({
      id: 3,
      subscribe: { channel: 'desk.eq', token: await sign(key, { sub: `user-${key.kid}`, channel: 'desk.eq', aud: 'other' }) },
    });
    assert.equal(((await c.next((m) => m.id === 3)).error as Json).code, 103);
    c.send({
      id: 4,
      subscribe: { channel: 'desk.eq', token: await sign(key, { sub: `user-${key.kid}`, channel: 'desk.eq', iss: 'https://evil/' }) },
    });
    assert.equal(((await c.next((m) => m.id === 4)).error as Json).code, 103);
  }
  assert.equal((await connect(url, await sign(ec, { sub: 'u', aud: 'someone-else' }))).close, 3500);
  assert.equal((await connect(url, await sign(ec, { sub: 'u', iss: 'https://evil/' }))).close, 3500);
  // Expired with the right audience: 109, as Centrifugo (the SDK asks for a new token).
  const expired = await connect(url, await sign(ec, { sub: 'u', exp: now() - 5 }));
  assert.equal(((expired.reply as Json).error as Json).code, 109);
  // The provider's keys only: an HMAC token, whatever its secret, is refused.
  const hs = await new SignJWT({ sub: 'u', aud: AUD, iss: ISS })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode('x'.repeat(32)));
  assert.equal((await connect(url, hs)).close, 3500);
});

test('a rotated key (new kid) is fetched again; with a cooldown an unknown kid refetches at most once per cooldown', async () => {
  idp.mode = 'keys';
  idp.keys = [ec];
  const rotating = await gateway({ tokenJwksCooldownMs: 0 });
  assert.ok((await connect(rotating, await sign(ec, { sub: 'a' }))).reply?.connect);
  idp.keys = [next]; // rotation: ec-1 retired, ec-2 in
  const before = idp.requests;
  assert.ok((await connect(rotating, await sign(next, { sub: 'b' }))).reply?.connect);
  assert.equal(idp.requests, before + 1);

  idp.keys = [ec];
  const cooled = await gateway({ tokenJwksCooldownMs: 60_000 });
  const start = idp.requests;
  assert.ok((await connect(cooled, await sign(ec, { sub: 'c' }))).reply?.connect);
  idp.keys = [ec, next];
  // Within the cooldown an unknown kid is refused without asking the provider again, however many come.
  for (let i = 0; i < 10; i++) assert.equal((await connect(cooled, await sign(next, { sub: `d${i}` }))).close, 3500);
  assert.equal(idp.requests, start + 1);
});

test('a JWKS endpoint that answers garbage, fails or hangs: tokens refused (3500 / 103), counted; anonymous bystanders go on', async () => {
  for (const mode of ['garbage', 'error', 'hang'] as const) {
    idp.mode = mode;
    const url = await gateway({ tokenJwksTimeoutMs: 300 });
    const bystander = await connect(url, null);
    bystander.c.send({ id: 2, subscribe: { channel: 'BTC.trade' } });
    await bystander.c.next((m) => m.id === 2);
    const started = Date.now();
    assert.equal((await connect(url, await sign(ec, { sub: 'u' }))).close, 3500, mode);
    assert.ok(Date.now() - started < 5000, `${mode}: refused within the fetch timeout`);
    bystander.c.send({ id: 3, subscribe: { channel: 'desk.fx', token: await sign(ec, { sub: '', channel: 'desk.fx' }) } });
    assert.equal(((await bystander.c.next((m) => m.id === 3)).error as Json).code, 103, mode);
    bystander.c.send({ id: 4, subscribe: { channel: 'ETH.trade' } });
    assert.ok((await bystander.c.next((m) => m.id === 4)).subscribe, mode);
    assert.equal(bystander.c.closed, null);
    const metrics = await (await fetch(gateways.at(-1)!.url + '/metrics')).text();
    assert.match(metrics, /ws_token_refusals_total\{reason="unavailable"\} [1-9]/, mode);
  }
  idp.mode = 'keys';
});

test('a JWKS URL beside an HMAC secret or a public key, or both audience forms, refuses to start', async () => {
  await assert.rejects(
    gateway({ tokenHmacSecret: 'some-secret-some-secret-some-secret' }),
    /tokenJwksUrl: a JWKS endpoint is the only source of keys/,
  );
  await assert.rejects(gateway({ tokenAudienceRegex: '^odin$' }), /tokenAudienceRegex: set tokenAudience or tokenAudienceRegex, not both/);
  await assert.rejects(gateway({ tokenIssuer: '', tokenIssuerRegex: '(' }), /tokenIssuerRegex: invalid regular expression/);
});
