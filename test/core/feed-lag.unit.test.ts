/**
 * Issue 22, part 5, feed staleness from ingest lag (core/feed-lag.ts and the hub's noteFeed /
 * setFeedStale), through the fake transport and the fake clock: an ingest further behind than the
 * threshold makes the channels it feeds stale for their Odin subscribers, and fresh once it has
 * caught up; with a namespace's own `staleAfterMs` the two sources make one state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { FeedLagWatch, type FeedStalenessSink } from '../../src/lib/core/feed-lag.js';
import { FakeClock } from '../testkit/fake-clock.js';
import type { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

type Msg = Record<string, unknown>;

const settle = () => new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setImmediate(r)));

async function ack(c: FakeConnection, data: Msg): Promise<void> {
  const n = c.messages().filter((m) => m.type === 'subscription_ack').length;
  c.send({ type: 'subscribe', data });
  await waitFor(() => c.messages().filter((m) => m.type === 'subscription_ack').length > n);
}

const notices = (c: FakeConnection) => c.messages().filter((m) => m.type === 'stale' || m.type === 'fresh');

/** A gateway with a watch over one feed, `nats`, whose lag the test sets. */
async function setup() {
  const clock = new FakeClock();
  const { gw, connect } = await startFakeGateway(
    {
      client: { writeDelayMs: 0 },
      namespaces: [{ name: 'stats', pattern: '[A-Z]+\\.stats', staleAfterMs: 5000 }, ...DEFAULT_NAMESPACES],
    },
    clock,
  );
  const feed = { lag: 0 };
  const watch = new FeedLagWatch(clock, 1000, [{ id: 'nats', lagMs: () => feed.lag }], gw.hub);
  watch.start();
  return { gw, clock, connect, feed, watch };
}

test('FeedLagWatch: stale past the threshold (since = when the oldest unsettled publication was handed over), fresh at half of it, checked every threshold/4', () => {
  const clock = new FakeClock();
  const told: [string, boolean, number][] = [];
  const sink: FeedStalenessSink = { setFeedStale: (f, s, since) => void told.push([f, s, since]) };
  const lags = { a: 0, b: 0 };
  const w = new FeedLagWatch(
    clock,
    1000,
    [
      { id: 'a', lagMs: () => lags.a },
      { id: 'b', lagMs: () => lags.b },
    ],
    sink,
  );
  assert.equal(w.checkIntervalMs, 250);
  assert.equal(new FeedLagWatch(clock, 40, [], sink).checkIntervalMs, 50);
  assert.equal(new FeedLagWatch(clock, 60_000, [], sink).checkIntervalMs, 1000);
  assert.throws(() => new FeedLagWatch(clock, 0, [], sink), RangeError);
  w.start();
  lags.a = 1000;
  clock.advance(250);
  assert.deepEqual(told, [], 'at the threshold: not yet');
  lags.a = 1001;
  clock.advance(250);
  assert.deepEqual(told, [['a', true, clock.now() - 1001]]);
  assert.equal(w.isStale('a'), true);
  // Between half and the whole threshold it stays stale (no flapping at the edge).
  lags.a = 700;
  clock.advance(1000);
  assert.equal(told.length, 1);
  lags.a = 500;
  clock.advance(250);
  assert.deepEqual(told[1], ['a', false, clock.now()]);
  assert.equal(told.length, 2);
  assert.equal(w.isStale('b'), false);
  w.stop();
  w.stop();
  lags.b = 5000;
  clock.advance(10_000);
  assert.equal(told.length, 2, 'no check after stop');
  assert.equal(clock.pending, 0);
});

