import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import type { HistoryOptions, HistoryResult } from '../../src/lib/core/broker.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import { RecoverySlots, type SlotRelease } from '../../src/lib/core/recovery-slots.js';
import { suggestDelayMs, suggestRetryAfterSeconds } from '../../src/lib/core/reconnect-hint.js';
import { FakeConnection, FakeTransport } from '../testkit/fake-transport.js';
import { waitFor } from '../testkit/wait.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

test('slots: granted up to maxConcurrent, then queued first come first served, then refused; peak never above the cap', async () => {
  const slots = new RecoverySlots({ maxConcurrent: 2, maxWaiting: 2 });
  const a = slots.acquire();
  const b = slots.acquire();
  assert.equal(typeof a, 'function');
  assert.equal(typeof b, 'function');
  const order: string[] = [];
  const c = slots.acquire() as Promise<SlotRelease>;
  const d = slots.acquire() as Promise<SlotRelease>;
  assert.ok(c instanceof Promise && d instanceof Promise);
  void c.then(() => order.push('c'));
  void d.then(() => order.push('d'));
  assert.equal(slots.acquire(), null, 'queue full: refused at once');
  assert.equal(slots.waiting, 2);
  (a as SlotRelease)();
  (a as SlotRelease)(); // idempotent: frees one slot only
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['c']);
  assert.equal(slots.active, 2);
  (b as SlotRelease)();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['c', 'd']);
  (await c)();
  (await d)();
  assert.equal(slots.active, 0);
  assert.equal(slots.waiting, 0);
  assert.equal(slots.peak, 2);
});

test('reconnect hints: drawn from the window; Retry-After in whole seconds, at least 1', () => {
  const w = { minDelayMs: 500, maxDelayMs: 5000 };
  assert.equal(
    suggestDelayMs(w, () => 0),
    500,
  );
  assert.equal(
    suggestDelayMs(w, () => 1),
    5000,
  );
  assert.equal(
    suggestRetryAfterSeconds(w, () => 0),
    1,
  );
  assert.equal(
    suggestRetryAfterSeconds(w, () => 0.5),
    3,
  );
  assert.equal(suggestRetryAfterSeconds({ minDelayMs: 0, maxDelayMs: 0 }), 1);
  const seen = new Set(Array.from({ length: 50 }, () => suggestDelayMs(w)));
  assert.ok(seen.size > 10, 'jittered');
  for (const v of seen) assert.ok(v >= 500 && v <= 5000);
});

/** A memory broker whose history reads wait until the test lets them go (a busy broker). */
class HeldBroker extends MemoryBroker {
  held: (() => void)[] = [];
  reads = 0;
  override async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    if (opts.limit > 0) {
      this.reads++;
      await new Promise<void>((r) => this.held.push(r));
    }
    return super.history(channel, opts);
  }
  releaseAll(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }
}

async function setup(input: GatewayOptionsInput) {
  const broker = new HeldBroker({ clock: systemClock });
  const transport = new FakeTransport();
  const gw = new Gateway(resolveGatewayOptions(input), { broker, transport, clock: systemClock });
  await gw.start();
  const connect = (protocol: 'odin' | 'centrifuge' = 'odin') => {
    const c = transport.connect(gw, { protocol });
    if (!(c instanceof FakeConnection)) throw new Error(`rejected: ${c.reason}`);
    return c;
  };
  return { gw, broker, connect };
}

type Ack = {
  subscribed: string[];
  positions: Record<string, { recovered?: boolean; publications?: number }>;
  errors?: { channel: string; code: number; message: string; temporary?: boolean; retry_after_ms?: number }[];
};
const acks = (c: FakeConnection) => c.messages().filter((m) => m.type === 'subscription_ack') as unknown as Ack[];

test('concurrent recoveries: at most maxConcurrent read history at once, maxWaiting wait, the rest get 111 temporary with a retry hint', async () => {
  const { gw, broker, connect } = await setup({
    recovery: { maxConcurrent: 2, maxWaiting: 3 },
    reconnect: { minDelayMs: 100, maxDelayMs: 900 },
  });
  let epoch = '';
  for (let i = 1; i <= 5; i++) epoch = (await gw.api.publish({ channel: 'BTC.trade', data: JSON.stringify({ i }) })).epoch;
  const clients = Array.from({ length: 8 }, () => connect());
  // Each asks for the two it missed (offsets 4 and 5).
  for (const c of clients)
    c.send({ type: 'subscribe', data: { channels: ['BTC.trade'], positions: { 'BTC.trade': { offset: 3, epoch } } } });
  await waitFor(() => acks(clients[7]!).length === 1 && acks(clients[5]!).length === 1, 5000, 'refusals answered');
  assert.equal(broker.reads, 2, 'only maxConcurrent reads reach the broker');
  assert.equal(gw.recoverySlots.active, 2);
  assert.equal(gw.recoverySlots.waiting, 3);
  assert.equal(gw.stats.recoveryRefusals.queue_full, 3);
  for (const c of clients.slice(5)) {
    const ack = acks(c)[0]!;
    assert.deepEqual(ack.subscribed, []);
    const e = ack.errors![0]!;
    assert.equal(e.channel, 'BTC.trade');
    assert.equal(e.code, 111);
    assert.equal(e.temporary, true);
    assert.ok(e.retry_after_ms! >= 100 && e.retry_after_ms! <= 900, `hint in the window: ${e.retry_after_ms}`);
  }
  // The broker answers: the queued ones run in turn, never more than 2 at once.
  while (gw.recoverySlots.active > 0) {
    broker.releaseAll();
    await new Promise((r) => setImmediate(r));
    assert.ok(gw.recoverySlots.active <= 2);
  }
  for (const c of clients.slice(0, 5)) {
    await waitFor(() => acks(c).length === 1);
    assert.equal(acks(c)[0]!.positions['BTC.trade']!.recovered, true);
    const pushes = c.messages().filter((m) => m.channel === 'BTC.trade' && m.type !== 'subscription_ack');
    assert.deepEqual(
      pushes.map((m) => m.offset),
      [4, 5],
    );
  }
  assert.equal(gw.recoverySlots.peak, 2);
  // A refused client retries (as told) and recovers.
  const late = clients[7]!;
  late.send({ type: 'subscribe', data: { channels: ['BTC.trade'], positions: { 'BTC.trade': { offset: 3, epoch } } } });
  await waitFor(() => broker.held.length === 1);
  broker.releaseAll();
  await waitFor(() => acks(late).length === 2);
  assert.equal(acks(late)[1]!.positions['BTC.trade']!.recovered, true);
  await gw.shutdown();
});

