/**
 * Cadence (issue 22, part 3) with unmodified clients on real sockets and the real clock:
 * centrifuge-js subscribed to `BTC.price@200ms` beside `BTC.price`, and a raw Odin client on a
 * `conflationIntervalMs` namespace, on the memory broker and on JetStream across two nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type PublicationContext } from 'centrifuge';
import WebSocket from 'ws';
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { namespaceServersForFile } from '../testkit/namespace-servers.js';
import { api, TestClient } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'cadence-key';
const NAMESPACES: GatewayOptionsInput['namespaces'] = [
  { name: 'prices', pattern: '[A-Z0-9]+\\.price', cadences: ['200ms', '1s'] },
  { name: 'ticks', pattern: '[A-Z0-9]+\\.tick', conflationIntervalMs: 200 },
  ...DEFAULT_NAMESPACES,
];
const N = 40;

interface Target {
  readonly publishUrl: string;
  readonly wsUrl: string;
}

/** Publishes 1..N as fast as the API answers; resolves with how long it took, ms. */
async function burst(t: Target, channel: string): Promise<number> {
  const start = Date.now();
  for (let i = 1; i <= N; i++) await api(t.publishUrl, KEY, 'publish', { channel, data: { i } });
  return Date.now() - start;
}

/** At most one per interval, counting the first at once: the bound a burst of `ms` allows. */
const bound = (ms: number, interval: number) => Math.floor(ms / interval) + 2;

async function sdkScript(t: Target, p: string): Promise<void> {
  const c = new Centrifuge(`${t.wsUrl}/connection/websocket`, { websocket: WebSocket });
  try {
    const all: number[] = [];
    const slow: number[] = [];
    const a = c.newSubscription(`${p}.price`);
    a.on('publication', (ctx: PublicationContext) => all.push((ctx.data as { i: number }).i));
    const s = c.newSubscription(`${p}.price@200ms`);
    s.on('publication', (ctx: PublicationContext) => slow.push((ctx.data as { i: number }).i));
    a.subscribe();
    s.subscribe();
    c.connect();
    await Promise.all([a.ready(5000), s.ready(5000)]);
    const ms = await burst(t, `${p}.price`);
    await waitFor(() => all.length === N && slow.at(-1) === N, 5000, 'the burst and its newest');
    assert.deepEqual(
      all,
      Array.from({ length: N }, (_, i) => i + 1),
    );
    // In order, the newest last, at most one per 200 ms of the burst.
    assert.deepEqual(
      [...slow].sort((x, y) => x - y),
      slow,
    );
    assert.ok(slow.length <= bound(ms, 200), `${slow.length} deliveries in ${ms} ms at 200 ms`);
    assert.ok(slow.length < N, 'conflated');
  } finally {
    c.disconnect();
  }
}

async function odinScript(t: Target, p: string): Promise<void> {
  const c = await TestClient.connect(`${t.wsUrl}/ws`);
  try {
    c.send({ type: 'subscribe', data: { channels: [`${p}.tick`] } });
    await c.next((m) => m.type === 'subscription_ack');
    const ms = await burst(t, `${p}.tick`);
    const last = await c.next((m) => m.channel === `${p}.tick` && (m.data as { i: number }).i === N);
    const got = c.messages.filter((m) => m.channel === `${p}.tick` && m.offset !== undefined);
    assert.ok(got.length <= bound(ms, 200) && got.length < N, `${got.length} deliveries in ${ms} ms at 200 ms`);
    assert.equal(last.offset, N);
    // History still holds every publication.
    c.send({ type: 'history', data: { channel: `${p}.tick`, limit: -1 } });
    const h = await c.next((m) => m.type === 'history');
    assert.equal((h.publications as unknown[]).length, N);
  } finally {
    c.close();
  }
}

const servers = namespaceServersForFile({ apiKey: KEY, namespaces: NAMESPACES, tmpPrefix: 'odin-cadence-' });

const ws = (http: string) => http.replace('http', 'ws');

test('centrifuge-js, memory broker: BTC.price@200ms beside BTC.price', async () => {
  await sdkScript({ publishUrl: servers.memory.url, wsUrl: ws(servers.memory.url) }, 'M');
});

test('centrifuge-js, JetStream: published through one node, the cadence name served by another', async () => {
  await sdkScript({ publishUrl: servers.nodes[0]!.url, wsUrl: ws(servers.nodes[1]!.url) }, `J${Date.now() % 1e6}`);
});

test('odin, memory broker and JetStream: conflationIntervalMs, history keeps all', async () => {
  await odinScript({ publishUrl: servers.memory.url, wsUrl: ws(servers.memory.url) }, 'M');
  await odinScript({ publishUrl: servers.nodes[0]!.url, wsUrl: ws(servers.nodes[1]!.url) }, `J${Date.now() % 1e6}`);
});
