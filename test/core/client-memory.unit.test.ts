/**
 * Issue 25, memory per connection: what a connection keeps once its subscriptions are active
 * (docs/performance.md "Memory per connection").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '../../src/lib/core/client.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import type { FakeConnection } from '../testkit/fake-transport.js';
import { startFakeGateway } from '../testkit/fake-gateway.js';
import { waitFor } from '../testkit/wait.js';

const clientOf = (c: FakeConnection): Client => c.handler as unknown as Client;

test('an active subscription keeps its channel, source, namespace and membership only — not the publications it recovered', async () => {
  const { gw, connect } = await startFakeGateway({}, systemClock);
  for (let i = 1; i <= 5; i++) await gw.api.publish({ channel: 'ETH.trade', data: String(i) });
  const epoch = (await gw.api.history('ETH.trade', { limit: 0 })).position.epoch;

  const odin = connect();
  odin.send({ type: 'subscribe', data: { channels: ['ETH.trade'], positions: { 'ETH.trade': { offset: 1, epoch } } } });
  await waitFor(() => odin.messages().filter((m) => m.type === 'trade').length === 4, 2000, 'the recovered pushes');

  const cf = connect({ protocol: 'centrifuge' });
  cf.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"ETH.trade","recover":true,"offset":1,"epoch":"${epoch}"}}`);
  await waitFor(() => cf.messages().some((m) => m.id === 2), 2000, 'the subscribe reply');
  const reply = cf.messages().find((m) => m.id === 2)!.subscribe as { publications: unknown[] };
  assert.equal(reply.publications.length, 4);

  for (const c of [odin, cf]) {
    const sub = clientOf(c).subs.get('ETH.trade');
    assert.ok(sub, 'subscribed');
    assert.deepEqual(Object.keys(sub).sort(), ['channel', 'membership', 'ns', 'source']);
    assert.equal(sub.channel, 'ETH.trade');
    assert.equal(sub.source, 'ETH.trade');
  }
  // Still live after the slimming.
  await gw.api.publish({ channel: 'ETH.trade', data: '6' });
  await waitFor(() => odin.messages().filter((m) => m.type === 'trade').length === 5, 2000, 'the live push (Odin)');
  await waitFor(() => cf.messages().some((m) => JSON.stringify(m).includes('"offset":6')), 2000, 'the live push (Centrifugo)');
  await gw.shutdown();
});

test('connections share one empty, frozen request-headers object when no proxy asks for headers', async () => {
  const { gw, connect } = await startFakeGateway({}, systemClock);
  const a = clientOf(connect());
  const b = clientOf(connect({ protocol: 'centrifuge' }));
  assert.equal(a.requestHeaders, b.requestHeaders);
  assert.deepEqual(a.requestHeaders, {});
  assert.ok(Object.isFrozen(a.requestHeaders));
  assert.notEqual(a.id, b.id);
  assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await gw.shutdown();
});
