/**
 * Cadence (issue 22, part 3) through the fake transport, the memory broker and a fake clock:
 * `conflationIntervalMs` and channel-name suffixes (`BTC.price@1s`) deliver at most the newest
 * publication per interval per subscriber, one frame per group, while history and recovery keep
 * every publication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CadenceGroup, parseCadenceSuffix, type CadenceMember } from '../../src/lib/core/cadence.js';
import { resolveSubscription, ChannelRules } from '../../src/lib/core/channels.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import type { Publication } from '../../src/lib/core/broker.js';
import { FakeClock } from '../testkit/fake-clock.js';
import { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

const NAMESPACES: GatewayOptionsInput['namespaces'] = [
  { name: 'ticks', pattern: '[A-Z]+\\.tick', conflationIntervalMs: 100 },
  { name: 'prices', pattern: '[A-Z]+\\.price', cadences: ['100ms', '1s'], allowTagsFilter: true },
  ...DEFAULT_NAMESPACES,
];

async function setup() {
  const clock = new FakeClock();
  const { gw, connect } = await startFakeGateway({ namespaces: NAMESPACES, client: { writeDelayMs: 0 } }, clock);
  return { gw, clock, connect };
}

type Msg = Record<string, unknown>;
const pushes = (c: FakeConnection, channel: string) => c.messages().filter((m) => m.channel === channel && typeof m.offset === 'number');
const offsets = (c: FakeConnection, channel: string) => pushes(c, channel).map((m) => m.offset);

async function subscribed(c: FakeConnection, data: Msg): Promise<Msg> {
  const before = c.messages().filter((m) => m.type === 'subscription_ack').length;
  c.send({ type: 'subscribe', data });
  await waitFor(() => c.messages().filter((m) => m.type === 'subscription_ack').length > before, 2000, 'ack');
  return c
    .messages()
    .filter((m) => m.type === 'subscription_ack')
    .at(-1)!;
}

/** Lets the memory broker's deliveries and the writers' end-of-turn flushes run. */
const settle = () => new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setImmediate(r)));

test('cadence suffix: parsed as <n>ms or <n>s up to 60 s; resolved only where the namespace lists it', () => {
  assert.deepEqual(parseCadenceSuffix('BTC.price@1s'), { source: 'BTC.price', suffix: '1s', intervalMs: 1000 });
  assert.deepEqual(parseCadenceSuffix('BTC.price@250ms'), { source: 'BTC.price', suffix: '250ms', intervalMs: 250 });
  for (const bad of ['BTC.price', 'BTC.price@', 'BTC.price@0s', 'BTC.price@01s', 'BTC.price@1m', 'BTC.price@61s', '@1s']) {
    assert.equal(parseCadenceSuffix(bad), null, bad);
  }
  const rules = new ChannelRules(resolveGatewayOptions({ namespaces: NAMESPACES }).namespaces);
  assert.deepEqual(
    { ...resolveSubscription(rules, 'BTC.price@1s')!, ns: undefined },
    { ns: undefined, source: 'BTC.price', intervalMs: 1000 },
  );
  assert.equal(resolveSubscription(rules, 'BTC.price@250ms'), null, 'not listed');
  assert.equal(resolveSubscription(rules, 'BTC.trade@1s'), null, 'namespace lists none');
  assert.equal(resolveSubscription(rules, 'BTC.tick')!.intervalMs, 100);
  // A user id with "@" is a channel as it stands, never split.
  assert.equal(resolveSubscription(rules, 'BTC.balances.bob@1s')!.source, 'BTC.balances.bob@1s');
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ name: 'x', pattern: 'x', cadences: ['1m'] }] }),
    /cadences\.0: a cadence is <n>ms or <n>s/,
  );
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ name: 'x', pattern: 'x', conflationIntervalMs: 60_001 }] }),
    /conflationIntervalMs/,
  );
});

test('CadenceGroup: the first at once, then the newest once per interval; never an older one over a newer', () => {
  const clock = new FakeClock();
  const sent: number[] = [];
  const g = new CadenceGroup<CadenceMember>('c', 100, '', clock, (_g, p) => sent.push(p.offset));
  const pub = (offset: number): Publication => ({ channel: 'c', offset, epoch: 'e', data: '1', time: 0 });
  g.offer(pub(1));
  assert.deepEqual(sent, [1]);
  g.offer(pub(2));
  g.offer(pub(3));
  g.offer(pub(2)); // an activating subscriber offers what it held back: 3 stays
  clock.advance(99);
  assert.deepEqual(sent, [1]);
  clock.advance(1);
  assert.deepEqual(sent, [1, 3]);
  clock.advance(500);
  g.offer(pub(4));
  assert.deepEqual(sent, [1, 3, 4]);
  g.offer(pub(5));
  g.close();
  clock.advance(1000);
  assert.deepEqual(sent, [1, 3, 4], 'closed: nothing more');
});

