/**
 * Fossil delta (issue 22, part 4) with the official SDKs, unmodified: centrifuge-js (JSON and
 * protobuf, bytes on the wire measured with and without delta on an order book of 50 levels in
 * which one level changes per update), centrifuge-python and centrifuge-go (JSON and protobuf:
 * every payload arrives as published), on the memory broker and on JetStream across two nodes.
 * The Python driver also checks cache mode and the tags filter.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge as JsonCentrifuge, type PublicationContext, type SubscribedContext } from 'centrifuge';
import { Centrifuge as PbCentrifuge } from 'centrifuge/build/protobuf';
import WebSocket from 'ws';
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { namespaceServersForFile } from '../testkit/namespace-servers.js';
import { runGo, runPython } from '../testkit/compat-clients.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'delta-key';
const NAMESPACES: GatewayOptionsInput['namespaces'] = [
  { name: 'book', pattern: '[a-z0-9]*book:[a-z]+', allowedDeltaTypes: ['fossil'], allowTagsFilter: true },
  { name: 'state', pattern: '[a-z0-9]*state:[a-z]+', recoveryMode: 'cache', historySize: 1 },
  ...DEFAULT_NAMESPACES,
];
const N = 100;

interface Target {
  readonly publishUrl: string;
  readonly wsUrl: string;
}

/** An order book of 50 levels; update n moves one level (the same as the Python and Go drivers'). */
function book(n: number): Record<string, unknown> {
  const levels = Array.from({ length: 50 }, (_, i) => ({ price: (43000 + i * 0.5).toFixed(2), size: String(i === n % 50 ? n : i + 1) }));
  return { type: 'book', symbol: 'BTC', seq: n, bids: levels };
}

interface Run {
  readonly negotiated: boolean;
  readonly data: unknown[];
  /** Bytes of publication frames received (WebSocket payloads), all N. */
  readonly bytes: number;
}

/** N updates to a subscription with or without delta; counts the bytes of the frames that carried them. */
async function bookRun(t: Target, channel: string, protobuf: boolean, delta: boolean): Promise<Run> {
  let bytes = 0;
  let counting = false;
  class CountingSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      // Text frames arrive as Buffers; binary ones as ArrayBuffers (the SDK asks for them).
      this.on('message', (d: Buffer | ArrayBuffer) => {
        if (counting) bytes += d.byteLength;
      });
    }
  }
  const Centrifuge = protobuf ? PbCentrifuge : JsonCentrifuge;
  const c = new Centrifuge(`${t.wsUrl}/connection/websocket`, { websocket: CountingSocket });
  try {
    const data: unknown[] = [];
    let negotiated = false;
    const sub = c.newSubscription(channel, delta ? { delta: 'fossil' } : {});
    sub.on('publication', (ctx: PublicationContext) => data.push(ctx.data));
    sub.on('subscribed', (ctx: SubscribedContext) => {
      negotiated =
        (ctx as unknown as { delta?: boolean }).delta === true ||
        (sub as unknown as { _delta_negotiated?: boolean })._delta_negotiated === true;
    });
    sub.subscribe();
    c.connect();
    await sub.ready(5000);
    counting = true;
    for (let n = 1; n <= N; n++) await api(t.publishUrl, KEY, 'publish', { channel, data: book(n) });
    await waitFor(() => data.length === N, 10_000, `${N} publications`);
    counting = false;
    // Protobuf payloads arrive as bytes of the JSON text.
    const parsed = protobuf ? data.map((d) => JSON.parse(Buffer.from(d as Uint8Array).toString('utf8')) as unknown) : data;
    return { negotiated, data: parsed, bytes };
  } finally {
    c.disconnect();
  }
}

const EXPECTED = Array.from({ length: N }, (_, i) => book(i + 1));

// Centrifugo delta-encodes only with delta_publish (odin-ws: every publication of the namespace).
const servers = namespaceServersForFile({
  apiKey: KEY,
  namespaces: NAMESPACES,
  tmpPrefix: 'odin-delta-',
  centrifugoNamespace: { name: 'book', allowed_delta_types: ['fossil'], delta_publish: true },
});

const ws = (http: string) => http.replace('http', 'ws');

for (const protobuf of [false, true]) {
  const mode = protobuf ? 'protobuf' : 'json';
  test(`centrifuge-js (${mode}), beside Centrifugo v6.9.1: every payload rebuilt from patches; bytes per delivery with and without delta`, async (t: TestContext) => {
    const ratios: number[] = [];
    // The same channel names on both servers, so frames differ only by what each server puts in them.
    for (const [name, url] of [
      ['odin-ws', servers.memory.url],
      ['centrifugo', servers.centrifugo.url],
    ] as const) {
      const target = { publishUrl: url, wsUrl: ws(url) };
      const plain = await bookRun(target, `book:p${mode}`, protobuf, false);
      const delta = await bookRun(target, `book:d${mode}`, protobuf, true);
      assert.deepEqual(plain.data, EXPECTED, name);
      assert.deepEqual(delta.data, EXPECTED, name);
      assert.equal(delta.negotiated, true, name);
      const ratio = plain.bytes / delta.bytes;
      ratios.push(ratio);
      t.diagnostic(
        `${name} ${mode}: ${(plain.bytes / N).toFixed(0)} B per delivery without delta, ${(delta.bytes / N).toFixed(0)} B with (${ratio.toFixed(1)}× fewer)`,
      );
    }
    assert.ok(ratios[0]! >= 5, `delta must send at least 5× fewer bytes (got ${ratios[0]!.toFixed(2)}×)`);
    // Counted for operators: every patch and whole delivery of delta subscriptions.
    const metrics = await (await fetch(`${servers.memory.url}/metrics`)).text();
    const patches = Number(/^ws_delta_deliveries_total\{kind="patch"\} (\d+)/m.exec(metrics)?.[1]);
    assert.ok(patches >= N - 1, `ws_delta_deliveries_total{kind="patch"} ${patches}`);
  });
}

test('centrifuge-js (json), JetStream: published through one node, patched on another', async () => {
  const run = await bookRun(
    { publishUrl: servers.nodes[0]!.url, wsUrl: ws(servers.nodes[1]!.url) },
    `j${Date.now() % 1e6}book:btc`,
    false,
    true,
  );
  assert.deepEqual(run.data, EXPECTED);
});

for (const mode of ['json', 'protobuf'] as const) {
  test(`centrifuge-python (${mode}): delta, cache mode, tags filter`, async () => {
    const r = await runPython('state_client.py', [
      mode,
      `${ws(servers.memory.url)}/connection/websocket`,
      `${servers.memory.url}/api`,
      KEY,
      `py${mode}`,
    ]);
    assert.deepEqual([r.delta_negotiated, r.delta_equal, r.delta_received], [true, true, 30]);
    assert.deepEqual(r.cache, { subscribed: [{ was_recovering: true, recovered: true }], data: [{ v: 3 }], offsets: [3] });
    assert.deepEqual(r.filtered, [2, 4, 6]);
  });

  test(`centrifuge-go v0.10.10 (${mode}): delta, every payload byte for byte`, async () => {
    const r = await runGo([
      'delta',
      mode,
      `${ws(servers.memory.url)}/connection/websocket`,
      servers.memory.url,
      KEY,
      `go${mode}book:btc`,
      '30',
    ]);
    assert.deepEqual(r, { received: 30, equal: 30 });
  });
}
