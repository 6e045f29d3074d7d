/**
 * Latest value on subscribe (issue 22, part 1) with unmodified clients: the official
 * `centrifuge` JavaScript SDK on a `recoveryMode: cache` namespace (a plain subscribe, `since: {}`,
 * an empty channel, a reconnect past what history keeps), and raw Odin clients (`"snapshot": true`,
 * `history`), on the memory broker and on JetStream with two gateway nodes sharing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import WebSocket from 'ws';
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { namespaceServersForFile } from '../testkit/namespace-servers.js';
import { api, TestClient, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'latest-key';
/** Centrifugo's namespace syntax (`state:BTC`), so the same client code runs against Centrifugo. */
const NAMESPACES: GatewayOptionsInput['namespaces'] = [
  { name: 'state', pattern: 'state:[A-Za-z0-9]+', recoveryMode: 'cache', historySize: 1 },
  ...DEFAULT_NAMESPACES,
];

/** Where the script publishes (server API) and where its clients connect: one node, or two sharing a broker. */
interface Target {
  readonly publishUrl: string;
  readonly wsUrl: string;
}

interface Observed {
  readonly subscribed: Record<string, { wasRecovering: boolean; recovered: boolean }[]>;
  readonly publications: Record<string, [number, unknown][]>;
}

/** The centrifuge-js script; returns what the SDK emitted per channel. `p` makes channel names unique per run. */
async function sdkScript(t: Target, p: string, btcPublications: number): Promise<Observed> {
  const subscribed: Observed['subscribed'] = {};
  const publications: Observed['publications'] = {};
  const publish = (ch: string, v: number) => api(t.publishUrl, KEY, 'publish', { channel: `state:${ch}${p}`, data: { v } });
  const c = new Centrifuge(`${t.wsUrl}/connection/websocket`, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 100 });
  const subscribe = (ch: string, opts: Record<string, unknown> = {}) => {
    const s = c.newSubscription(`state:${ch}${p}`, opts);
    subscribed[ch] = [];
    publications[ch] = [];
    s.on('subscribed', (ctx: SubscribedContext) => subscribed[ch]!.push({ wasRecovering: ctx.wasRecovering, recovered: ctx.recovered }));
    s.on('publication', (ctx: PublicationContext) => publications[ch]!.push([Number(ctx.offset), ctx.data]));
    s.subscribe();
    return s;
  };
  try {
    for (let v = 1; v <= 3; v++) await publish('BTC', v);
    await publish('SOL', 1);
    await publish('SOL', 2);
    c.connect();
    // A plain subscribe: the newest publication, emitted by the SDK as a publication.
    await subscribe('BTC').ready(5000);
    // An empty channel: not recovered, nothing; then live.
    await subscribe('ETH').ready(5000);
    // The documented way to ask for it (`since: {}`).
    await subscribe('SOL', { since: {} }).ready(5000);
    await waitFor(() => publications.BTC!.length === 1 && publications.SOL!.length === 1, 5000, 'the newest publications');
    await publish('ETH', 1);
    await waitFor(() => publications.ETH!.length === 1, 5000, 'a live publication');
    // Offline while two more come: where history keeps one (memory broker: the namespace's
    // historySize), the SDK's position (3) cannot be recovered and the newest (5) stands for
    // the state; where it keeps more (JetStream: the stream's per-channel limit), 4 and 5 are
    // recovered as in stream mode.
    c.disconnect();
    await publish('BTC', 4);
    await publish('BTC', 5);
    c.connect();
    await waitFor(
      () => Object.values(subscribed).every((s) => s.length === 2) && publications.BTC!.length === btcPublications,
      5000,
      'the resubscribes',
    );
    return { subscribed, publications };
  } finally {
    c.disconnect();
  }
}

const EXPECTED: Observed = {
  subscribed: {
    BTC: [
      { wasRecovering: true, recovered: true },
      { wasRecovering: true, recovered: true },
    ],
    // At the top after the reconnect: recovered, nothing resent.
    ETH: [
      { wasRecovering: true, recovered: false },
      { wasRecovering: true, recovered: true },
    ],
    SOL: [
      { wasRecovering: true, recovered: true },
      { wasRecovering: true, recovered: true },
    ],
  },
  publications: {
    BTC: [
      [3, { v: 3 }],
      [5, { v: 5 }],
    ],
    ETH: [[1, { v: 1 }]],
    SOL: [[2, { v: 2 }]],
  },
};

