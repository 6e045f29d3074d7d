/**
 * The official Centrifugo server API SDKs, unmodified, against our gateway: `cent` (Python) and
 * `gocent` (Go, which speaks only the legacy /api endpoint with newline-separated commands).
 * Every method each SDK offers is called; API errors must reach them as API errors (HTTP 200
 * with the error in the body), never as transport failures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningGateway } from '../../src/apps/gateway/compose.js';
import { runGo, runPython } from '../testkit/compat-clients.js';
import { TestClient, api } from '../testkit/ws-client.js';
import { startSdkGateway } from '../testkit/sdk-gateway.js';

const KEY = 'compat-api-key';
let gw: RunningGateway;

before(async () => {
  gw = await startSdkGateway(KEY);
});
after(async () => {
  await gw.close();
});

type Outcome = { ok: boolean; result?: Record<string, unknown>; code?: number; error?: string; message?: string; transport?: string };

test('cent (Python): every method; API errors are CentApiResponseError with the code; PRO methods refused by name', async () => {
  const r = (await runPython('cent_api.py', [`${gw.url}/api`, KEY, 'chat.cent', 'nope:chat'])) as Record<string, Outcome>;
  for (const m of [
    'publish',
    'broadcast',
    'history',
    'history_reverse',
    'presence',
    'presence_stats',
    'channels',
    'channels_pattern',
    'info',
    'subscribe',
    'unsubscribe',
    'disconnect',
    'refresh',
    'batch',
    'history_remove',
    'history_after_remove',
    'publish_skip_history',
  ]) {
    assert.equal(r[m]?.ok, true, `${m}: ${JSON.stringify(r[m])}`);
  }
  assert.deepEqual([r.publish_unknown_channel?.error, r.publish_unknown_channel?.code], ['CentApiResponseError', 102]);
  assert.deepEqual([r.publish_b64data?.error, r.publish_b64data?.code], ['CentApiResponseError', 107]);
  assert.match(r.publish_b64data!.message!, /b64data/);
  // skip_history: delivered live only, so history holds the first publication alone.
  const hist = r.history!.result as { publications: { data: unknown }[] };
  assert.deepEqual(
    hist.publications.map((p) => p.data),
    [{ price: 1 }, { price: 1 }],
  );
  const responses = (r.broadcast!.result as { responses: { error?: { code: number } }[] }).responses;
  assert.equal(responses[1]?.error?.code, 102);
  const replies = (r.batch!.result as { replies: unknown[] }).replies;
  assert.equal(replies.length, 2);
  assert.deepEqual(Object.keys((r.channels_pattern!.result as { channels: object }).channels), []);
  assert.equal((r.history_after_remove!.result as { publications: unknown[] }).publications.length, 0);
  for (const m of ['connections', 'block_user', 'get_user_status', 'device_list']) {
    assert.deepEqual([r[m]?.error, r[m]?.code], ['CentApiResponseError', 104], m);
    assert.match(r[m]!.message!, /PRO/);
  }
});

test('gocent (Go): every method and a pipe of several commands on the legacy /api endpoint', async () => {
  const r = (await runGo(['api', gw.url, KEY, 'chat.gocent', 'nope:chat'])) as Record<string, Outcome>;
  for (const m of [
    'publish',
    'publish_skip_history',
    'broadcast',
    'history',
    'history_since_reverse',
    'presence',
    'presence_stats',
    'channels',
    'channels_pattern',
    'info',
    'subscribe',
    'unsubscribe',
    'disconnect',
    'history_remove',
    'history_after_remove',
  ]) {
    assert.equal(r[m]?.ok, true, `${m}: ${JSON.stringify(r[m])}`);
  }
  assert.equal(r.publish_unknown_channel?.ok, false);
  assert.equal(r.publish_unknown_channel?.code, 102);
  assert.equal(r.publish_unknown_channel?.transport, undefined);
  const hist = r.history!.result as { publications: unknown[] };
  assert.equal(hist.publications.length, 2); // publish + broadcast; the skip_history one is not kept
  assert.equal((r.history_after_remove!.result as { publications: unknown[] | null }).publications?.length ?? 0, 0);
  const pipe = r.pipe as unknown as { code?: number; result?: unknown }[];
  assert.equal(pipe.length, 4);
  assert.ok(pipe[0]!.result);
  assert.equal(pipe[1]!.code, 102);
  assert.ok(pipe[2]!.result);
  assert.ok(pipe[3]!.result);
});

test('skip_history: delivered live without an offset (Odin and Centrifugo), kept out of history', async () => {
  const ws = gw.url.replace('http', 'ws');
  const odin = await TestClient.connect(`${ws}/ws`);
  odin.send({ type: 'subscribe', data: { channels: ['chat.skip'] } });
  await odin.next((m) => m.type === 'subscription_ack');
  const cent = await TestClient.connect(`${ws}/connection/websocket`);
  cent.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"chat.skip"}}');
  await cent.next((m) => m.id === 2);
  const r = await api(gw.url, KEY, 'publish', { channel: 'chat.skip', data: { live: true }, skip_history: true });
  assert.deepEqual(r.body, { result: {} });
  const o = await odin.next((m) => m.channel === 'chat.skip');
  assert.deepEqual([o.data, 'offset' in o, 'epoch' in o], [{ live: true }, false, false]);
  const c = await cent.next((m) => m.push !== undefined);
  assert.deepEqual((c.push as { pub: Record<string, unknown> }).pub, { data: { live: true } });
  const h = await api(gw.url, KEY, 'history', { channel: 'chat.skip', limit: 10 });
  assert.deepEqual((h.body.result as { publications: unknown[] }).publications, []);
  odin.close();
  cent.close();
});
