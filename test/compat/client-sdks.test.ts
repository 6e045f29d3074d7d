/**
 * The Centrifugo client SDKs for Go (centrifuge-go) and Python (centrifuge-python), unmodified,
 * over JSON and protobuf: connect, subscribe, receive, history, presence, recovery after a
 * server-forced reconnect, server-side subscriptions, and the get_state flow (error 112).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningGateway } from '../../src/apps/gateway/compose.js';
import { runGo, runPython } from '../testkit/compat-clients.js';
import { sdkEndpoint, signToken, startSdkGateway } from '../testkit/sdk-gateway.js';

const KEY = 'compat-sdk-key';
const SECRET = 'compat-secret-compat-secret-compat-secret';
let gw: RunningGateway;
let ws: string;

const token = (sub: string): Promise<string> => signToken(SECRET, sub);

before(async () => {
  gw = await startSdkGateway(KEY, SECRET, {
    namespaces: [{ name: 'desk', pattern: 'desk\\.[a-z]+', subscribe: 'token' }],
    // The grant's end is checked 3 s after it. The SDKs refresh at the ttl, which counts whole
    // seconds from the start of the current one (as Centrifugo's): a grant taken just before a
    // second's end is refreshed up to a second after it ends, so 1 s left a race of milliseconds.
    client: { expiredSubCloseDelayMs: 3000 },
  });
  ws = sdkEndpoint(gw);
});
after(async () => {
  await gw.close();
});

const SEVEN = [1, 2, 3, 4, 5, 6, 7];

for (const mode of ['json', 'protobuf'] as const) {
  test(`centrifuge-go (${mode}): receive, history, presence, recovery after a forced reconnect, server-side subscription`, async () => {
    const user = `go-${mode}`;
    const ch = `chat.go${mode}`;
    const r = await runGo(['client', mode, ws, gw.url, KEY, await token(user), user, ch, `GO${mode.toUpperCase()}.trade`]);
    assert.deepEqual(r.offsets, SEVEN);
    assert.equal(r.history, 3);
    assert.deepEqual(r.presence_stats, { clients: 1, users: 1 });
    assert.equal(r.presence, 1);
    const subscribed = r.subscribed as { was_recovering: boolean; recovered: boolean }[];
    assert.equal(subscribed.length, 2);
    assert.deepEqual([subscribed[1]!.was_recovering, subscribed[1]!.recovered], [true, true]);
    assert.deepEqual(r.server_subscribed, [`GO${mode.toUpperCase()}.trade`]);
    assert.equal(r.server_publications, 1);
  });

  test(`centrifuge-python (${mode}): receive, history, presence, recovery after a forced reconnect, get_state with 112`, async () => {
    const user = `py-${mode}`;
    const r = await runPython('sdk_client.py', [mode, ws, `${gw.url}/api`, KEY, await token(user), user, `chat.py${mode}`]);
    assert.deepEqual(r.offsets, SEVEN);
    assert.equal(r.history, 3);
    assert.deepEqual(r.presence_stats, { clients: 1, users: 1 });
    assert.equal(r.presence, 1);
    const subscribed = r.subscribed as { was_recovering: boolean; recovered: boolean }[];
    assert.deepEqual([subscribed[1]!.was_recovering, subscribed[1]!.recovered], [true, true]);
    // The first position (wrong epoch) is refused with 112; the SDK asks for state again.
    assert.equal(r.get_state_calls, 2);
    assert.deepEqual(r.get_state_offsets, [2]);
  });
}

/** Tokens for `sub-token` flows: expired (109: asked again), short (refreshed by sub_refresh at its ttl), long. */
async function subTokens(user: string, channel: string): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const mint = (exp: number): Promise<string> => signToken(SECRET, user, exp, { channel });
  return Promise.all([mint(now - 10), mint(now + 2), mint(now + 3600)]);
}

for (const mode of ['json', 'protobuf'] as const) {
  test(`centrifuge-go (${mode}): subscription token through GetToken — again after 109, refreshed by sub_refresh`, async () => {
    const user = `go-sub-${mode}`;
    const ch = `desk.go${mode}`;
    const r = await runGo(['subtoken', mode, ws, gw.url, KEY, await token(user), ch, ...(await subTokens(user, ch))]);
    assert.deepEqual(r, { asked: 3, subscribed: 1, publications: 1, unsubscribed: [] });
  });

  test(`centrifuge-python (${mode}): subscription token through get_token — again after 109, refreshed by sub_refresh`, async () => {
    const user = `py-sub-${mode}`;
    const ch = `desk.py${mode}`;
    const r = await runPython('sub_token.py', [mode, ws, `${gw.url}/api`, KEY, await token(user), ch, ...(await subTokens(user, ch))]);
    assert.deepEqual(r, { asked: 3, subscribed: 1, unsubscribed: [], publications: [{ after: 'refresh' }] });
  });
}
