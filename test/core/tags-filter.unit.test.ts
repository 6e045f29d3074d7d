/**
 * Tags filter (issue 22, part 2) through the fake transport and the memory broker: only what
 * passes reaches a subscriber, live, recovered and in cache mode; subscribers with the same
 * filter share one evaluation; a namespace without `allowTagsFilter` refuses filters with 107.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

async function setup() {
  const { gw, connect } = await startFakeGateway(
    {
      namespaces: [
        { name: 'trades', pattern: 'trades:[a-z]+', allowTagsFilter: true },
        { name: 'state', pattern: 'state:[a-z]+', allowTagsFilter: true, recoveryMode: 'cache', historySize: 10 },
        ...DEFAULT_NAMESPACES,
      ],
    },
    systemClock,
  );
  return { gw, connect: (protocol: 'odin' | 'centrifuge') => connect(protocol) };
}

type Msg = Record<string, unknown>;
const BTC = { key: 'ticker', cmp: 'eq', val: 'BTC' };
const BIG = { op: 'and', nodes: [BTC, { key: 'size', cmp: 'gte', val: '10' }] };

async function reply(c: FakeConnection, id: number): Promise<Msg> {
  await waitFor(() => c.messages().some((m) => m.id === id), 2000, `reply ${id}`);
  return c.messages().find((m) => m.id === id)!;
}

async function centrifuge(connect: (p: 'centrifuge') => FakeConnection): Promise<FakeConnection> {
  const c = connect('centrifuge');
  c.send({ id: 1, connect: {} });
  await reply(c, 1);
  return c;
}

const pushedOffsets = (c: FakeConnection, channel: string): number[] =>
  c
    .messages()
    .filter((m) => (m.push as { channel?: string; pub?: unknown } | undefined)?.channel === channel && (m.push as { pub?: unknown }).pub)
    .map((m) => (m.push as { pub: { offset: number } }).pub.offset);

/** Publications 1..6: BTC sizes 5, 20, 50 at 1, 3, 5; ETH at 2, 4, 6. */
async function publishMix(gw: Gateway, channel: string, from = 1): Promise<void> {
  for (let i = from; i < from + 6; i++) {
    const btc = i % 2 === 1;
    await gw.api.publish({
      channel,
      data: JSON.stringify({ i }),
      tags: { ticker: btc ? 'BTC' : 'ETH', size: String(btc ? [5, 20, 50][(i - from) / 2]! : 1) },
    });
  }
}

test('centrifuge: live publications reach only subscribers whose filter passes; one shared filter per distinct filter', async () => {
  const { gw, connect } = await setup();
  const btc = [await centrifuge(connect), await centrifuge(connect)];
  const big = await centrifuge(connect);
  const all = await centrifuge(connect);
  for (const c of btc) c.send({ id: 2, subscribe: { channel: 'trades:spot', tf: BTC } });
  // The same filter written another way: the same group.
  big.send({ id: 2, subscribe: { channel: 'trades:spot', tf: BIG } });
  all.send({ id: 2, subscribe: { channel: 'trades:spot' } });
  for (const c of [...btc, big, all]) assert.equal((await reply(c, 2)).error, undefined);
  const members = [...gw.hub.members('trades:spot')!.values()];
  assert.equal(members.length, 4);
  assert.equal(members[0]!.filter, members[1]!.filter, 'one SharedFilter for the two identical filters');
  assert.notEqual(members[0]!.filter, members[2]!.filter);
  assert.equal(members[3]!.filter, null);
  assert.equal(gw.hub.filterCount, 2);
  await publishMix(gw, 'trades:spot');
  await waitFor(() => pushedOffsets(all, 'trades:spot').length === 6);
  await waitFor(() => pushedOffsets(big, 'trades:spot').length === 2);
  for (const c of btc) assert.deepEqual(pushedOffsets(c, 'trades:spot'), [1, 3, 5]);
  assert.deepEqual(pushedOffsets(big, 'trades:spot'), [3, 5]);
  // Filters go with their last subscription.
  btc[0]!.send({ id: 3, unsubscribe: { channel: 'trades:spot' } });
  await reply(btc[0]!, 3);
  assert.equal(gw.hub.filterCount, 2);
  btc[1]!.terminate();
  big.terminate();
  assert.equal(gw.hub.filterCount, 0);
  await gw.shutdown();
});

