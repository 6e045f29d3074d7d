/**
 * Issue 22, part 5 ("beyond the peers"), Odin protocol, through the fake transport: `prev` in
 * pushes (conflation and filtering told apart from loss), channel heads in the heartbeat's pong,
 * and a watchlist's latest values in one write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { FakeClock } from '../testkit/fake-clock.js';
import { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

type Msg = Record<string, unknown>;

async function setup() {
  const clock = new FakeClock();
  const { gw, connect } = await startFakeGateway(
    {
      client: { writeDelayMs: 0 },
      namespaces: [
        { name: 'prices', pattern: '[A-Z]+\\.price', cadences: ['1s'], allowTagsFilter: true },
        { name: 'stats', pattern: '[A-Z]+\\.stats', staleAfterMs: 1000 },
        ...DEFAULT_NAMESPACES,
      ],
    },
    clock,
  );
  return { gw, clock, connect };
}

async function ack(c: FakeConnection, data: Msg): Promise<Msg> {
  const n = c.messages().filter((m) => m.type === 'subscription_ack').length;
  c.send({ type: 'subscribe', data });
  await waitFor(() => c.messages().filter((m) => m.type === 'subscription_ack').length > n);
  return c
    .messages()
    .filter((m) => m.type === 'subscription_ack')
    .at(-1)!;
}

const pushes = (c: FakeConnection, channel: string) => c.messages().filter((m) => m.channel === channel && typeof m.offset === 'number');
const settle = () => new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setImmediate(r)));

test('prev: each push names the offset this connection was last sent, from the ack on; gaps from a filter or a cadence keep the chain', async () => {
  const { gw, clock, connect } = await setup();
  await gw.api.publish({ channel: 'BTC.price', data: '0' });
  const all = connect();
  const filtered = connect();
  const slow = connect();
  const a = await ack(all, { channels: ['BTC.price'] });
  assert.equal((a.positions as Record<string, { offset: number }>)['BTC.price']!.offset, 1);
  await ack(filtered, { channels: ['BTC.price'], filter: { key: 'n', cmp: 'in', vals: ['3', '6'] } });
  await ack(slow, { channels: ['BTC.price@1s'] });
  for (let n = 2; n <= 7; n++) {
    await gw.api.publish({ channel: 'BTC.price', data: String(n), tags: { n: String(n) } });
    await settle();
    clock.advance(300);
  }
  clock.advance(1000);
  await settle();
  const chain = (c: FakeConnection, ch: string) => pushes(c, ch).map((m) => [m.prev, m.offset]);
  assert.deepEqual(chain(all, 'BTC.price'), [
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 5],
    [5, 6],
    [6, 7],
  ]);
  // A gap whose prev matches the last one received: filtered, not lost.
  assert.deepEqual(chain(filtered, 'BTC.price'), [
    [1, 3],
    [3, 6],
  ]);
  assert.deepEqual(chain(slow, 'BTC.price@1s'), [
    [1, 2],
    [2, 5],
    [5, 7],
  ]);
  // Recovered publications chain from the position the client sent.
  const epoch = pushes(all, 'BTC.price')[0]!.epoch as string;
  const back = connect();
  await ack(back, { channels: ['BTC.price'], positions: { 'BTC.price': { offset: 4, epoch } } });
  await waitFor(() => pushes(back, 'BTC.price').length === 3);
  assert.deepEqual(chain(back, 'BTC.price'), [
    [4, 5],
    [5, 6],
    [6, 7],
  ]);
  await gw.shutdown();
});

test('heads: the pong to a heartbeat carries the newest position of each subscribed channel with history', async () => {
  const { gw, connect } = await setup();
  const c = connect();
  c.send({ type: 'heartbeat' });
  await waitFor(() => c.messages().some((m) => m.type === 'pong'));
  // Nothing subscribed: the pong the original clients know.
  assert.deepEqual(Object.keys(c.messages().find((m) => m.type === 'pong')!), ['type', 'ts']);
  const top = await gw.api.publish({ channel: 'ETH.price', data: '1' });
  await ack(c, { channels: ['ETH.price', 'ETH.price@1s', 'SOL.price'], filter: { key: 'x', cmp: 'ex' } });
  // Filtered out here, so this connection never sees it: the head tells it there is one.
  const next = await gw.api.publish({ channel: 'ETH.price', data: '2' });
  await settle();
  c.send({ type: 'heartbeat' });
  await waitFor(() => c.messages().filter((m) => m.type === 'pong').length === 2);
  const pong = c.messages().filter((m) => m.type === 'pong')[1]!;
  const heads = pong.heads as Record<string, { offset: number; epoch: string }>;
  assert.deepEqual(heads['ETH.price'], { offset: 2, epoch: next.epoch });
  assert.deepEqual(heads['ETH.price@1s'], { offset: 2, epoch: top.epoch });
  assert.equal(heads['SOL.price']!.offset, 0);
  assert.equal(pushes(c, 'ETH.price').length, 0);
  await gw.shutdown();
});

test('watchlist: one subscribe with "snapshot": true — the ack and every latest value in one write', async () => {
  const { gw, connect } = await setup();
  const symbols = ['BTC', 'ETH', 'SOL', 'DOGE', 'ODIN'];
  for (const s of symbols) await gw.api.publish({ channel: `${s}.price`, data: JSON.stringify({ s }) });
  const c = connect();
  const before = c.writes;
  c.send({ type: 'subscribe', data: { channels: symbols.map((s) => `${s}.price`), snapshot: true } });
  await waitFor(() => c.messages().filter((m) => typeof m.offset === 'number').length === symbols.length);
  assert.equal(c.writes - before, 1);
  assert.equal(c.messages()[0]!.type, 'subscription_ack');
  assert.deepEqual(
    c
      .messages()
      .slice(1)
      .map((m) => (m.data as { s: string }).s),
    symbols,
  );
  await gw.shutdown();
});

test('staleness: no publication for staleAfterMs → stale; fresh before the next publication; late subscribers told at once', async () => {
  const { gw, clock, connect } = await setup();
  const c = connect();
  const cent = connect('centrifuge');
  cent.send({ id: 1, connect: {} });
  await waitFor(() => cent.messages().some((m) => m.id === 1));
  cent.send({ id: 2, subscribe: { channel: 'BTC.stats' } });
  await waitFor(() => cent.messages().some((m) => m.id === 2));
  await ack(c, { channels: ['BTC.stats'] });
  const notices = (x: FakeConnection) =>
    x.messages().filter((m) => m.type === 'stale' || m.type === 'fresh' || typeof m.offset === 'number');
  clock.advance(999);
  await settle();
  assert.deepEqual(notices(c), []);
  const since = clock.now() - 999;
  clock.advance(1);
  await settle();
  assert.deepEqual(notices(c), [{ type: 'stale', channel: 'BTC.stats', since }]);
  // A subscriber that comes while it is stale is told right after its ack.
  const late = connect();
  await ack(late, { channels: ['BTC.stats'] });
  await waitFor(() => notices(late).length === 1);
  assert.equal(notices(late)[0]!.type, 'stale');
  await gw.api.publish({ channel: 'BTC.stats', data: '1' });
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale', 'fresh', 'stats'],
  );
  // Publications keep it fresh; a quiet period again makes it stale again.
  clock.advance(600);
  await gw.api.publish({ channel: 'BTC.stats', data: '2' });
  clock.advance(600);
  await settle();
  assert.equal(notices(c).filter((m) => m.type === 'stale').length, 1);
  clock.advance(400);
  await settle();
  assert.equal(notices(c).filter((m) => m.type === 'stale').length, 2);
  // The Centrifugo protocol has no such push: its subscriber got the publications only.
  assert.equal(cent.messages().filter((m) => m.push !== undefined).length, 2);
  await gw.shutdown();
});
