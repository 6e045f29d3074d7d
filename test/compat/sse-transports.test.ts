/**
 * The official `centrifuge` JavaScript SDK with WebSocket unavailable: only `http_stream`, or
 * only `sse` (EventSource from the `eventsource` package). Connect, subscribe, publish (client side), history, and recovery of
 * every missed publication after a server-forced reconnect; and the protobuf http_stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type PublicationContext, type SubscribedContext, type TransportEndpoint } from 'centrifuge';
import { Centrifuge as CentrifugePb } from 'centrifuge/build/protobuf';
import { EventSource } from 'eventsource';
import type { RunningGateway } from '../../src/apps/gateway/compose.js';
import { gatewayForFile } from '../testkit/file-gateway.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';
import { signToken } from '../testkit/sdk-gateway.js';

const KEY = 'sse-key';
const SECRET = 'sse-secret-sse-secret-sse-secret-sse-secret';
const gateway = gatewayForFile({
  port: 0,
  host: '127.0.0.1',
  apiKey: KEY,
  tokenHmacSecret: SECRET,
  namespaces: [{ name: 'chat', pattern: 'chat\\.[a-z0-9_-]+', publish: true, presence: true, historySize: 100 }],
});

const token = (user: string): Promise<string> => signToken(SECRET, user);

function endpoints(gw: RunningGateway, transport: 'http_stream' | 'sse'): TransportEndpoint[] {
  return [{ transport, endpoint: `${gw.url}/connection/${transport}` }];
}

for (const kind of ['http_stream', 'sse'] as const) {
  test(`${kind}: connect, subscribe, publish, history, recovery after a forced reconnect`, async () => {
    const gw = gateway();
    const user = `u-${kind}`;
    const c = new Centrifuge(endpoints(gw, kind), {
      token: await token(user),
      emulationEndpoint: `${gw.url}/emulation`,
      eventsource: EventSource,
      minReconnectDelay: 50,
      maxReconnectDelay: 200,
    });
    try {
      const channel = `chat.${kind}`;
      const got: { offset: number; data: unknown }[] = [];
      const subscribed: SubscribedContext[] = [];
      const sub = c.newSubscription(channel);
      sub.on('publication', (p: PublicationContext) => got.push({ offset: Number(p.offset), data: p.data }));
      sub.on('subscribed', (s: SubscribedContext) => subscribed.push(s));
      const connected = new Promise<{ transport: string }>((r) => c.once('connected', (x) => r(x)));
      sub.subscribe();
      c.connect();
      assert.equal((await connected).transport, kind);
      await sub.ready(5000);
      // Publish from the client (a command through /emulation), and from the server API.
      await sub.publish({ from: 'client', i: 0 });
      for (let i = 1; i < 3; i++) await api(gw.url, KEY, 'publish', { channel, data: { i } });
      await waitFor(() => got.length === 3, 5000, '3 publications');
      assert.deepEqual(got[0]!.data, { from: 'client', i: 0 });
      const h = await sub.history({ limit: 10 });
      assert.deepEqual(
        h.publications.map((p) => p.data),
        [{ from: 'client', i: 0 }, { i: 1 }, { i: 2 }],
      );
      const stats = await c.presenceStats(channel);
      assert.equal(stats.numClients, 1);

      // The server disconnects the user (3011, reconnect): the stream ends with a disconnect push.
      const reconnecting = new Promise<{ code: number }>((r) => c.once('connecting', (x) => r(x)));
      await api(gw.url, KEY, 'disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
      assert.equal((await reconnecting).code, 3011);
      for (let i = 3; i < 6; i++) await api(gw.url, KEY, 'publish', { channel, data: { i } });
      await waitFor(() => got.length === 6, 5000, 'all 6 publications');
      assert.deepEqual(
        got.map((g) => g.offset),
        [1, 2, 3, 4, 5, 6],
      );
      assert.equal(subscribed.length, 2);
      assert.equal(subscribed[1]!.wasRecovering, true);
      assert.equal(subscribed[1]!.recovered, true);
    } finally {
      c.disconnect();
    }
    await waitFor(() => gw.gateway.connectionCount === 0, 5000, 'the stream closed on the server');
  });
}

test(`http_stream protobuf: connect, subscribe, receive, a command through /emulation`, async () => {
  const gw = gateway();
  const c = new CentrifugePb(endpoints(gw, 'http_stream'), {
    token: await token('pb-user'),
    emulationEndpoint: `${gw.url}/emulation`,
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
  });
  try {
    const channel = 'chat.pb';
    const got: unknown[] = [];
    const sub = c.newSubscription(channel);
    sub.on('publication', (p) => got.push(JSON.parse(new TextDecoder().decode(p.data as Uint8Array))));
    sub.subscribe();
    c.connect();
    await sub.ready(5000);
    await api(gw.url, KEY, 'publish', { channel, data: { pb: 1 } });
    await sub.publish(new TextEncoder().encode(JSON.stringify({ pb: 2 })));
    await waitFor(() => got.length === 2, 5000, '2 publications');
    assert.deepEqual(got, [{ pb: 1 }, { pb: 2 }]);
  } finally {
    c.disconnect();
  }
});