test('centrifuge: recovery returns only what passes (recovered: true); cache mode gives the newest that passes', async () => {
  const { gw, connect } = await setup();
  await publishMix(gw, 'trades:spot');
  const epoch = (await gw.api.history('trades:spot', { limit: 0 })).position.epoch;
  const c = await centrifuge(connect);
  c.send({ id: 2, subscribe: { channel: 'trades:spot', tf: BTC, recover: true, offset: 1, epoch } });
  const sub = (await reply(c, 2)).subscribe as { recovered: boolean; offset: number; publications: { offset: number }[] };
  assert.equal(sub.recovered, true);
  // A recovered reply carries the position the client sent, as Centrifugo's.
  assert.equal(sub.offset, 1);
  assert.deepEqual(
    sub.publications.map((p) => p.offset),
    [3, 5],
  );
  await publishMix(gw, 'state:price');
  c.send({ id: 3, subscribe: { channel: 'state:price', tf: BTC } });
  const cached = (await reply(c, 3)).subscribe as { recovered: boolean; publications: { offset: number; data: unknown }[] };
  assert.equal(cached.recovered, true);
  assert.deepEqual(cached.publications, [{ data: { i: 5 }, offset: 5, tags: { ticker: 'BTC', size: '50' } }]);
  // Nothing passes: not recovered, nothing sent (Centrifugo's answer).
  c.send({ id: 4, subscribe: { channel: 'state:other', tf: BTC } });
  await gw.api.publish({ channel: 'state:other', data: '1', tags: { ticker: 'ETH' } });
  const none = (await reply(c, 4)).subscribe as { recovered?: boolean; publications?: unknown[] };
  // Not recovered: `recovered: false` is left out (a zero value), as Centrifugo does.
  assert.deepEqual([none.recovered, none.publications], [undefined, undefined]);
  // The history command returns what is kept, unfiltered, as Centrifugo's does.
  c.send({ id: 5, history: { channel: 'trades:spot', limit: -1 } });
  const h = (await reply(c, 5)).history as { publications: unknown[] };
  assert.equal(h.publications.length, 6);
  await gw.shutdown();
});

test('refused with 107 where the namespace does not allow filters, or the filter is malformed', async () => {
  const { gw, connect } = await setup();
  const c = await centrifuge(connect);
  c.send({ id: 2, subscribe: { channel: 'BTC.trade', tf: BTC } });
  assert.deepEqual(((await reply(c, 2)).error as { code: number }).code, 107);
  c.send({ id: 3, subscribe: { channel: 'trades:spot', tf: { op: 'and', nodes: [] } } });
  assert.deepEqual(((await reply(c, 3)).error as { code: number }).code, 107);
  // Not subscribed by either refusal.
  c.send({ id: 4, subscribe: { channel: 'BTC.trade' } });
  assert.equal((await reply(c, 4)).error, undefined);
  assert.equal(c.closed, null);

  const o = connect('odin');
  o.send({ type: 'subscribe', data: { channels: ['trades:spot', 'BTC.trade'], filter: BTC } });
  await waitFor(() => o.messages().some((m) => m.type === 'subscription_ack'));
  const ack = o.messages().find((m) => m.type === 'subscription_ack')!;
  assert.deepEqual(ack.subscribed, ['trades:spot']);
  assert.deepEqual(ack.errors, [{ channel: 'BTC.trade', code: 107, message: 'tags filter not allowed in this namespace' }]);
  o.send({ type: 'subscribe', data: { channels: ['trades:other'], filter: { key: 'ticker', cmp: 'gt' } } });
  await waitFor(() => o.messages().some((m) => m.type === 'error'));
  const err = o.messages().find((m) => m.type === 'error')!;
  assert.deepEqual([err.code, err.message], [107, '"data.filter": gt needs val and no vals']);
  await gw.shutdown();
});

test('odin: "filter" applies to live publications and to the snapshot', async () => {
  const { gw, connect } = await setup();
  await publishMix(gw, 'state:price');
  const o = connect('odin');
  o.send({ type: 'subscribe', data: { channels: ['state:price', 'trades:spot'], filter: BIG } });
  await waitFor(() => o.messages().some((m) => m.type === 'subscription_ack'));
  await publishMix(gw, 'trades:spot');
  await publishMix(gw, 'state:price', 7);
  const offsets = (ch: string) =>
    o
      .messages()
      .filter((m) => m.channel === ch && typeof m.offset === 'number')
      .map((m) => m.offset);
  await waitFor(() => offsets('state:price').length === 3 && offsets('trades:spot').length === 2);
  // The snapshot (5: the newest BTC of size ≥ 10), then live 9 and 11.
  assert.deepEqual(offsets('state:price'), [5, 9, 11]);
  assert.deepEqual(offsets('trades:spot'), [3, 5]);
  await gw.shutdown();
});
