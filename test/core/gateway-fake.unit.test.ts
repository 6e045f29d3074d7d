import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { FakeConnection, FakeTransport } from '../testkit/fake-transport.js';
import { waitFor } from '../testkit/wait.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import type { Clock } from '../../src/lib/core/clock.js';
import { FakeClock } from '../testkit/fake-clock.js';

/** `clock`: a FakeClock where a test is about deadlines (then it steps time instead of waiting). */
async function setup(input: GatewayOptionsInput = {}, clock: Clock = systemClock) {
  const transport = new FakeTransport();
  const broker = new MemoryBroker({ clock });
  const gw = new Gateway(resolveGatewayOptions({ ...input }), { broker, transport, clock });
  await gw.start();
  const connect = (info: Parameters<FakeTransport['connect']>[1] = {}) => {
    const c = transport.connect(gw, info);
    if (!(c instanceof FakeConnection)) throw new Error(`rejected: ${c.reason}`);
    return c;
  };
  return { gw, broker, transport, connect };
}

const byType = (t: string) => (m: Record<string, unknown>) => m.type === t;

async function nextMsg(c: FakeConnection, pred: (m: Record<string, unknown>) => boolean) {
  await waitFor(() => c.messages().some(pred), 2000, 'message');
  return c.messages().find(pred)!;
}

test('odin: welcome, subscribe ack with positions, pushes with offset and epoch, batching per flush', async () => {
  const { gw, connect } = await setup();
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['BTC.trade'] } });
  const ack = await nextMsg(c, byType('subscription_ack'));
  assert.deepEqual(ack.subscribed, ['BTC.trade']);
  assert.equal(ack.count, 1);
  const writesBefore = c.writes;
  const p = [];
  for (let i = 0; i < 5; i++)
    p.push(await gw.api.publish({ channel: 'BTC.trade', data: JSON.stringify({ type: 'trade:new', i }), tags: { type: 'trade:new' } }));
  await waitFor(() => c.messages().filter(byType('trade:new')).length === 5);
  const pushes = c.messages().filter(byType('trade:new'));
  assert.deepEqual(
    pushes.map((m) => m.offset),
    [1, 2, 3, 4, 5],
  );
  assert.equal(pushes[0]!.channel, 'BTC.trade');
  assert.equal(pushes[0]!.epoch, p[0]!.epoch);
  assert.deepEqual(
    pushes.map((m) => (m.data as { i: number }).i),
    [0, 1, 2, 3, 4],
  );
  // Five publications in one turn of the loop: one write.
  assert.equal(c.writes - writesBefore, 1);
  await gw.shutdown();
});

test('odin: heartbeat gets pong; unknown type and invalid JSON get coded errors and the connection stays', async () => {
  const { gw, connect } = await setup();
  const c = connect();
  c.send({ type: 'heartbeat' });
  const pong = await nextMsg(c, byType('pong'));
  assert.equal(typeof pong.ts, 'number');
  c.send({ type: 'dance' });
  c.send('{not json');
  c.send({ type: 'subscribe', data: { channels: 'BTC.trade' } });
  c.handler.onMessage(Buffer.from([1, 2, 3]), true);
  await waitFor(() => c.messages().filter(byType('error')).length === 4);
  assert.deepEqual(
    c
      .messages()
      .filter(byType('error'))
      .map((m) => m.code),
    [104, 107, 107, 107],
  );
  assert.equal(c.closed, null);
  await gw.shutdown();
});

test('odin: forbidden and unknown channels are refused per channel, others subscribed', async () => {
  const { gw, connect } = await setup();
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['BTC.trade', 'nope', 'BTC.balances.alice', 'BTC.trade'] } });
  const ack = await nextMsg(c, byType('subscription_ack'));
  assert.deepEqual(ack.subscribed, ['BTC.trade']);
  assert.deepEqual(
    (ack.errors as { channel: string; code: number }[]).map((e) => [e.channel, e.code]),
    [
      ['nope', 102],
      ['BTC.balances.alice', 103],
    ],
  );
  await gw.shutdown();
});

