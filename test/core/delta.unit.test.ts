/**
 * Fossil delta (issue 22, part 4) through the fake transport and the memory broker, JSON
 * protocol: negotiation, whole first publication, patches against the last publication each
 * connection received (across filters, cadence and recovery), one patch per base.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta } from 'fossil-delta';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { PubFrames } from '../../src/lib/core/push-frames.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions } from '../../src/lib/core/options.js';
import type { Publication } from '../../src/lib/core/broker.js';
import { FakeClock } from '../testkit/fake-clock.js';
import { FakeConnection, FakeTransport } from '../testkit/fake-transport.js';
import { waitFor } from '../testkit/wait.js';

type Msg = Record<string, unknown>;
interface Pub {
  data: unknown;
  offset: number;
  delta?: boolean;
  tags?: Record<string, string>;
}

async function setup() {
  const clock = new FakeClock();
  const transport = new FakeTransport();
  const broker = new MemoryBroker({ clock });
  const gw = new Gateway(
    resolveGatewayOptions({
      client: { writeDelayMs: 0 },
      namespaces: [
        { name: 'book', pattern: 'book:[a-z]+', allowedDeltaTypes: ['fossil'], allowTagsFilter: true, cadences: ['1s'] },
        ...DEFAULT_NAMESPACES,
      ],
    }),
    { broker, transport, clock },
  );
  await gw.start();
  return { gw, clock, transport };
}

async function client(gw: Gateway, transport: FakeTransport): Promise<FakeConnection> {
  const c = transport.connect(gw, { protocol: 'centrifuge' });
  if (!(c instanceof FakeConnection)) throw new Error('rejected');
  c.send({ id: 1, connect: {} });
  await waitFor(() => c.messages().some((m) => m.id === 1));
  return c;
}

async function subscribe(c: FakeConnection, id: number, params: Msg): Promise<Msg> {
  c.send({ id, subscribe: params });
  await waitFor(() => c.messages().some((m) => m.id === id), 2000, `reply ${id}`);
  return c.messages().find((m) => m.id === id)!;
}

/** An order book of 50 levels; `n` moves one level. */
function book(n: number): string {
  const levels = Array.from({ length: 50 }, (_, i) => ({
    price: (43000 + i * 0.5).toFixed(2),
    size: (i === n % 50 ? n : i + 1).toString(),
  }));
  return JSON.stringify({ type: 'book', symbol: 'BTC', seq: n, bids: levels });
}

/** What a delta SDK does: the payload of each publication, from whole strings and patches. */
function decode(pubs: Pub[], start: Uint8Array | null = null): { texts: string[]; patches: number } {
  let prev = start;
  let patches = 0;
  const texts: string[] = [];
  for (const p of pubs) {
    assert.equal(typeof p.data, 'string', 'a delta subscription gets every payload as a string');
    const bytes = Buffer.from(p.data as string, 'utf8');
    if (p.delta === true) {
      patches++;
      prev = applyDelta(prev!, new Uint8Array(bytes));
    } else prev = new Uint8Array(bytes);
    texts.push(Buffer.from(prev).toString('utf8'));
  }
  return { texts, patches };
}

const pushes = (c: FakeConnection, channel: string): Pub[] =>
  c
    .messages()
    .map((m) => m.push as { channel: string; pub?: Pub } | undefined)
    .filter((p) => p?.channel === channel && p.pub !== undefined)
    .map((p) => p!.pub!);

const settle = () => new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setImmediate(r)));

test('delta: negotiated where allowed; the first publication whole, later ones patches that rebuild each payload byte for byte', async () => {
  const { gw, transport } = await setup();
  const a = await client(gw, transport);
  const b = await client(gw, transport);
  const plain = await client(gw, transport);
  const elsewhere = await client(gw, transport);
  for (const c of [a, b]) assert.equal(((await subscribe(c, 2, { channel: 'book:btc', delta: 'fossil' })).subscribe as Msg).delta, true);
  assert.equal(((await subscribe(plain, 2, { channel: 'book:btc' })).subscribe as Msg).delta, undefined);
  // Asked where the namespace does not allow it: subscribed without delta, as Centrifugo does.
  assert.equal(((await subscribe(elsewhere, 2, { channel: 'BTC.trade', delta: 'fossil' })).subscribe as Msg).delta, undefined);
  const sent: string[] = [];
  for (let n = 1; n <= 20; n++) {
    sent.push(book(n));
    await gw.api.publish({ channel: 'book:btc', data: book(n) });
  }
  await waitFor(
    () => pushes(a, 'book:btc').length === 20 && pushes(b, 'book:btc').length === 20 && pushes(plain, 'book:btc').length === 20,
  );
  for (const c of [a, b]) {
    const { texts, patches } = decode(pushes(c, 'book:btc'));
    assert.deepEqual(texts, sent);
    assert.equal(patches, 19);
    assert.equal(pushes(c, 'book:btc')[0]!.delta, undefined);
  }
  // Both had the same base each time: the same patch bytes.
  assert.deepEqual(pushes(a, 'book:btc'), pushes(b, 'book:btc'));
  // The plain subscriber gets JSON as always.
  assert.deepEqual(
    pushes(plain, 'book:btc').map((p) => JSON.stringify(p.data)),
    sent,
  );
  // Measured: the patches are a fraction of the payloads.
  const patchBytes = pushes(a, 'book:btc')
    .slice(1)
    .reduce((s, p) => s + Buffer.byteLength(p.data as string), 0);
  const fullBytes = sent.slice(1).reduce((s, t) => s + Buffer.byteLength(t), 0);
  assert.ok(patchBytes * 5 < fullBytes, `patches ${patchBytes} B vs payloads ${fullBytes} B`);
  assert.equal(gw.stats.deltaPatches, 38);
  assert.equal(gw.stats.deltaFull, 2);
  await gw.shutdown();
});

