/**
 * The official Java SDK, centrifuge-java 0.4.1 (protobuf only; test/compat/java), unmodified:
 * connect, subscribe, publications from the server API (issue 20's rows: their bytes must arrive
 * as published) and from the client, recovery after a reconnect, history.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { runJava } from '../testkit/compat-clients.js';
import { ISSUE_20_ROWS } from '../testkit/json-text-arb.js';

const KEY = 'compat-java-key';
let gw: RunningGateway;

before(async () => {
  gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey: KEY,
    namespaces: [...DEFAULT_NAMESPACES, { name: 'chat', pattern: 'chat\\.[a-z]+', publish: true, presence: true, historySize: 50 }],
  });
});
after(async () => {
  await gw.close();
});

test('centrifuge-java (protobuf): connect, subscribe, publications byte for byte, client publish, recovery after a reconnect, history', async () => {
  const ws = `${gw.url.replace('http', 'ws')}/connection/websocket`;
  const r = (await runJava([ws, gw.url, KEY, 'chat.java', ...ISSUE_20_ROWS], 90_000)) as {
    publications: { offset: number; data_b64: string }[];
    subscribed: { was_recovering: boolean; recovered: boolean }[];
    history: number;
  };
  const n = ISSUE_20_ROWS.length;
  assert.deepEqual(
    r.publications.map((p) => p.offset),
    Array.from({ length: n + 3 }, (_, i) => i + 1),
  );
  const texts = r.publications.map((p) => Buffer.from(p.data_b64, 'base64').toString('utf8'));
  assert.deepEqual(texts, [...ISSUE_20_ROWS, '{"from":"java","n":1.50}', '{"missed":1}', '{"missed":2}']);
  assert.deepEqual(r.subscribed, [
    { was_recovering: false, recovered: false },
    { was_recovering: true, recovered: true },
  ]);
  assert.equal(r.history, n + 3);
});