test('odin: reconnect with {offset, epoch} recovers exactly the missed publications, then live ones', async () => {
  const { gw, connect } = await setup();
  const a = connect();
  a.send({ type: 'subscribe', data: { channels: ['ETH.trade'] } });
  await nextMsg(a, byType('subscription_ack'));
  for (let i = 1; i <= 3; i++) await gw.api.publish({ channel: 'ETH.trade', data: String(i) });
  await waitFor(() => a.messages().filter(byType('trade')).length === 3);
  const last = a.messages().filter(byType('trade')).at(-1)!;
  a.terminate();
  for (let i = 4; i <= 7; i++) await gw.api.publish({ channel: 'ETH.trade', data: String(i) });
  const b = connect();
  b.send({ type: 'subscribe', data: { channels: ['ETH.trade'], positions: { 'ETH.trade': { offset: last.offset, epoch: last.epoch } } } });
  const ack = await nextMsg(b, byType('subscription_ack'));
  const pos = (ack.positions as Record<string, { recovered: boolean; publications: number; offset: number }>)['ETH.trade']!;
  assert.equal(pos.recovered, true);
  assert.equal(pos.publications, 4);
  assert.equal(pos.offset, 7);
  await gw.api.publish({ channel: 'ETH.trade', data: '8' });
  await waitFor(() => b.messages().filter(byType('trade')).length === 5);
  assert.deepEqual(
    b
      .messages()
      .filter(byType('trade'))
      .map((m) => m.data),
    [4, 5, 6, 7, 8],
  );
  // Wrong epoch: told plainly, nothing partial.
  const c = connect();
  c.send({ type: 'subscribe', data: { channels: ['ETH.trade'], positions: { 'ETH.trade': { offset: 2, epoch: 'stale' } } } });
  const ack2 = await nextMsg(c, byType('subscription_ack'));
  assert.equal((ack2.positions as Record<string, { recovered: boolean }>)['ETH.trade']!.recovered, false);
  await gw.api.publish({ channel: 'ETH.trade', data: '9' });
  await waitFor(() => c.messages().filter(byType('trade')).length === 1);
  assert.deepEqual(
    c
      .messages()
      .filter(byType('trade'))
      .map((m) => m.data),
    [9],
  );
  await gw.shutdown();
});

test('slow client: over the queue limit it is disconnected with 3008 and others keep receiving', async () => {
  const { gw, connect } = await setup({ maxQueueBytes: 4096 });
  const slow = connect();
  const fast = connect();
  for (const c of [slow, fast]) c.send({ type: 'subscribe', data: { channels: ['SOL.trade'] } });
  await nextMsg(slow, byType('subscription_ack'));
  await nextMsg(fast, byType('subscription_ack'));
  slow.bufferedAmount = 10_000; // the peer stopped reading
  await gw.api.publish({ channel: 'SOL.trade', data: '{"x":1}' });
  await waitFor(() => slow.closed !== null);
  assert.equal(slow.closed!.code, 3008);
  assert.equal(gw.stats.slowDisconnects, 1);
  await gw.api.publish({ channel: 'SOL.trade', data: '{"x":2}' });
  await waitFor(() => fast.messages().filter(byType('trade')).length === 2);
  await gw.shutdown();
});

test('command rate limit: over the burst a client gets 111 and stays connected', async () => {
  const { gw, connect } = await setup({ commandRatePerSecond: 1, commandBurst: 3 });
  const c = connect();
  for (let i = 0; i < 5; i++) c.send({ type: 'heartbeat' });
  await waitFor(() => c.messages().filter(byType('pong')).length + c.messages().filter(byType('error')).length === 5);
  assert.equal(c.messages().filter(byType('pong')).length, 3);
  assert.deepEqual(
    c
      .messages()
      .filter(byType('error'))
      .map((m) => m.code),
    [111, 111],
  );
  assert.equal(c.closed, null);
  await gw.shutdown();
});

test('limits at admission: max connections (503), per IP (429), origin allow-list (403), draining (503)', async () => {
  const { gw, transport, connect } = await setup({
    maxConnections: 2,
    maxConnectionsPerIp: 1,
    allowedOrigins: ['https://app.odin.fun'],
    allowMissingOrigin: false,
  });
  const a = connect({ ip: '10.0.0.1', origin: 'https://app.odin.fun' });
  assert.deepEqual(transport.connect(gw, { ip: '10.0.0.1', origin: 'https://app.odin.fun' }), {
    rejected: 429,
    reason: 'too many connections from this address',
  });
  assert.equal((transport.connect(gw, { ip: '10.0.0.2', origin: 'https://app.odin.fun.evil.com' }) as { rejected: number }).rejected, 403);
  assert.equal(
    (transport.connect(gw, { ip: '10.0.0.2', origin: 'https://evil.com/https://app.odin.fun' }) as { rejected: number }).rejected,
    403,
  );
  assert.equal((transport.connect(gw, { ip: '10.0.0.2' }) as { rejected: number }).rejected, 403);
  connect({ ip: '10.0.0.2', origin: 'https://app.odin.fun' });
  assert.equal((transport.connect(gw, { ip: '10.0.0.3', origin: 'https://app.odin.fun' }) as { rejected: number }).rejected, 503);
  assert.equal(gw.stats.rejected.max_connections, 1);
  a.terminate();
  await gw.shutdown();
  assert.equal((transport.connect(gw, { ip: '10.0.0.3', origin: 'https://app.odin.fun' }) as { rejected: number }).rejected, 503);
});