test('delta: an unknown delta type closes the connection with 3501, as Centrifugo does', async () => {
  const { gw, transport } = await setup();
  const c = await client(gw, transport);
  c.send({ id: 2, subscribe: { channel: 'book:btc', delta: 'xdelta' } });
  await waitFor(() => c.closed !== null);
  assert.equal(c.closed!.code, 3501);
  await gw.shutdown();
});

test('delta: the base is the last publication this connection received — through a tags filter, a cadence and a recovery', async () => {
  const { gw, clock, transport } = await setup();
  const filtered = await client(gw, transport);
  const slow = await client(gw, transport);
  await subscribe(filtered, 2, { channel: 'book:btc', delta: 'fossil', tf: { key: 'side', cmp: 'eq', val: 'bid' } });
  await subscribe(slow, 2, { channel: 'book:btc@1s', delta: 'fossil' });
  const sent: string[] = [];
  for (let n = 1; n <= 12; n++) {
    sent.push(book(n));
    await gw.api.publish({ channel: 'book:btc', data: book(n), tags: { side: n % 3 === 0 ? 'bid' : 'ask' } });
    await settle();
    clock.advance(250);
  }
  clock.advance(1000);
  await settle();
  const f = decode(pushes(filtered, 'book:btc'));
  assert.deepEqual(
    f.texts,
    [3, 6, 9, 12].map((n) => sent[n - 1]),
  );
  assert.equal(f.patches, 3);
  const s = pushes(slow, 'book:btc@1s');
  const sd = decode(s);
  assert.deepEqual(
    s.map((p) => p.offset),
    [1, 4, 8, 12],
  );
  assert.deepEqual(
    sd.texts,
    [1, 4, 8, 12].map((n) => sent[n - 1]),
  );
  assert.equal(sd.patches, 3);
  // Recovery: the missed publications come whole (as strings) in the reply; the next live one is a patch against the last of them.
  const epoch = (await gw.api.history('book:btc', { limit: 0 })).position.epoch;
  const r = await client(gw, transport);
  const reply = (await subscribe(r, 2, { channel: 'book:btc', delta: 'fossil', recover: true, offset: 9, epoch })).subscribe as {
    delta: boolean;
    recovered: boolean;
    publications: Pub[];
  };
  assert.deepEqual([reply.delta, reply.recovered], [true, true]);
  assert.deepEqual(
    reply.publications.map((p) => [p.offset, p.delta ?? false, p.data]),
    [10, 11, 12].map((n) => [n, false, sent[n - 1]]),
  );
  await gw.api.publish({ channel: 'book:btc', data: book(13) });
  await waitFor(() => pushes(r, 'book:btc').length === 1);
  const live = pushes(r, 'book:btc')[0]!;
  assert.equal(live.delta, true);
  assert.deepEqual(decode([live], Buffer.from(sent[11]!)).texts, [book(13)]);
  await gw.shutdown();
});

test('delta: one patch per base — copies of the same base publication share it', () => {
  const pub = (offset: number, data: string): Publication => ({ channel: 'book:btc', offset, epoch: 'e', data, time: 0 });
  const f = new PubFrames(pub(3, book(3)));
  const fromLive = f.patchFrom(pub(2, book(2)));
  const fromHistory = f.patchFrom({ ...pub(2, book(2)) });
  assert.ok(fromLive !== null);
  assert.equal(fromHistory, fromLive);
  assert.notEqual(f.patchFrom(pub(1, book(1))), fromLive);
  // Not smaller than the payload: no patch (sent whole).
  assert.equal(new PubFrames(pub(2, '{"a":1}')).patchFrom(pub(1, '{"zzzzzzzz":"y"}')), null);
});
