/**
 * The rules of a token key set (core/options.ts, `checkKeySet`), each through every scope that has
 * one: the connection keys (`token*` at the top), the global subscription set (`subscriptionToken`)
 * and a namespace's own set (`namespaces[i].subscriptionToken`). Each refusal names the option by
 * its full path with the same message as before the check was shared; a secret never shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, resolveGatewayOptions } from '../../src/lib/core/options.js';

/** A scope: how a key set is written into the options, and the names of its options in errors. */
interface Scope {
  readonly name: string;
  /** The options with this key set (keys named as in a subscription set) and nothing else wrong. */
  readonly input: (keys: Record<string, unknown>) => unknown;
  /** The full option path of a key, as an error names it. */
  readonly path: (key: string) => string;
  /** The option's own name inside the scope, as a message names it. */
  readonly own: (key: string) => string;
}

const cap = (k: string): string => k[0]!.toUpperCase() + k.slice(1);
/** The connection keys' names: hmacSecret → tokenHmacSecret, audience → tokenAudience... */
const tokenKey = (k: string): string => `token${cap(k)}`;
const nsInput = (keys: Record<string, unknown>): unknown => ({
  namespaces: [{ name: 'desk', pattern: 'desk\\.[a-z]+', subscriptionToken: keys }],
});

const SCOPES: readonly Scope[] = [
  {
    name: 'connection keys',
    input: (keys) => Object.fromEntries(Object.entries(keys).map(([k, v]) => [tokenKey(k), v])),
    path: tokenKey,
    own: tokenKey,
  },
  { name: 'global subscription set', input: (keys) => ({ subscriptionToken: keys }), path: (k) => `subscriptionToken.${k}`, own: (k) => k },
  { name: "a namespace's set", input: nsInput, path: (k) => `namespaces.0.subscriptionToken.${k}`, own: (k) => k },
];
const SUBSCRIPTION_SCOPES = SCOPES.filter((s) => s.name !== 'connection keys');

const SECRET = 'key-set-secret-key-set-secret-key-set';
const JWKS = 'https://idp.example/.well-known/jwks.json';
const PEM = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----';

/** The lines of the ConfigError the input gets (without the title line). */
function problems(input: unknown): string[] {
  try {
    resolveGatewayOptions(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_CONFIG');
    const [title, ...lines] = e.message.split('\n');
    assert.equal(title, 'invalid gateway options:');
    return lines.map((l) => l.trim());
  }
  assert.fail('accepted');
}

for (const s of SCOPES) {
  test(`${s.name}: audience and audienceRegex together are refused at ${s.path('audienceRegex')}`, () => {
    assert.deepEqual(problems(s.input({ hmacSecret: SECRET, audience: 'odin', audienceRegex: '^od' })), [
      `${s.path('audienceRegex')}: set ${s.own('audience')} or ${s.own('audienceRegex')}, not both (got "^od")`,
    ]);
  });

  test(`${s.name}: issuer and issuerRegex together are refused at ${s.path('issuerRegex')}`, () => {
    assert.deepEqual(problems(s.input({ hmacSecret: SECRET, issuer: 'idp', issuerRegex: 'id.' })), [
      `${s.path('issuerRegex')}: set ${s.own('issuer')} or ${s.own('issuerRegex')}, not both (got "id.")`,
    ]);
  });

  test(`${s.name}: a JWKS endpoint beside an HMAC secret or a PEM key is refused, the secret never shown`, () => {
    const only = `${s.path('jwksUrl')}: a JWKS endpoint is the only source of keys: unset ${s.own('hmacSecret')} and ${s.own('publicKey')} (got "${JWKS}")`;
    const withSecret = problems(s.input({ jwksUrl: JWKS, hmacSecret: SECRET }));
    assert.deepEqual(withSecret, [only]);
    assert.ok(!withSecret.join('\n').includes(SECRET));
    assert.deepEqual(problems(s.input({ jwksUrl: JWKS, publicKey: PEM })), [only]);
  });

  test(`${s.name}: a regular expression that does not compile is refused at its key`, () => {
    for (const key of ['audienceRegex', 'issuerRegex']) {
      const lines = problems(s.input({ hmacSecret: SECRET, [key]: '(' }));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, new RegExp(`^${s.path(key).replace(/\./g, '\\.')}: invalid regular expression: .*\\(got "\\("\\)$`));
    }
  });

  test(`${s.name}: every rule broken at once gets one line each, in order`, () => {
    const lines = problems(
      s.input({ jwksUrl: JWKS, hmacSecret: SECRET, audience: 'a', audienceRegex: 'a', issuer: 'i', issuerRegex: '(' }),
    );
    assert.deepEqual(
      lines.map((l) => l.slice(0, l.indexOf(':'))),
      [s.path('audienceRegex'), s.path('issuerRegex'), s.path('jwksUrl'), s.path('issuerRegex')],
    );
  });

  test(`${s.name}: a well-formed set is accepted as given`, () => {
    for (const keys of [
      { hmacSecret: SECRET, audience: 'odin', issuer: 'idp' },
      { publicKey: PEM, audienceRegex: '^odin-', issuerRegex: '^https://idp\\.' },
      { jwksUrl: JWKS, audience: 'odin', issuerRegex: 'idp' },
    ]) {
      assert.doesNotThrow(() => resolveGatewayOptions(s.input(keys)), JSON.stringify(keys));
    }
  });
}

for (const s of SUBSCRIPTION_SCOPES) {
  // At the secret's key, so no value shown.
  test(`${s.name}: audience or issuer checks without a key of the set are refused at ${s.path('hmacSecret')}`, () => {
    for (const key of ['audience', 'audienceRegex', 'issuer', 'issuerRegex']) {
      assert.deepEqual(problems(s.input({ [key]: 'x' })), [
        `${s.path('hmacSecret')}: audience/issuer checks need a key of this set (hmacSecret, publicKey or jwksUrl)`,
      ]);
    }
  });
}

test('connection keys: audience and issuer checks need no connection key (they apply to every token)', () => {
  const o = resolveGatewayOptions({ tokenAudience: 'odin', tokenIssuerRegex: '^idp' });
  assert.equal(o.tokenAudience, 'odin');
  assert.equal(o.tokenIssuerRegex, '^idp');
});
