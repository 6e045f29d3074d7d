/**
 * JwtVerifier (core/auth.ts) on its own: connection and subscription claims as Centrifugo reads
 * them, audience and issuer checks (exact and regex) in Centrifugo's order, key choice by
 * algorithm, a key set as the only key source. Tokens minted with jose; the clock injected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, exportSPKI, SignJWT, type JWTPayload, createLocalJWKSet, exportJWK } from 'jose';
import { JwtVerifier, TokenError, type TokenErrorCode } from '../../src/lib/core/auth.js';

const SECRET = 'unit-secret-unit-secret-unit-secret-xx';
const NOW = 1_900_000_000;
const clock = (): number => NOW * 1000;

const hs = (claims: JWTPayload, secret = SECRET): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

async function refusal(p: Promise<unknown>): Promise<TokenErrorCode> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TokenError, String(e));
    return e.code;
  }
  assert.fail('accepted');
}

test('connection claims: expire_at over exp (0: never), b64info, a channel claim refused', async () => {
  const v = new JwtVerifier({ hmacSecret: SECRET, now: clock });
  const c = await v.verify(await hs({ sub: 'u', exp: NOW + 60, info: { a: 1 }, channels: ['x', 3] }));
  assert.deepEqual([c.user, c.exp, c.channels, c.info], ['u', NOW + 60, ['x'], { a: 1 }]);
  assert.equal((await v.verify(await hs({ sub: 'u', exp: NOW + 60, expire_at: NOW + 5 }))).exp, NOW + 5);
  assert.equal((await v.verify(await hs({ sub: 'u', exp: NOW + 60, expire_at: 0 }))).exp, 0);
  const b64 = Buffer.from('{"desk":"fx"}').toString('base64');
  assert.deepEqual((await v.verify(await hs({ sub: 'u', b64info: b64 }))).info, { desk: 'fx' });
  assert.equal(await refusal(v.verify(await hs({ sub: 'u', channel: 'desk.a' }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ sub: 'u', exp: NOW - 1 }))), 'expired');
  assert.equal(await refusal(v.verify(await hs({ sub: 'u', nbf: NOW + 100 }))), 'expired');
});

test('subscription claims: channel required, client, expire_at', async () => {
  const v = new JwtVerifier({ hmacSecret: SECRET, now: clock });
  const g = await v.verifySubscription(await hs({ sub: 'u', channel: 'desk.a', client: 'c1', exp: NOW + 60, info: 'i' }));
  assert.deepEqual(g, { user: 'u', channel: 'desk.a', client: 'c1', expireAt: NOW + 60, info: 'i' });
  assert.equal((await v.verifySubscription(await hs({ channel: 'desk.a', expire_at: NOW + 9 }))).expireAt, NOW + 9);
  assert.equal(await refusal(v.verifySubscription(await hs({ sub: 'u' }))), 'invalid');
  assert.equal(
    await refusal(v.verifySubscription(await hs({ sub: 'u', channel: 'desk.a' }, 'another-secret-another-secret-xx'))),
    'invalid',
  );
  assert.equal(await refusal(v.verifySubscription('a.b')), 'invalid');
});

test('audience and issuer, exact: checked before time, so an expired token for another audience is invalid', async () => {
  const v = new JwtVerifier({ hmacSecret: SECRET, audience: 'odin', issuer: 'https://idp.example', now: clock });
  const good = { sub: 'u', aud: ['other', 'odin'], iss: 'https://idp.example', exp: NOW + 60 };
  assert.equal((await v.verify(await hs(good))).user, 'u');
  assert.equal(await refusal(v.verify(await hs({ ...good, aud: 'other' }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, aud: undefined }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, iss: 'https://evil.example' }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, aud: 'other', exp: NOW - 5 }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, exp: NOW - 5 }))), 'expired');
  assert.equal(await refusal(v.verifySubscription(await hs({ ...good, channel: 'c', aud: 'x' }))), 'invalid');
});

test('audience and issuer, regex: unanchored as Centrifugo, any aud may match; also before time', async () => {
  const v = new JwtVerifier({
    hmacSecret: SECRET,
    audienceRegex: '^odin-(prod|stage)$',
    issuerRegex: '^https://[a-z]+\\.idp\\.example/$',
    now: clock,
  });
  const good = { sub: 'u', aud: ['x', 'odin-stage'], iss: 'https://eu.idp.example/', exp: NOW + 60 };
  assert.equal((await v.verify(await hs(good))).user, 'u');
  assert.equal(await refusal(v.verify(await hs({ ...good, aud: 'odin-dev' }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, iss: 'https://eu.idp.example.evil/' }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, iss: 'https://eu.idp.example.evil/', exp: NOW - 5 }))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ ...good, exp: NOW - 5 }))), 'expired');
});

test('keys by algorithm: an RS256 token needs the public key, HS256 the secret; alg none never', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const pem = await exportSPKI(publicKey);
  const rs = await new SignJWT({ sub: 'r' }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
  assert.equal((await new JwtVerifier({ publicKeyPem: pem, now: clock }).verify(rs)).user, 'r');
  assert.equal(await refusal(new JwtVerifier({ hmacSecret: SECRET, now: clock }).verify(rs)), 'invalid');
  assert.equal(await refusal(new JwtVerifier({ publicKeyPem: pem, now: clock }).verify(await hs({ sub: 'h' }))), 'invalid');
  const none = Buffer.from('{"alg":"none"}').toString('base64url') + '.' + Buffer.from('{"sub":"n"}').toString('base64url') + '.';
  assert.equal(await refusal(new JwtVerifier({ hmacSecret: SECRET, publicKeyPem: pem, now: clock }).verify(none)), 'invalid');
  assert.equal(await refusal(new JwtVerifier({ now: clock }).verify(await hs({ sub: 'h' }))), 'invalid');
});

test('a key set is the only key source: its kid verifies, an HMAC token is refused, an unknown kid is refused', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const v = new JwtVerifier({ keySet: createLocalJWKSet({ keys: [jwk] }), now: clock });
  const es = (kid: string): Promise<string> =>
    new SignJWT({ sub: 'e', channel: 'desk.a' }).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
  assert.equal((await v.verifySubscription(await es('k1'))).user, 'e');
  assert.equal(await refusal(v.verifySubscription(await es('k2'))), 'invalid');
  assert.equal(await refusal(v.verify(await hs({ sub: 'h' }))), 'invalid');
});