test('conflationIntervalMs: 20 publications in 1 s reach a subscriber as at most one per 100 ms, the newest; recovery keeps all', async () => {
  const { gw, clock, connect } = await setup();
  const c = connect();
  const other = connect('centrifuge');
  other.send({ id: 1, connect: {} });
  await waitFor(() => other.messages().some((m) => m.id === 1));
  other.send({ id: 2, subscribe: { channel: 'BTC.tick' } });
  await waitFor(() => other.messages().some((m) => m.id === 2));
  await subscribed(c, { channels: ['BTC.tick'] });
  for (let i = 1; i <= 20; i++) {
    await gw.api.publish({ channel: 'BTC.tick', data: String(i) });
    await settle();
    clock.advance(50);
  }
  clock.advance(100);
  await settle();
  // Publications at 0, 50, 100 … 950 ms: 1 at once, then at each 100 ms the newest waiting
  // (2 published at 50 ms goes at 100 ms; 3 at 100 ms waits, and 4 replaces it by 200 ms …).
  const got = offsets(c, 'BTC.tick') as number[];
  assert.deepEqual(got, [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
  // The Centrifugo subscriber in the same group got the same, each frame encoded once per protocol.
  const pushed = other
    .messages()
    .filter((m) => m.push !== undefined)
    .map((m) => (m.push as { pub: { offset: number } }).pub.offset);
  assert.deepEqual(pushed, got);
  // History and recovery hold every publication.
  const d = connect();
  const ack = await subscribed(d, {
    channels: ['BTC.tick'],
    positions: { 'BTC.tick': { offset: 0, epoch: pushes(c, 'BTC.tick')[0]!.epoch as string } },
  });
  assert.equal((ack.positions as Record<string, { publications: number }>)['BTC.tick']!.publications, 20);
  await waitFor(() => offsets(d, 'BTC.tick').length === 20);
  await gw.shutdown();
});

test('suffix cadence: BTC.price@1s beside BTC.price on one connection; pushes carry the name subscribed; filter and history apply', async () => {
  const { gw, clock, connect } = await setup();
  const c = connect();
  const ack = await subscribed(c, { channels: ['BTC.price', 'BTC.price@1s', 'BTC.price@5s'] });
  assert.deepEqual(ack.subscribed, ['BTC.price', 'BTC.price@1s']);
  assert.deepEqual(
    (ack.errors as Msg[]).map((e) => [e.channel, e.code]),
    [['BTC.price@5s', 102]],
  );
  const f = connect();
  await subscribed(f, { channels: ['BTC.price@100ms'], filter: { key: 'side', cmp: 'eq', val: 'buy' } });
  for (let i = 1; i <= 30; i++) {
    await gw.api.publish({ channel: 'BTC.price', data: String(i), tags: { side: i % 3 === 0 ? 'buy' : 'sell' } });
    await settle();
    clock.advance(100);
  }
  clock.advance(1000);
  await settle();
  assert.equal(offsets(c, 'BTC.price').length, 30);
  // Publications every 100 ms; once a second: 1 at once, then the newest at each second.
  assert.deepEqual(offsets(c, 'BTC.price@1s'), [1, 10, 20, 30]);
  // Every 100 ms, only what the filter passes.
  assert.deepEqual(offsets(f, 'BTC.price@100ms'), [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
  // The same epoch and offsets as the channel: a position from either recovers the other.
  assert.equal(pushes(c, 'BTC.price@1s')[0]!.epoch, pushes(c, 'BTC.price')[0]!.epoch);
  c.send({ type: 'history', data: { channel: 'BTC.price@1s', limit: 2, reverse: true } });
  await waitFor(() => c.messages().some((m) => m.type === 'history'));
  const h = c.messages().find((m) => m.type === 'history')!;
  assert.equal(h.channel, 'BTC.price@1s');
  assert.deepEqual(
    (h.publications as Msg[]).map((p) => [p.channel, p.offset]),
    [
      ['BTC.price@1s', 30],
      ['BTC.price@1s', 29],
    ],
  );
  // One broker subscription for the channel and its cadence names; released with the last.
  c.terminate();
  f.terminate();
  assert.equal(gw.hub.channelCount, 0);
  assert.deepEqual(gw.hub.membersOfSource('BTC.price'), []);
  await gw.shutdown();
});

test('suffix cadence, Centrifugo protocol: recovery from a position gives every missed publication, then at most one per interval', async () => {
  const { gw, clock, connect } = await setup();
  for (let i = 1; i <= 5; i++) await gw.api.publish({ channel: 'ETH.price', data: String(i) });
  const epoch = (await gw.api.history('ETH.price', { limit: 0 })).position.epoch;
  const c = connect('centrifuge');
  c.send({ id: 1, connect: {} });
  await waitFor(() => c.messages().some((m) => m.id === 1));
  c.send({ id: 2, subscribe: { channel: 'ETH.price@1s', recover: true, offset: 2, epoch } });
  await waitFor(() => c.messages().some((m) => m.id === 2));
  const sub = c.messages().find((m) => m.id === 2)!.subscribe as { recovered: boolean; publications: { offset: number }[] };
  assert.equal(sub.recovered, true);
  assert.deepEqual(
    sub.publications.map((p) => p.offset),
    [3, 4, 5],
  );
  for (let i = 6; i <= 8; i++) await gw.api.publish({ channel: 'ETH.price', data: String(i) });
  await settle();
  clock.advance(1000);
  await settle();
  const live = c
    .messages()
    .filter((m) => m.push !== undefined)
    .map((m) => m.push as { channel: string; pub: { offset: number } });
  assert.deepEqual(
    live.map((p) => [p.channel, p.pub.offset]),
    [
      ['ETH.price@1s', 6],
      ['ETH.price@1s', 8],
    ],
  );
  await gw.shutdown();
});
