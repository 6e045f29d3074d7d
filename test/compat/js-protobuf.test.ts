/**
 * The official `centrifuge` JavaScript SDK's protobuf build (centrifuge/build/protobuf), the
 * encoding the Swift, Java and Dart SDKs use: connect, subscribe, receive, recover after a
 * forced reconnect, and a protobuf client's bad frame closes it with 3501.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge/build/protobuf';
import WebSocket from 'ws';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';
import { sdkEndpoint, signToken } from '../testkit/sdk-gateway.js';

const KEY = 'pb-key';
const SECRET = 'pb-secret-pb-secret-pb-secret-pb-secret';
let gw: RunningGateway;
let endpoint: string;

before(async () => {
  gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY, tokenHmacSecret: SECRET });
  endpoint = sdkEndpoint(gw);
});
after(async () => {
  await gw.close();
});

test('protobuf SDK: receive what the API publishes, then recover every missed publication after a forced reconnect', async () => {
  const token = await signToken(SECRET, 'pia');
  const c = new Centrifuge(endpoint, { websocket: WebSocket, token, minReconnectDelay: 50, maxReconnectDelay: 200 });
  try {
    const got: { offset: number; data: unknown }[] = [];
    const subscribed: SubscribedContext[] = [];
    const sub = c.newSubscription('SOL.trade');
    sub.on('publication', (ctx: PublicationContext) => {
      // Protobuf carries bytes: the payload is the JSON text the publisher sent.
      got.push({ offset: Number(ctx.offset), data: JSON.parse(new TextDecoder().decode(ctx.data as Uint8Array)) });
    });
    sub.on('subscribed', (ctx: SubscribedContext) => subscribed.push(ctx));
    sub.subscribe();
    c.connect();
    await sub.ready(5000);
    for (let i = 0; i < 3; i++) await api(gw.url, KEY, 'publish', { channel: 'SOL.trade', data: { i } });
    await waitFor(() => got.length === 3, 5000, '3 publications');
    const disconnected = new Promise<void>((r) => c.once('connecting', () => r()));
    await api(gw.url, KEY, 'disconnect', { user: 'pia', disconnect: { code: 3011, reason: 'force reconnect' } });
    await disconnected;
    for (let i = 3; i < 6; i++) await api(gw.url, KEY, 'publish', { channel: 'SOL.trade', data: { i } });
    await waitFor(() => got.length === 6, 5000, 'all 6');
    assert.deepEqual(
      got.map((g) => g.offset),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(got[5]!.data, { i: 5 });
    assert.equal(subscribed[1]!.recovered, true);
  } finally {
    c.disconnect();
  }
});

test('protobuf: a text frame or a malformed message closes the connection with 3501', async () => {
  for (const payload of ['{"id":1,"connect":{}}', Buffer.from([0x05, 0xff, 0xff, 0xff])]) {
    const ws = new WebSocket(endpoint, 'centrifuge-protobuf');
    await new Promise((r) => ws.once('open', r));
    assert.equal(ws.protocol, 'centrifuge-protobuf');
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    ws.send(payload);
    assert.equal(await closed, 3501);
  }
});