test('concurrent recoveries: a client that leaves while queued frees its place and reads nothing', async () => {
  const { gw, broker, connect } = await setup({ recovery: { maxConcurrent: 1, maxWaiting: 10 } });
  const { epoch } = await gw.api.publish({ channel: 'ETH.trade', data: '{"i":1}' });
  await gw.api.publish({ channel: 'ETH.trade', data: '{"i":2}' });
  const a = connect();
  const b = connect();
  for (const c of [a, b])
    c.send({ type: 'subscribe', data: { channels: ['ETH.trade'], positions: { 'ETH.trade': { offset: 1, epoch } } } });
  await waitFor(() => gw.recoverySlots.waiting === 1);
  b.close(1000, '');
  broker.releaseAll();
  await waitFor(() => acks(a).length === 1);
  await waitFor(() => gw.recoverySlots.active === 0);
  assert.equal(broker.reads, 1, 'the one who left never read');
  assert.equal(gw.stats.subscriptions, 1);
  await gw.shutdown();
});

test('Centrifugo: a recovery past the queue is refused 111 temporary, in its own shape (no extra fields); history reads take slots too', async () => {
  const { gw, broker, connect } = await setup({ recovery: { maxConcurrent: 1, maxWaiting: 0 } });
  const { epoch } = await gw.api.publish({ channel: 'SOL.trade', data: '{"i":1}' });
  await gw.api.publish({ channel: 'SOL.trade', data: '{"i":2}' });
  const a = connect('centrifuge');
  const b = connect('centrifuge');
  for (const c of [a, b]) c.send('{"id":1,"connect":{}}');
  await waitFor(() => a.messages().length === 1 && b.messages().length === 1);
  a.send({ id: 2, subscribe: { channel: 'SOL.trade', recover: true, offset: 1, epoch } });
  await waitFor(() => broker.held.length === 1);
  b.send({ id: 2, subscribe: { channel: 'SOL.trade', recover: true, offset: 1, epoch } });
  await waitFor(() => b.messages().length === 2);
  assert.deepEqual(b.messages()[1], {
    id: 2,
    error: { code: 111, message: 'too many recoveries in progress, retry later', temporary: true },
  });
  broker.releaseAll();
  await waitFor(() => a.messages().some((m) => m.id === 2));
  b.send({ id: 3, subscribe: { channel: 'SOL.trade' } });
  await waitFor(() => b.messages().some((m) => m.id === 3));
  a.send({ id: 3, history: { channel: 'SOL.trade', limit: 10 } });
  await waitFor(() => broker.held.length === 1);
  b.send({ id: 4, history: { channel: 'SOL.trade', limit: 10 } });
  await waitFor(() => b.messages().some((m) => m.id === 4));
  assert.deepEqual(
    b.messages().find((m) => m.id === 4),
    { id: 4, error: { code: 111, message: 'too many history reads in progress, retry later', temporary: true } },
  );
  broker.releaseAll();
  await waitFor(() => a.messages().some((m) => m.id === 3));
  assert.equal(gw.stats.recoveryRefusals.queue_full, 2);
  await gw.shutdown();
});

test('Odin: a disconnect that asks for a reconnect carries a jittered reconnect_delay_ms; a terminal one does not', async () => {
  const { gw, connect } = await setup({ reconnect: { minDelayMs: 1000, maxDelayMs: 3000 } });
  const clients = Array.from({ length: 20 }, () => connect());
  await gw.shutdown();
  const notices = clients.map((c) => c.messages().find((m) => m.type === 'disconnect')!);
  for (const n of notices) {
    assert.equal(n.code, 3001);
    assert.equal(n.reconnect, true);
    assert.ok((n.reconnect_delay_ms as number) >= 1000 && (n.reconnect_delay_ms as number) <= 3000);
  }
  assert.ok(new Set(notices.map((n) => n.reconnect_delay_ms)).size > 5, 'spread, not one value');
  const { gw: gw2, connect: connect2 } = await setup({});
  const c = connect2();
  gw2.api.disconnectClient(gw2.api.findClients({})[0]!.client);
  const n = c.messages().find((m) => m.type === 'disconnect')!;
  assert.equal(n.code, 3503);
  assert.equal(n.reconnect, false);
  assert.equal('reconnect_delay_ms' in n, false);
  await gw2.shutdown();
});

test('options: reconnect window and slots are validated', () => {
  assert.throws(() => resolveGatewayOptions({ reconnect: { minDelayMs: 5000, maxDelayMs: 100 } }), /reconnect\.minDelayMs/);
  assert.throws(() => resolveGatewayOptions({ recovery: { maxConcurrent: 0 } }), /recovery\.maxConcurrent/);
  assert.throws(() => resolveGatewayOptions({ reconnect: { bogus: 1 } as never }), /reconnect/);
});
