import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_NAMESPACES, DEFAULT_WRITE_DELAY_MS, resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { FakeClock } from '../testkit/fake-clock.js';
import { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

// Time here is a FakeClock's: the tests step it (and waitFor moves it) instead of sleeping.
const clock = new FakeClock();
const until = (cond: () => boolean, what?: string) => waitFor(cond, 5000, what, { clock });

const PRICES = { name: 'prices', pattern: 'px\\.[A-Z]+', conflation: 'latest' as const, historySize: 100 };

async function setup(input: GatewayOptionsInput = {}) {
  const { gw, connect } = await startFakeGateway({ namespaces: [PRICES, ...DEFAULT_NAMESPACES], ...input }, clock);
  return { gw, connect };
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const ofChannel = (ch: string) => (m: Record<string, unknown>) => m.channel === ch && m.type !== 'subscription_ack';

async function subscribedOdin(connect: () => FakeConnection, channels: string[]): Promise<FakeConnection> {
  const c = connect();
  c.send({ type: 'subscribe', data: { channels } });
  await until(() => c.messages().some((m) => m.type === 'subscription_ack'));
  return c;
}

test('writeDelayMs 0: publications of separate loop turns go out in separate writes', async () => {
  const { gw, connect } = await setup({ client: { writeDelayMs: 0 } });
  const c = await subscribedOdin(connect, ['BTC.trade']);
  const before = c.writes;
  for (let i = 0; i < 3; i++) {
    await gw.api.publish({ channel: 'BTC.trade', data: String(i) });
    await turn();
    await turn();
  }
  await until(() => c.messages().filter(ofChannel('BTC.trade')).length === 3);
  assert.equal(c.writes - before, 3);
  await gw.shutdown();
});

test('writeDelayMs > 0: a quiet connection gets its frame at the end of the turn; what follows within the delay goes out in one write, in order', async () => {
  const { gw, connect } = await setup({ client: { writeDelayMs: 250 } });
  const c = await subscribedOdin(connect, ['BTC.trade']);
  // The ack was written in the current window: wait for the window to end, so the connection is quiet.
  clock.advance(300);
  const before = c.writes;
  await gw.api.publish({ channel: 'BTC.trade', data: '0' });
  await turn();
  await turn();
  assert.equal(c.writes - before, 1, 'the first frame of a quiet connection is not delayed');
  for (let i = 1; i < 4; i++) {
    await gw.api.publish({ channel: 'BTC.trade', data: String(i) });
    await turn();
  }
  assert.equal(c.writes - before, 1, 'frames after a write wait for the window to end');
  await until(() => c.messages().filter(ofChannel('BTC.trade')).length === 4);
  assert.equal(c.writes - before, 2);
  assert.deepEqual(
    c
      .messages()
      .filter(ofChannel('BTC.trade'))
      .map((m) => m.data),
    [0, 1, 2, 3],
  );
  await gw.shutdown();
});

test('writeDelayMs > 0: a hot connection is written at most once per delay; a quiet one beside it is not held back', async () => {
  const { gw, connect } = await setup({ client: { writeDelayMs: 100 } });
  const hot = await subscribedOdin(connect, ['BTC.trade']);
  const quiet = await subscribedOdin(connect, ['ETH.trade']);
  clock.advance(150);
  const hotBefore = hot.writes;
  const quietBefore = quiet.writes;
  const started = clock.now();
  // 40 publications over ~400 ms on the hot channel: at most one write per 100 ms window (+1 for the first).
  for (let sent = 0; sent < 40;) {
    clock.advance(10);
    void gw.api.publish({ channel: 'BTC.trade', data: String(sent++) });
    await turn();
  }
  // The quiet connection's one publication, sent while the hot one is mid-window, goes out in this turn.
  await gw.api.publish({ channel: 'ETH.trade', data: '1' });
  await turn();
  await turn();
  assert.equal(quiet.writes - quietBefore, 1, 'the quiet connection was written at once');
  await until(() => hot.messages().filter(ofChannel('BTC.trade')).length === 40);
  const windows = Math.ceil((clock.now() - started) / 100) + 1;
  assert.ok(hot.writes - hotBefore <= windows, `hot connection: ${hot.writes - hotBefore} writes in ${windows} windows`);
  assert.ok(hot.writes - hotBefore < 40, 'frames were coalesced');
  assert.deepEqual(
    hot
      .messages()
      .filter(ofChannel('BTC.trade'))
      .map((m) => m.data),
    Array.from({ length: 40 }, (_, i) => i),
  );
  await gw.shutdown();
});

test('writeDelayMs > 0: a reply is never held back; it takes the queued publications along, in order', async () => {
  const { gw, connect } = await setup({ client: { writeDelayMs: 1000 } });
  const c = await subscribedOdin(connect, ['BTC.trade']);
  await gw.api.publish({ channel: 'BTC.trade', data: '0' });
  await gw.api.publish({ channel: 'BTC.trade', data: '1' });
  await turn();
  await turn();
  // Written in this window: the next publication waits for the window's end (1 s)...
  const before = c.writes;
  await gw.api.publish({ channel: 'BTC.trade', data: '2' });
  await turn();
  assert.equal(c.writes, before);
  // ...but a command's reply goes out in this turn, with the publication queued before it.
  c.send({ type: 'ping' });
  for (let i = 0; i < 3; i++) await turn();
  assert.ok(
    c.messages().some((m) => m.type === 'pong'),
    'the reply went out within a few turns, not at the window end',
  );
  assert.equal(c.writes - before, 1);
  const order = c
    .messages()
    .map((m) => (m.type === 'pong' ? 'pong' : m.channel === 'BTC.trade' && m.type !== 'subscription_ack' ? m.data : null));
  assert.deepEqual(
    order.filter((x) => x !== null),
    [0, 1, 2, 'pong'],
  );
  await gw.shutdown();
});

test('writeDelayMs > 0: a hot connection whose queue fills a slice is written at once, not counted against maxQueueBytes as a slow peer', async () => {
  const { gw, connect } = await setup({ client: { writeDelayMs: 1000 }, maxQueueBytes: 64 * 1024 });
  const c = await subscribedOdin(connect, ['BTC.trade']);
  for (let i = 0; i < 80; i++) {
    await gw.api.publish({ channel: 'BTC.trade', data: JSON.stringify({ i, pad: 'y'.repeat(1000) }) });
    await turn();
  }
  await until(() => c.messages().filter(ofChannel('BTC.trade')).length === 80);
  assert.equal(c.closed, null, 'not cut as slow');
  assert.ok(c.writes > 2 && c.writes < 80, `coalesced into a few writes (${c.writes})`);
  await gw.shutdown();
});

test('writeDelayMs > 0 (default): where frames come further apart than the window, each is written in the turn it arrives, also one early after a late one', async () => {
  const { gw, connect } = await setup({});
  const c = await subscribedOdin(connect, ['BTC.trade']);
  clock.advance(100);
  // A feed of 25 a second: 4 frames 40 ms apart, then with jitter (gaps alternate 70 and 10 ms).
  // A window could merge nothing here; the frame 10 ms after a write must not wait for one.
  for (let i = 0; i < 24; i++) {
    clock.advance(i < 4 ? 40 : i % 2 === 0 ? 70 : 10);
    const before = c.writes;
    await gw.api.publish({ channel: 'BTC.trade', data: String(i) });
    await turn();
    await turn();
    assert.equal(c.writes - before, 1, `frame ${i} was written in its turn`);
    assert.equal(c.messages().filter(ofChannel('BTC.trade')).length, i + 1);
  }
  await gw.shutdown();
});

test('writeDelayMs > 0 (default): frames closer together than the window open it, and the window closes again when they slow down', async () => {
  const { gw, connect } = await setup({});
  const c = await subscribedOdin(connect, ['BTC.trade']);
  clock.advance(100);
  const before = c.writes;
  // 200 a second (5 ms apart) for 40 frames: merged, at most one write per 16 ms window (+1).
  for (let i = 0; i < 40; i++) {
    clock.advance(5);
    await gw.api.publish({ channel: 'BTC.trade', data: String(i) });
    await turn();
  }
  await until(() => c.messages().filter(ofChannel('BTC.trade')).length === 40);
  const fast = c.writes - before;
  assert.ok(fast <= Math.ceil((40 * 5) / DEFAULT_WRITE_DELAY_MS) + 1, `fast frames: ${fast} writes for 40`);
  // Then 20 a second (50 ms apart): after a few frames the average gap passes the window and
  // every frame goes out in its own turn again.
  let heldAfterSlowdown = 0;
  for (let i = 40; i < 60; i++) {
    clock.advance(50);
    const n = c.messages().filter(ofChannel('BTC.trade')).length;
    await gw.api.publish({ channel: 'BTC.trade', data: String(i) });
    await turn();
    await turn();
    if (c.messages().filter(ofChannel('BTC.trade')).length === n) heldAfterSlowdown = i - 40 + 1;
  }
  assert.ok(heldAfterSlowdown <= 5, `frames held after the slowdown: the last at ${heldAfterSlowdown}`);
  await until(() => c.messages().filter(ofChannel('BTC.trade')).length === 60);
  assert.deepEqual(
    c
      .messages()
      .filter(ofChannel('BTC.trade'))
      .map((m) => m.data),
    Array.from({ length: 60 }, (_, i) => i),
  );
  await gw.shutdown();
});

test('writeDelayMs > 0: a fan-out reads the clock once, not once per connection', async () => {
  class CountingClock extends FakeClock {
    reads = 0;
    override monotonic(): number {
      this.reads++;
      return super.monotonic();
    }
  }
  const counting = new CountingClock();
  const { gw, connect } = await startFakeGateway({ client: { writeDelayMs: 16 } }, counting);
  const conns: FakeConnection[] = [];
  for (let i = 0; i < 50; i++) {
    const c = connect();
    c.send({ type: 'subscribe', data: { channels: ['BTC.trade'] } });
    conns.push(c);
  }
  await waitFor(() => conns.every((c) => c.messages().some((m) => m.type === 'subscription_ack')), 5000, 'subscribed', {
    clock: counting,
  });
  counting.advance(100);
  for (let i = 0; i < 3; i++) await turn();
  const reads = counting.reads;
  await gw.api.publish({ channel: 'BTC.trade', data: '1' });
  await turn();
  await turn();
  assert.ok(
    conns.every((c) => c.messages().some(ofChannel('BTC.trade'))),
    'every connection got the publication in its turn',
  );
  assert.ok(counting.reads - reads <= 3, `clock reads for a fan-out to 50: ${counting.reads - reads}`);
  await gw.shutdown();
});

test('writeDelayMs is validated with its bounds', () => {
  assert.throws(() => resolveGatewayOptions({ client: { writeDelayMs: -1 } }), /client\.writeDelayMs/);
  assert.throws(() => resolveGatewayOptions({ client: { writeDelayMs: 5000 } }), /client\.writeDelayMs/);
  assert.equal(resolveGatewayOptions({}).client.writeDelayMs, DEFAULT_WRITE_DELAY_MS);
  assert.equal(resolveGatewayOptions({ client: { writeDelayMs: 0 } }).client.writeDelayMs, 0);
});

test('conflation latest: per channel, only the newest queued publication goes out (both protocols); other channels keep all', async () => {
  const { gw, connect } = await setup();
  const odin = await subscribedOdin(connect, ['px.BTC', 'px.ETH', 'BTC.trade']);
  const cent = connect({ protocol: 'centrifuge' });
  cent.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"px.BTC"}}');
  await until(() => cent.messages().some((m) => m.id === 2));
  const before = gw.stats.conflated;
  // One loop turn: five prices for BTC, two for ETH, three trades.
  const jobs = [];
  for (let i = 1; i <= 5; i++) jobs.push(gw.api.publish({ channel: 'px.BTC', data: String(i) }));
  for (let i = 1; i <= 2; i++) jobs.push(gw.api.publish({ channel: 'px.ETH', data: String(i) }));
  for (let i = 1; i <= 3; i++) jobs.push(gw.api.publish({ channel: 'BTC.trade', data: String(i) }));
  await Promise.all(jobs);
  await until(() => odin.messages().filter(ofChannel('BTC.trade')).length === 3);
  await until(() => cent.messages().some((m) => m.push !== undefined));
  const data = (ch: string) =>
    odin
      .messages()
      .filter(ofChannel(ch))
      .map((m) => [m.offset, m.data]);
  assert.deepEqual(data('px.BTC'), [[5, 5]]);
  assert.deepEqual(data('px.ETH'), [[2, 2]]);
  assert.deepEqual(data('BTC.trade'), [
    [1, 1],
    [2, 2],
    [3, 3],
  ]);
  const pushes = cent.messages().filter((m) => m.push !== undefined);
  assert.equal(pushes.length, 1);
  assert.deepEqual((pushes[0]!.push as { pub: unknown }).pub, { data: 5, offset: 5 });
  // Replaced: 4 + 1 for the Odin client, 4 for the Centrifugo one.
  assert.equal(gw.stats.conflated - before, 9);
  // The next window starts afresh.
  await gw.api.publish({ channel: 'px.BTC', data: '6' });
  await until(() => data('px.BTC').length === 2);
  assert.deepEqual(data('px.BTC')[1], [6, 6]);
  await gw.shutdown();
});

test('conflation is validated: none or latest', () => {
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ ...PRICES, conflation: 'sometimes' as 'latest' }] }),
    /namespaces\.0\.conflation/,
  );
});
