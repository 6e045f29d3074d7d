/**
 * Tags filter (issue 22, part 2) with the official `centrifuge` JavaScript SDK, unmodified, in
 * JSON and protobuf: `tagsFilter` on a subscription gets only the publications that pass, live
 * and recovered after a reconnect; on the memory broker and on JetStream with two nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge as JsonCentrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import { Centrifuge as PbCentrifuge } from 'centrifuge/build/protobuf';
import WebSocket from 'ws';
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { namespaceServersForFile } from '../testkit/namespace-servers.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'filter-key';
const NAMESPACES: GatewayOptionsInput['namespaces'] = [
  { name: 'trades', pattern: 'trades:[A-Za-z0-9]+', allowTagsFilter: true },
  ...DEFAULT_NAMESPACES,
];

interface Target {
  readonly publishUrl: string;
  readonly wsUrl: string;
}

interface Observed {
  readonly subscribed: { wasRecovering: boolean; recovered: boolean }[];
  readonly offsets: number[];
  readonly unfiltered: number[];
}

/** Publications from..from+5: odd ones BTC, even ones ETH. */
async function publishMix(t: Target, channel: string, from: number): Promise<void> {
  for (let i = from; i < from + 6; i++) {
    await api(t.publishUrl, KEY, 'publish', { channel, data: { i }, tags: { ticker: i % 2 === 1 ? 'BTC' : 'ETH', size: String(i) } });
  }
}

/** The SDK script: a filtered and an unfiltered subscription; a reconnect in the middle. */
async function filterScript(t: Target, channel: string, protobuf: boolean): Promise<Observed> {
  const Centrifuge = protobuf ? PbCentrifuge : JsonCentrifuge;
  const opts = { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 100 };
  const c = new Centrifuge(`${t.wsUrl}/connection/websocket`, opts);
  const plain = new Centrifuge(`${t.wsUrl}/connection/websocket`, opts);
  const observed = { subscribed: [] as Observed['subscribed'], offsets: [] as number[], unfiltered: [] as number[] };
  try {
    const sub = c.newSubscription(channel, {
      tagsFilter: {
        op: 'or',
        nodes: [
          { key: 'ticker', cmp: 'eq', val: 'BTC' },
          { key: 'size', cmp: 'gte', val: '12' },
        ],
      },
    });
    sub.on('subscribed', (ctx: SubscribedContext) =>
      observed.subscribed.push({ wasRecovering: ctx.wasRecovering, recovered: ctx.recovered }),
    );
    sub.on('publication', (ctx: PublicationContext) => observed.offsets.push(Number(ctx.offset)));
    const all = plain.newSubscription(channel);
    all.on('publication', (ctx: PublicationContext) => observed.unfiltered.push(Number(ctx.offset)));
    sub.subscribe();
    all.subscribe();
    c.connect();
    plain.connect();
    await Promise.all([sub.ready(5000), all.ready(5000)]);
    await publishMix(t, channel, 1);
    await waitFor(() => observed.offsets.length === 3 && observed.unfiltered.length === 6, 5000, 'live publications');
    // Offline while 7..12 come: recovered from the SDK's last offset (5), filtered.
    c.disconnect();
    await publishMix(t, channel, 7);
    c.connect();
    await waitFor(
      () => observed.subscribed.length === 2 && observed.offsets.length === 7 && observed.unfiltered.length === 12,
      5000,
      'the recovery',
    );
    return observed;
  } finally {
    c.disconnect();
    plain.disconnect();
  }
}

const EXPECTED: Observed = {
  subscribed: [
    { wasRecovering: false, recovered: false },
    { wasRecovering: true, recovered: true },
  ],
  // BTC (odd), and size ≥ 12 (12).
  offsets: [1, 3, 5, 7, 9, 11, 12],
  unfiltered: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
};

const servers = namespaceServersForFile({
  apiKey: KEY,
  namespaces: NAMESPACES,
  tmpPrefix: 'odin-filter-',
  centrifugoNamespace: { name: 'trades', allow_tags_filter: true },
});

const ws = (http: string) => http.replace('http', 'ws');

for (const protobuf of [false, true]) {
  const mode = protobuf ? 'protobuf' : 'json';
  test(`centrifuge-js (${mode}), side by side: Centrifugo v6.9.1 (allow_tags_filter) gives the same publications`, async () => {
    assert.deepEqual(
      await filterScript({ publishUrl: servers.centrifugo.url, wsUrl: ws(servers.centrifugo.url) }, `trades:c${mode}`, protobuf),
      EXPECTED,
    );
  });
  test(`centrifuge-js (${mode}), memory broker: tagsFilter live and through a reconnect's recovery`, async () => {
    assert.deepEqual(
      await filterScript({ publishUrl: servers.memory.url, wsUrl: ws(servers.memory.url) }, `trades:m${mode}`, protobuf),
      EXPECTED,
    );
  });
  test(`centrifuge-js (${mode}), JetStream: published through one node, filtered on another`, async () => {
    const t = { publishUrl: servers.nodes[0]!.url, wsUrl: ws(servers.nodes[1]!.url) };
    assert.deepEqual(await filterScript(t, `trades:j${mode}${Date.now()}`, protobuf), EXPECTED);
  });
}
