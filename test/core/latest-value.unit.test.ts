/**
 * Latest value on subscribe (issue 22, part 1), through the fake transport and the memory broker:
 * `recoveryMode: cache`, the Odin `"snapshot": true` option and the Odin `history` command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { decideLatest } from '../../src/lib/core/recovery.js';
import { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

const NAMESPACES: GatewayOptionsInput['namespaces'] = [
  { name: 'state', pattern: '[A-Z]+\\.price', recoveryMode: 'cache', historySize: 1 },
  { name: 'nohistory', pattern: '[A-Z]+\\.social', historySize: 0 },
  ...DEFAULT_NAMESPACES,
];

async function setup(input: GatewayOptionsInput = {}) {
  const { gw, connect } = await startFakeGateway({ namespaces: NAMESPACES, ...input }, systemClock);
  return { gw, connect };
}

type Msg = Record<string, unknown>;
const byType = (t: string) => (m: Msg) => m.type === t;

async function nextMsg(c: FakeConnection, pred: (m: Msg) => boolean): Promise<Msg> {
  await waitFor(() => c.messages().some(pred), 2000, 'message');
  return c.messages().find(pred)!;
}

async function publishN(gw: Gateway, channel: string, from: number, to: number): Promise<{ offset: number; epoch: string }> {
  let last = { offset: 0, epoch: '' };
  for (let i = from; i <= to; i++) last = await gw.api.publish({ channel, data: JSON.stringify({ v: i }) });
  return last;
}

const pushesOf = (c: FakeConnection, channel: string) =>
  c.messages().filter((m) => m.channel === channel && m.type !== 'history' && m.offset !== undefined);
const ackPosition = (ack: Msg, channel: string) =>
  (ack.positions as Record<string, { offset: number; recovered?: boolean; publications?: number }>)[channel]!;

test('decideLatest: the newest publication stands for the state; none kept is not recovered', () => {
  const pub = { channel: 'c', offset: 5, epoch: 'e', data: '1', time: 0 };
  const top = { offset: 5, epoch: 'e' };
  assert.deepEqual(decideLatest(null, { publications: [pub], position: top }), { recovered: true, publications: [pub] });
  // The client holds the newest already: recovered, nothing sent.
  assert.deepEqual(decideLatest({ offset: 5, epoch: 'e' }, { publications: [pub], position: top }), { recovered: true, publications: [] });
  // Another epoch: the newest is sent all the same (cache mode does not need continuity).
  assert.deepEqual(decideLatest({ offset: 5, epoch: 'old' }, { publications: [pub], position: top }), {
    recovered: true,
    publications: [pub],
  });
  assert.equal(decideLatest(null, { publications: [], position: { offset: 0, epoch: 'e' } }).recovered, false);
  // History expired (TTL) while the stream is at 5: nothing to stand for the state.
  assert.equal(decideLatest({ offset: 2, epoch: 'e' }, { publications: [], position: top }).recovered, false);
});

test('options: recoveryMode cache needs history and recovery', () => {
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ name: 'x', pattern: 'x', recoveryMode: 'cache', historySize: 0 }] }),
    /namespaces\.0\.recoveryMode: recoveryMode cache needs historySize >= 1 and recovery: true/,
  );
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ name: 'x', pattern: 'x', recoveryMode: 'cache', recovery: false }] }),
    /recoveryMode/,
  );
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ name: 'x', pattern: 'x', recoveryMode: 'latest' as 'cache' }] }),
    /recoveryMode/,
  );
});

test('odin, cache mode: a plain subscribe gets the newest publication right after the ack, then live ones', async () => {
  const { gw, connect } = await setup();
  await publishN(gw, 'BTC.price', 1, 3);
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['BTC.price'] } });
  const ack = await nextMsg(c, byType('subscription_ack'));
  assert.deepEqual(ackPosition(ack, 'BTC.price'), { ...ackPosition(ack, 'BTC.price'), offset: 3, recovered: true, publications: 1 });
  await waitFor(() => pushesOf(c, 'BTC.price').length === 1);
  await publishN(gw, 'BTC.price', 4, 4);
  await waitFor(() => pushesOf(c, 'BTC.price').length === 2);
  const msgs = c.messages();
  // The ack comes first, then the snapshot (offset 3), then the live one.
  assert.equal(msgs.findIndex(byType('subscription_ack')), 0);
  assert.deepEqual(
    pushesOf(c, 'BTC.price').map((m) => [m.offset, (m.data as { v: number }).v]),
    [
      [3, 3],
      [4, 4],
    ],
  );
  await gw.shutdown();
});

test('odin, cache mode: an empty channel is not recovered and sends nothing; an unrecoverable position gets the newest', async () => {
  const { gw, connect } = await setup();
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['ETH.price'] } });
  const ack = await nextMsg(c, byType('subscription_ack'));
  assert.equal(ackPosition(ack, 'ETH.price').recovered, false);
  assert.equal(ackPosition(ack, 'ETH.price').publications, 0);
  const top = await publishN(gw, 'ETH.price', 1, 4);
  await waitFor(() => pushesOf(c, 'ETH.price').length === 4);
  c.terminate();
  // historySize 1: from offset 1 the stream cannot be recovered (2..4 are gone): the newest stands in.
  await publishN(gw, 'ETH.price', 5, 6);
  const d = connect();
  d.send({ type: 'subscribe', data: { channels: ['ETH.price'], positions: { 'ETH.price': { offset: 1, epoch: top.epoch } } } });
  const ack2 = await nextMsg(d, byType('subscription_ack'));
  assert.equal(ackPosition(ack2, 'ETH.price').recovered, true);
  assert.equal(ackPosition(ack2, 'ETH.price').publications, 1);
  await waitFor(() => pushesOf(d, 'ETH.price').length === 1);
  assert.equal(pushesOf(d, 'ETH.price')[0]!.offset, 6);
  // At the top already: recovered, nothing resent.
  const e = connect();
  e.send({ type: 'subscribe', data: { channels: ['ETH.price'], positions: { 'ETH.price': { offset: 6, epoch: top.epoch } } } });
  const ack3 = await nextMsg(e, byType('subscription_ack'));
  assert.deepEqual([ackPosition(ack3, 'ETH.price').recovered, ackPosition(ack3, 'ETH.price').publications], [true, 0]);
  await gw.shutdown();
});

test('odin, cache mode: a recoverable position recovers every missed publication, as in stream mode', async () => {
  const { gw, connect } = await setup({
    namespaces: [{ name: 'state', pattern: '[A-Z]+\\.price', recoveryMode: 'cache', historySize: 10 }],
  });
  const top = await publishN(gw, 'SOL.price', 1, 5);
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['SOL.price'], positions: { 'SOL.price': { offset: 2, epoch: top.epoch } } } });
  const ack = await nextMsg(c, byType('subscription_ack'));
  assert.deepEqual([ackPosition(ack, 'SOL.price').recovered, ackPosition(ack, 'SOL.price').publications], [true, 3]);
  await waitFor(() => pushesOf(c, 'SOL.price').length === 3);
  assert.deepEqual(
    pushesOf(c, 'SOL.price').map((m) => m.offset),
    [3, 4, 5],
  );
  await gw.shutdown();
});

test('odin: "snapshot": true gives stream channels their newest publication (a watchlist in one command)', async () => {
  const { gw, connect } = await setup();
  await publishN(gw, 'BTC.trade', 1, 3);
  await publishN(gw, 'ETH.trade', 1, 2);
  const plain = connect();
  plain.send({ type: 'subscribe', data: { channels: ['BTC.trade'] } });
  const plainAck = await nextMsg(plain, byType('subscription_ack'));
  assert.equal(ackPosition(plainAck, 'BTC.trade').recovered, undefined);
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['BTC.trade', 'ETH.trade', 'DOGE.trade', 'X.social'], snapshot: true } });
  const ack = await nextMsg(c, byType('subscription_ack'));
  assert.deepEqual([ackPosition(ack, 'BTC.trade').recovered, ackPosition(ack, 'BTC.trade').publications], [true, 1]);
  assert.deepEqual([ackPosition(ack, 'ETH.trade').recovered, ackPosition(ack, 'ETH.trade').publications], [true, 1]);
  // Nothing published yet: nothing to show.
  assert.deepEqual([ackPosition(ack, 'DOGE.trade').recovered, ackPosition(ack, 'DOGE.trade').publications], [false, 0]);
  // No history kept: subscribed, no snapshot.
  assert.equal(ackPosition(ack, 'X.social').recovered, undefined);
  await waitFor(() => pushesOf(c, 'BTC.trade').length === 1 && pushesOf(c, 'ETH.trade').length === 1);
  assert.equal(pushesOf(c, 'BTC.trade')[0]!.offset, 3);
  assert.equal(pushesOf(c, 'ETH.trade')[0]!.offset, 2);
  assert.equal(pushesOf(plain, 'BTC.trade').length, 0);
  c.send({ type: 'subscribe', data: { channels: ['SOL.trade'], snapshot: 'yes' } });
  const err = await nextMsg(c, byType('error'));
  assert.equal(err.code, 107);
  await gw.shutdown();
});

test('odin: history command — limit, since, reverse; subscribed channels only; bad input is 107', async () => {
  const { gw, connect } = await setup();
  const top = await publishN(gw, 'BTC.trade', 1, 5);
  const c = connect();
  const history = async (data: unknown): Promise<Msg> => {
    const before = c.messages().length;
    c.send({ type: 'history', data });
    await waitFor(() => c.messages().length > before);
    return c.messages()[before]!;
  };
  const refused = await history({ channel: 'BTC.trade', limit: -1 });
  assert.deepEqual([refused.type, refused.code, refused.channel, refused.command], ['error', 103, 'BTC.trade', 'history']);
  c.send({ type: 'subscribe', data: { channels: ['BTC.trade', 'X.social'] } });
  await nextMsg(c, byType('subscription_ack'));
  const all = await history({ channel: 'BTC.trade', limit: -1 });
  assert.equal(all.type, 'history');
  assert.deepEqual([all.channel, all.offset, all.epoch], ['BTC.trade', 5, top.epoch]);
  const pubs = all.publications as Msg[];
  assert.deepEqual(
    pubs.map((p) => p.offset),
    [1, 2, 3, 4, 5],
  );
  // Each in the push envelope.
  assert.deepEqual(Object.keys(pubs[0]!), ['type', 'channel', 'offset', 'epoch', 'ts', 'data']);
  assert.deepEqual(pubs[0]!.data, { v: 1 });
  const positionOnly = await history({ channel: 'BTC.trade' });
  assert.deepEqual([positionOnly.offset, (positionOnly.publications as unknown[]).length], [5, 0]);
  const since = await history({ channel: 'BTC.trade', limit: 2, since: { offset: 2, epoch: top.epoch } });
  assert.deepEqual(
    (since.publications as Msg[]).map((p) => p.offset),
    [3, 4],
  );
  const newest = await history({ channel: 'BTC.trade', limit: 2, reverse: true });
  assert.deepEqual(
    (newest.publications as Msg[]).map((p) => p.offset),
    [5, 4],
  );
  assert.equal((await history({ channel: 'X.social', limit: 1 })).code, 108);
  for (const bad of [
    undefined,
    { limit: 1 },
    { channel: 'BTC.trade', limit: -2 },
    { channel: 'BTC.trade', limit: 1.5 },
    { channel: 'BTC.trade', reverse: 1 },
    { channel: 'BTC.trade', since: { offset: -1, epoch: '' } },
  ]) {
    const r = await history(bad);
    assert.deepEqual([r.type, r.code, r.command], ['error', 107, 'history'], JSON.stringify(bad));
  }
  assert.equal(c.closed, null);
  await gw.shutdown();
});

test('centrifuge, cache mode: a plain subscribe carries the newest publication; the reject-unrecovered flag does not apply', async () => {
  const { gw, connect } = await setup();
  await publishN(gw, 'DOGE.price', 1, 3);
  const c = connect({ protocol: 'centrifuge' });
  c.send({ id: 1, connect: {} });
  await nextMsg(c, (m) => m.id === 1);
  c.send({ id: 2, subscribe: { channel: 'DOGE.price' } });
  const sub = (await nextMsg(c, (m) => m.id === 2)).subscribe as Record<string, unknown>;
  assert.deepEqual([sub.recoverable, sub.was_recovering, sub.recovered, sub.offset], [true, true, true, 3]);
  assert.deepEqual(sub.publications, [{ data: { v: 3 }, offset: 3 }]);
  // `since: {}` (recover from nothing), with the get_state flag: still the newest, no 112.
  c.send({ id: 3, subscribe: { channel: 'SOL.price', recover: true, flag: 2 } });
  const empty = (await nextMsg(c, (m) => m.id === 3)).subscribe as Record<string, unknown>;
  // `recovered: false` is left out (a zero value), as Centrifugo does.
  assert.deepEqual([empty.was_recovering, empty.recovered, empty.publications], [true, undefined, undefined]);
  await gw.shutdown();
});
