import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { FakeConnection, FakeTransport } from '../testkit/fake-transport.js';
import { waitFor } from '../testkit/wait.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

async function setup(input: GatewayOptionsInput = {}) {
  const transport = new FakeTransport();
  const gw = new Gateway(resolveGatewayOptions(input), { broker: new MemoryBroker({ clock: systemClock }), transport, clock: systemClock });
  await gw.start();
  const connect = () => {
    const c = transport.connect(gw, {});
    if (!(c instanceof FakeConnection)) throw new Error(`rejected: ${c.reason}`);
    return c;
  };
  const fill = async (channel: string, n: number, size: number) => {
    let epoch = '';
    for (let i = 1; i <= n; i++) epoch = (await gw.api.publish({ channel, data: JSON.stringify({ i, pad: 'x'.repeat(size - 20) }) })).epoch;
    return epoch;
  };
  return { gw, connect, fill };
}

type Ack = { subscribed: string[]; errors?: { channel: string; code: number; message: string }[] };
const acks = (c: FakeConnection) => c.messages().filter((m) => m.type === 'subscription_ack') as unknown as Ack[];
const pushesOf = (c: FakeConnection, ch: string) => c.messages().filter((m) => m.channel === ch && m.type !== 'subscription_ack');

test('per connection: recovered bytes not yet sent are bounded; past the bound a recovery is refused with 111 and counted', async () => {
  const { gw, connect, fill } = await setup({ recovery: { maxBytesPerConnection: 200_000 } });
  const ex = await fill('X.trade', 150, 1000);
  const ey = await fill('Y.trade', 150, 1000);
  const c = connect();
  c.bufferedAmount = 512 * 1024; // the peer reads nothing for now (under maxQueueBytes, over a slice)
  c.send({ type: 'subscribe', data: { channels: ['X.trade'], positions: { 'X.trade': { offset: 0, epoch: ex } } } });
  await waitFor(() => acks(c).length === 1);
  assert.deepEqual(acks(c)[0]!.subscribed, ['X.trade']);
  c.send({ type: 'subscribe', data: { channels: ['Y.trade'], positions: { 'Y.trade': { offset: 0, epoch: ey } } } });
  await waitFor(() => gw.stats.recoveryRefusals.connection_limit === 1, 5000, 'refusal counted');
  assert.equal(pushesOf(c, 'X.trade').length, 0, 'paced: nothing written while the socket is full');
  assert.equal(c.closed, null, 'a burst is not the peer being slow');
  // The peer drains: the burst goes out in slices, in order, then the refusal (it waited behind).
  c.bufferedAmount = 0;
  await waitFor(() => pushesOf(c, 'X.trade').length === 150 && acks(c).length === 2, 5000, 'burst and refusal');
  assert.deepEqual(
    acks(c)[1]!.errors?.map((e) => [e.channel, e.code]),
    [['Y.trade', 111]],
  );
  assert.ok(c.writes > 2, `written in slices (${c.writes} writes)`);
  assert.deepEqual(
    pushesOf(c, 'X.trade').map((m) => m.offset),
    Array.from({ length: 150 }, (_, i) => i + 1),
  );
  c.send({ type: 'subscribe', data: { channels: ['Y.trade'], positions: { 'Y.trade': { offset: 0, epoch: ey } } } });
  await waitFor(() => acks(c).length === 3);
  assert.deepEqual(acks(c)[2]!.subscribed, ['Y.trade']);
  await gw.shutdown();
});

test('paced: live publications wait behind the burst, in order; a peer that stays full is still cut as slow (3008)', async () => {
  const { gw, connect, fill } = await setup({ maxQueueBytes: 64 * 1024 });
  const ep = await fill('Z.trade', 200, 1000);
  const c = connect();
  c.bufferedAmount = 32 * 1024;
  c.send({ type: 'subscribe', data: { channels: ['Z.trade'], positions: { 'Z.trade': { offset: 0, epoch: ep } } } });
  await waitFor(() => acks(c).length === 1, 5000, 'ack c');
  const ok = connect();
  ok.send({ type: 'subscribe', data: { channels: ['Z.trade'] } });
  await waitFor(() => acks(ok).length === 1);
  // Live traffic while the peer is full: counted against maxQueueBytes (64 KiB) → slow.
  for (let i = 0; i < 80; i++) {
    await gw.api.publish({ channel: 'Z.trade', data: JSON.stringify({ live: i, pad: 'y'.repeat(1000) }) });
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => c.closed !== null, 5000, 'c closed');
  assert.equal(c.closed!.code, 3008);
  await waitFor(() => pushesOf(ok, 'Z.trade').length === 80, 5000, 'ok 80');
  // A peer that drains gets recovered then live publications, in offset order.
  const d = connect();
  d.bufferedAmount = 32 * 1024;
  d.send({ type: 'subscribe', data: { channels: ['Z.trade'], positions: { 'Z.trade': { offset: 0, epoch: ep } } } });
  await waitFor(() => acks(d).length === 1, 5000, 'ack d');
  await gw.api.publish({ channel: 'Z.trade', data: '{"after":1}' });
  d.bufferedAmount = 0;
  await waitFor(() => pushesOf(d, 'Z.trade').length === 281, 5000, 'd 281');
  assert.deepEqual(
    pushesOf(d, 'Z.trade').map((m) => m.offset),
    Array.from({ length: 281 }, (_, i) => i + 1),
  );
  assert.equal(d.closed, null);
  await gw.shutdown();
});

test('recovery bounds are validated', () => {
  assert.throws(() => resolveGatewayOptions({ recovery: { maxBytesPerCommand: 10 } }), /recovery\.maxBytesPerCommand/);
  assert.throws(() => resolveGatewayOptions({ recovery: { anonymousShare: 2 } }), /recovery\.anonymousShare/);
  assert.throws(() => resolveGatewayOptions({ recovery: { bogus: 1 } as never }), /recovery/);
});