test('churn: every gauge is back to exactly zero after many connections come and go', async () => {
  const { gw, connect } = await setup();
  const conns: FakeConnection[] = [];
  for (let i = 0; i < 200; i++) {
    const c = connect({ protocol: i % 2 === 0 ? 'odin' : 'centrifuge', ip: `10.0.${i % 7}.1` });
    if (i % 2 === 0) c.send({ type: 'subscribe', data: { channels: ['BTC.trade', `T${i % 13}.trade`] } });
    else {
      c.send({ id: 1, connect: {} });
      c.send({ id: 2, subscribe: { channel: 'BTC.trade' } });
    }
    conns.push(c);
  }
  await waitFor(() => gw.stats.subscriptions === 300, 5000, '300 subscriptions');
  assert.equal(gw.connectionCount, 200);
  conns.forEach((c, i) => (i % 3 === 0 ? c.terminate() : c.close(1000, '')));
  assert.equal(gw.connectionCount, 0);
  assert.equal(gw.stats.subscriptions, 0);
  assert.equal(gw.stats.connections.odin, 0);
  assert.equal(gw.stats.connections.centrifuge, 0);
  assert.equal(gw.hub.channelCount, 0);
  assert.deepEqual(gw.api.channels(), {});
  await gw.shutdown();
});

test('centrifuge: connect, subscribe with recovery, publish push, presence, unknown method', async () => {
  const { gw, connect } = await setup();
  for (let i = 1; i <= 4; i++) await gw.api.publish({ channel: 'DOGE.trade', data: JSON.stringify({ i }) });
  const c = connect({ protocol: 'centrifuge' });
  c.send({ id: 1, connect: {} });
  const first = await nextMsg(c, (m) => m.id === 1);
  const cr = first.connect as Record<string, unknown>;
  assert.equal(typeof cr.client, 'string');
  assert.equal(cr.pong, true);
  const epoch = (await gw.api.history('DOGE.trade', { limit: 0 })).position.epoch;
  c.send(
    `{"id":2,"subscribe":{"channel":"DOGE.trade","recover":true,"offset":2,"epoch":"${epoch}"}}\n{"id":3,"presence":{"channel":"DOGE.trade"}}\n{"id":4,"frobnicate":{}}`,
  );
  const sub = (await nextMsg(c, (m) => m.id === 2)).subscribe as Record<string, unknown>;
  assert.equal(sub.recovered, true);
  assert.equal(sub.was_recovering, true);
  assert.equal(sub.recoverable, true);
  // Recovered: the offset the client sent, as Centrifugo v6.9.1 answers (issue 20); the
  // recovered publications 3 and 4 carry it to the top.
  assert.equal(sub.offset, 2);
  assert.deepEqual(
    (sub.publications as { offset: number; data: { i: number } }[]).map((p) => [p.offset, p.data.i]),
    [
      [3, 3],
      [4, 4],
    ],
  );
  const presence = (await nextMsg(c, (m) => m.id === 3)).presence as { presence: Record<string, unknown> };
  assert.ok(presence.presence[cr.client as string]);
  assert.equal(((await nextMsg(c, (m) => m.id === 4)).error as { code: number }).code, 104);
  await gw.api.publish({ channel: 'DOGE.trade', data: '{"i":5}' });
  const push = (await nextMsg(c, (m) => m.push !== undefined)).push as { channel: string; pub: { offset: number; data: { i: number } } };
  assert.equal(push.channel, 'DOGE.trade');
  assert.deepEqual([push.pub.offset, push.pub.data.i], [5, 5]);
  await gw.shutdown();
});