/** A raw Odin client: a watchlist subscribe with `"snapshot": true`, then `history`. */
async function odinScript(t: Target, p: string): Promise<void> {
  const ch = (s: string) => `${s}${p}.trade`;
  for (let v = 1; v <= 3; v++) await api(t.publishUrl, KEY, 'publish', { channel: ch('BTC'), data: { v } });
  await api(t.publishUrl, KEY, 'publish', { channel: ch('ETH'), data: { v: 1 } });
  const c = await TestClient.connect(`${t.wsUrl}/ws`);
  try {
    c.send({ type: 'subscribe', data: { channels: [ch('BTC'), ch('ETH'), ch('DOGE'), `state:ODIN${p}`], snapshot: true } });
    const ack = await c.next((m) => m.type === 'subscription_ack');
    const pos = ack.positions as Record<string, { recovered: boolean; publications: number }>;
    assert.deepEqual(
      [ch('BTC'), ch('ETH'), ch('DOGE')].map((x) => [pos[x]!.recovered, pos[x]!.publications]),
      [
        [true, 1],
        [true, 1],
        [false, 0],
      ],
    );
    const btc = await c.next((m) => m.channel === ch('BTC') && m.type === 'trade');
    const eth = await c.next((m) => m.channel === ch('ETH') && m.type === 'trade');
    assert.deepEqual([btc.offset, btc.data, eth.offset, eth.data], [3, { v: 3 }, 1, { v: 1 }]);
    c.send({ type: 'history', data: { channel: ch('BTC'), limit: -1, reverse: true } });
    const h = await c.next((m) => m.type === 'history');
    assert.deepEqual(
      (h.publications as Json[]).map((x) => x.offset),
      [3, 2, 1],
    );
    assert.equal(h.offset, 3);
    assert.equal(h.epoch, btc.epoch);
  } finally {
    c.close();
  }
}

// The same namespace in Centrifugo v6.9.1: cache recovery, forced for a plain subscribe too.
const servers = namespaceServersForFile({
  apiKey: KEY,
  namespaces: NAMESPACES,
  tmpPrefix: 'odin-latest-',
  centrifugoNamespace: { name: 'state', history_size: 1, force_recovery_mode: 'cache', auto_cache_recover: true },
});

const ws = (http: string) => http.replace('http', 'ws');

test('centrifuge-js, side by side: Centrifugo v6.9.1 (force_recovery_mode cache, auto_cache_recover) gives the same events', async () => {
  assert.deepEqual(await sdkScript({ publishUrl: servers.centrifugo.url, wsUrl: ws(servers.centrifugo.url) }, 'c', 2), EXPECTED);
});

test('centrifuge-js, memory broker: cache mode gives the newest publication on subscribe and after a reconnect past history', async () => {
  assert.deepEqual(await sdkScript({ publishUrl: servers.memory.url, wsUrl: ws(servers.memory.url) }, 'm', 2), EXPECTED);
});

test('centrifuge-js, JetStream: published through one node, subscribed on another; a recoverable position recovers', async () => {
  const got = await sdkScript({ publishUrl: servers.nodes[0]!.url, wsUrl: ws(servers.nodes[1]!.url) }, `j${Date.now()}`, 3);
  const btc: [number, unknown][] = [...EXPECTED.publications.BTC!.slice(0, 1), [4, { v: 4 }], [5, { v: 5 }]];
  assert.deepEqual(got, { ...EXPECTED, publications: { ...EXPECTED.publications, BTC: btc } });
});

test('odin, memory broker: a watchlist with "snapshot": true, then history', async () => {
  await odinScript({ publishUrl: servers.memory.url, wsUrl: ws(servers.memory.url) }, 'M');
});

test('odin, JetStream across nodes: a watchlist with "snapshot": true, then history', async () => {
  await odinScript({ publishUrl: servers.nodes[0]!.url, wsUrl: ws(servers.nodes[1]!.url) }, `J${Date.now() % 100000}`);
});