test('ingest lag: the channels the feed published to go stale for Odin subscribers and fresh when it catches up; Centrifugo subscribers get no such push', async () => {
  const { gw, clock, connect, feed, watch } = await setup();
  const c = connect();
  const other = connect();
  const cent = connect('centrifuge');
  cent.send({ id: 1, connect: {} });
  await waitFor(() => cent.messages().some((m) => m.id === 1));
  cent.send({ id: 2, subscribe: { channel: 'BTC.trade' } });
  await waitFor(() => cent.messages().some((m) => m.id === 2));
  await ack(c, { channels: ['BTC.trade', 'ETH.trade'] });
  await ack(other, { channels: ['SOL.trade'] });
  // The feed publishes BTC.trade and ETH.trade; SOL.trade is published through the API only.
  gw.hub.noteFeed('nats', 'BTC.trade');
  gw.hub.noteFeed('nats', 'ETH.trade');
  gw.hub.noteFeed('nats', 'NOTHELD.trade');
  feed.lag = 1500;
  clock.advance(250);
  await settle();
  const since = clock.now() - 1500;
  assert.deepEqual(
    notices(c).sort((a, b) => String(a.channel).localeCompare(String(b.channel))),
    [
      { type: 'stale', channel: 'BTC.trade', since },
      { type: 'stale', channel: 'ETH.trade', since },
    ],
  );
  assert.deepEqual(notices(other), []);
  // Still behind: told once.
  feed.lag = 1800;
  clock.advance(1000);
  await settle();
  assert.equal(notices(c).length, 2);
  // A subscriber that comes while the feed is behind is told right after its ack.
  const late = connect();
  await ack(late, { channels: ['BTC.trade'] });
  await waitFor(() => notices(late).length === 1);
  assert.deepEqual(notices(late)[0], { type: 'stale', channel: 'BTC.trade', since });
  // A channel the feed starts feeding while it is behind goes stale at once.
  gw.hub.noteFeed('nats', 'SOL.trade');
  await settle();
  assert.deepEqual(notices(other), [{ type: 'stale', channel: 'SOL.trade', since }]);
  // Caught up.
  feed.lag = 0;
  clock.advance(250);
  await settle();
  assert.deepEqual(
    notices(c)
      .slice(2)
      .map((m) => [m.type, m.channel])
      .sort(),
    [
      ['fresh', 'BTC.trade'],
      ['fresh', 'ETH.trade'],
    ],
  );
  assert.deepEqual(notices(other).at(-1), { type: 'fresh', channel: 'SOL.trade' });
  assert.deepEqual(notices(late).at(-1), { type: 'fresh', channel: 'BTC.trade' });
  // The Centrifugo protocol has no push for it (docs/protocol.md): its subscriber got nothing.
  assert.equal(cent.messages().filter((m) => m.push !== undefined).length, 0);
  watch.stop();
  await gw.shutdown();
});

test('ingest lag and a quiet channel (staleAfterMs) make one state: one stale, one fresh when both have ended', async () => {
  const { gw, clock, connect, feed, watch } = await setup();
  const c = connect();
  await ack(c, { channels: ['BTC.stats'] });
  gw.hub.noteFeed('nats', 'BTC.stats');
  // Quiet first (5 s), then the feed falls behind too: one stale.
  clock.advance(5000);
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale'],
  );
  const quietSince = notices(c)[0]!.since;
  feed.lag = 2000;
  clock.advance(250);
  await settle();
  assert.equal(notices(c).length, 1);
  // A publication ends the quiet, but the feed is still behind: no fresh.
  await gw.api.publish({ channel: 'BTC.stats', data: '1' });
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale'],
  );
  // One stale period, one since: a late subscriber is told when it began.
  const late = connect();
  await ack(late, { channels: ['BTC.stats'] });
  await waitFor(() => notices(late).length === 1);
  assert.deepEqual(notices(late)[0], { type: 'stale', channel: 'BTC.stats', since: quietSince });
  feed.lag = 0;
  clock.advance(250);
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale', 'fresh'],
  );
  // The feed behind first, then quiet as well: still one stale; fresh once both end.
  feed.lag = 3000;
  clock.advance(250);
  await settle();
  clock.advance(5000);
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale', 'fresh', 'stale'],
  );
  feed.lag = 0;
  clock.advance(250);
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale', 'fresh', 'stale'],
    'still quiet',
  );
  await gw.api.publish({ channel: 'BTC.stats', data: '2' });
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale', 'fresh', 'stale', 'fresh'],
  );
  watch.stop();
  await gw.shutdown();
});

test('a channel forgets its feeds with its last subscriber: resubscribed, it is not stale until the feed publishes it again', async () => {
  const { gw, clock, connect, feed, watch } = await setup();
  const c = connect();
  await ack(c, { channels: ['BTC.trade'] });
  gw.hub.noteFeed('nats', 'BTC.trade');
  c.send({ type: 'unsubscribe', data: { channels: ['BTC.trade'] } });
  await waitFor(() => gw.hub.channelCount === 0);
  feed.lag = 5000;
  clock.advance(250);
  await ack(c, { channels: ['BTC.trade'] });
  await settle();
  assert.deepEqual(notices(c), []);
  gw.hub.noteFeed('nats', 'BTC.trade');
  await settle();
  assert.deepEqual(
    notices(c).map((m) => m.type),
    ['stale'],
  );
  watch.stop();
  await gw.shutdown();
});