test('centrifuge: command before connect and malformed JSON close with 3501; no connect in time closes with 3502', async () => {
  const clock = new FakeClock();
  const { gw, connect } = await setup({ handshakeTimeoutMs: 50 }, clock);
  const a = connect({ protocol: 'centrifuge' });
  a.send({ id: 1, subscribe: { channel: 'BTC.trade' } });
  assert.equal(a.closed?.code, 3501);
  const b = connect({ protocol: 'centrifuge' });
  b.send('{"id":1,');
  assert.equal(b.closed?.code, 3501);
  const c = connect({ protocol: 'centrifuge' });
  await waitFor(() => c.closed !== null, 2000, 'handshake timeout', { clock });
  assert.equal(c.closed!.code, 3502);
  assert.equal(gw.connectionCount, 0);
  await gw.shutdown();
});

test('pings: a peer that does not answer is removed within ping interval + pong timeout', async () => {
  const clock = new FakeClock();
  const { gw, connect } = await setup({ pingIntervalMs: 40, pongTimeoutMs: 20 }, clock);
  const alive = connect({ protocol: 'centrifuge' });
  alive.send({ id: 1, connect: {} });
  const dead = connect();
  const odinAlive = connect();
  await waitFor(() => alive.messages().some((m) => m.id === 1), 5000, 'connected', { clock });
  // Answer pings for the live ones, every 5 ms.
  const answer = (): void => {
    alive.send({});
    odinAlive.handler.onPong();
    t = clock.setTimeout(answer, 5);
  };
  let t = clock.setTimeout(answer, 5);
  await waitFor(() => dead.closed !== null, 2000, 'dead peer removal', { clock });
  clock.clearTimeout(t);
  assert.equal(dead.closed!.code, 3012);
  assert.ok(dead.pings >= 1);
  assert.equal(alive.closed, null);
  assert.equal(odinAlive.closed, null);
  await gw.shutdown();
});

test('shutdown: clients told to reconnect with 3001, not ready, idempotent', async () => {
  const { gw, connect } = await setup();
  const a = connect();
  const b = connect({ protocol: 'centrifuge' });
  assert.equal(gw.isReady(), true);
  await Promise.all([gw.shutdown(), gw.shutdown()]);
  assert.equal(a.closed?.code, 3001);
  assert.equal(b.closed?.code, 3001);
  assert.equal(a.messages().find(byType('disconnect'))?.reconnect, true);
  assert.equal(gw.isReady(), false);
});

test('tags only when published; a namespace with typeTag derives `type` from the data; Odin reads the type from the data either way', async () => {
  const { gw, connect } = await setup({
    namespaces: [
      ...DEFAULT_NAMESPACES,
      { name: 'typed', pattern: 'typed\\.[a-z]+', publish: true, typeTag: true },
      { name: 'plain', pattern: 'plain\\.[a-z]+', publish: true },
    ],
  });
  const c = connect({ protocol: 'centrifuge' });
  c.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"typed.a"}}\n{"id":3,"subscribe":{"channel":"plain.a"}}');
  await nextMsg(c, (m) => m.id === 3);
  const o = connect();
  o.send({ type: 'subscribe', data: { channels: ['plain.a'] } });
  await nextMsg(o, byType('subscription_ack'));
  const pushOf = (ch: string) => (m: Record<string, unknown>) => (m.push as { channel?: string } | undefined)?.channel === ch;
  await gw.api.publish({ channel: 'plain.a', data: '{"type":"trade:new","p":1}' });
  const plain = (await nextMsg(c, pushOf('plain.a'))).push as { pub: Record<string, unknown> };
  assert.equal(plain.pub.tags, undefined);
  assert.equal((await nextMsg(o, (m) => m.channel === 'plain.a')).type, 'trade:new');
  await gw.api.publish({ channel: 'typed.a', data: '{"p":1,"type":"price:update"}' });
  const typed = (await nextMsg(c, pushOf('typed.a'))).push as { pub: Record<string, unknown> };
  assert.deepEqual(typed.pub.tags, { type: 'price:update' });
  // A published type tag wins; other published tags are kept.
  await gw.api.publish({ channel: 'typed.a', data: '{"type":"x"}', tags: { type: 'given', k: 'v' } });
  await waitFor(() => c.messages().filter(pushOf('typed.a')).length === 2, 2000, 'second push');
  const second = c.messages().filter(pushOf('typed.a'))[1]!.push as { pub: Record<string, unknown> };
  assert.deepEqual(second.pub.tags, { type: 'given', k: 'v' });
  await gw.shutdown();
});
