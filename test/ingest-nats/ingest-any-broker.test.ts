/**
 * The Ingest seam (core/ingest.ts) with NATS on the memory broker: no JetStream needed;
 * dedup only by a real message id, never by payload content; bounded, counted, lag reported.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { IngestTracker } from '../../src/lib/core/ingest.js';
import { NatsIngest, messageId } from '../../src/lib/ingest-nats/nats-ingest.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { TestClient, type Json } from '../testkit/ws-client.js';
import { Recorder } from '../broker-conformance.js';
import { waitFor } from '../testkit/wait.js';
import { ISSUE_20_ROWS, jsonText } from '../testkit/json-text-arb.js';
import fc from 'fast-check';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { FakeClock } from '../testkit/fake-clock.js';

const enc = new TextEncoder();

describe('ingest dedup key', () => {
  it('is the Nats-Msg-Id, else the event id, else none (never the content)', () => {
    assert.equal(messageId('m-1', { id: 'e-1' }), 'm-1');
    assert.equal(messageId(undefined, { id: 'e-1' }), 'e-1');
    assert.equal(messageId('', { id: 'e-1' }), 'e-1');
    assert.equal(messageId(undefined, { price: 1 }), undefined);
    assert.equal(messageId(undefined, { id: 7 }), undefined);
    assert.equal(messageId(undefined, [1, 2]), undefined);
  });
});

describe('IngestTracker', () => {
  it('bounds the publications in flight, counts drops and failures, reports lag, resolves whenIdle', async () => {
    const clock = new FakeClock();
    const t = new IngestTracker(clock, 2);
    const resolvers: (() => void)[] = [];
    const errors: unknown[] = [];
    const hold = (): Promise<void> => new Promise<void>((r) => resolvers.push(r));
    assert.equal(
      t.track(hold, (e) => errors.push(e)),
      true,
    );
    assert.equal(
      t.track(
        () => Promise.reject(new Error('no')),
        (e) => errors.push(e),
      ),
      true,
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(t.counters.failed, 1);
    assert.equal(errors.length, 1);
    assert.equal(
      t.track(hold, (e) => errors.push(e)),
      true,
    );
    assert.equal(
      t.track(hold, (e) => errors.push(e)),
      false,
      'over the bound',
    );
    assert.equal(t.counters.dropped, 1);
    assert.equal(t.inFlight, 2);
    assert.ok(t.lagMs(clock.now() + 100) >= 100);
    const idle = t.whenIdle();
    for (const r of resolvers) r();
    await idle;
    assert.equal(t.inFlight, 0);
    assert.equal(t.lagMs(), 0);
    assert.equal(t.counters.published, 2);
  });

  it('rejects a bound that is not a positive integer', () => {
    assert.throws(() => new IngestTracker(new FakeClock(), 0), /positive integer/);
  });
});

describe('NatsIngest on the memory broker', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('delivers two byte-identical payloads as two publications; an id repeated is kept once', async () => {
    const broker = new MemoryBroker({ clock: systemClock });
    const rec = new Recorder();
    await broker.run(rec);
    const sym = 'S' + randomBytes(3).toString('hex');
    const ch = `${sym}.trade`;
    await broker.subscribe(ch);
    const ing = new NatsIngest({ servers: nats.url, broker, clock: systemClock });
    await ing.start();
    try {
      const body = enc.encode(JSON.stringify({ type: 'trade', price: 42, qty: 1 }));
      nc.publish(`odin.token.${sym}.trade`, body);
      nc.publish(`odin.token.${sym}.trade`, body);
      const h = headers();
      h.set('Nats-Msg-Id', `${sym}-x`);
      nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ type: 'trade', price: 43 })), { headers: h });
      nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ type: 'trade', price: 43 })), { headers: h });
      await nc.flush();
      await waitFor(() => ing.health().received === 4 && ing.health().inFlight === 0, 5000, 'four messages settled');
      const got = rec.of(ch);
      assert.deepEqual(
        got.map((p) => [p.offset, (JSON.parse(p.data) as { price: number }).price]),
        [
          [1, 42],
          [2, 42],
          [3, 43],
        ],
      );
      const hl = ing.health();
      assert.equal(hl.kind, 'nats');
      assert.equal(hl.running, true);
      assert.equal(hl.connected, true);
      assert.equal(hl.published, 4, 'the repeated id is accepted by the broker, which answers with the first position');
      assert.equal(hl.lagMs, 0);
    } finally {
      await ing.stop();
      await broker.close();
    }
    assert.equal(ing.health().running, false);
  });

  it('publishes the bytes that arrived (issue 20); drops what is not strict UTF-8 JSON within 64 levels', async () => {
    const broker = new MemoryBroker({ clock: systemClock });
    const rec = new Recorder();
    await broker.run(rec);
    const sym = 'B' + randomBytes(3).toString('hex');
    const ch = `${sym}.trade`;
    await broker.subscribe(ch);
    const ing = new NatsIngest({ servers: nats.url, broker, clock: systemClock });
    await ing.start();
    try {
      const good = [...ISSUE_20_ROWS, ' {"type" : "trade:new",\n "q":2.500E+3}\r\n'].map((t) => Buffer.from(t));
      const bad = [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), Buffer.from('['.repeat(65) + ']'.repeat(65)), Buffer.from('{"a":01}')];
      for (const b of [...good, ...bad]) nc.publish(`odin.token.${sym}.trade`, b);
      await nc.flush();
      const n = good.length + bad.length;
      await waitFor(() => ing.health().received === n && ing.health().inFlight === 0, 5000, 'every message settled');
      assert.deepEqual(
        rec.of(ch).map((p) => Buffer.from(p.data).toString('hex')),
        good.map((b) => b.toString('hex')),
      );
      assert.ok(
        rec.of(ch).every((p) => p.tags === undefined),
        'no tag added',
      );
      assert.equal(ing.health().dropped, bad.length);
    } finally {
      await ing.stop();
      await broker.close();
    }
  });

  it('any JSON text published on an Odin subject is stored and delivered byte-identical', async () => {
    const broker = new MemoryBroker({ clock: systemClock });
    const rec = new Recorder();
    await broker.run(rec);
    const sym = 'P' + randomBytes(3).toString('hex');
    const ch = `${sym}.trade`;
    await broker.subscribe(ch);
    const ing = new NatsIngest({ servers: nats.url, broker, clock: systemClock });
    await ing.start();
    try {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(jsonText, async (t) => {
          nc.publish(`odin.token.${sym}.trade`, enc.encode(t));
          n++;
          await waitFor(() => rec.of(ch).length === n, 5000, `publication ${n}`);
          assert.ok(Buffer.from(rec.of(ch)[n - 1]!.data).equals(Buffer.from(t)), JSON.stringify(t));
        }),
        { numRuns: 50 },
      );
    } finally {
      await ing.stop();
      await broker.close();
    }
  });
});

describe('gateway --broker memory --ingest nats', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let gw: GatewayProcess | undefined;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await gw?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('delivers the NATS feed to WebSocket clients without JetStream', async () => {
    gw = await startGatewayProcess({
      natsUrl: nats.url,
      apiKey: 'k',
      broker: 'memory',
      extraArgs: ['--ingest', 'nats', '--nats-url', nats.url],
    });
    const sym = 'S' + randomBytes(3).toString('hex');
    const c = await TestClient.connect(`${gw.wsUrl}/ws`);
    try {
      c.send({ type: 'subscribe', data: { channels: [`${sym}.trade`] } });
      await c.next((m: Json) => m['type'] === 'subscription_ack', 5000);
      const body = enc.encode(JSON.stringify({ type: 'trade', price: 7 }));
      nc.publish(`odin.token.${sym}.trade`, body);
      nc.publish(`odin.token.${sym}.trade`, body);
      await nc.flush();
      const got = await c.waitCount((m: Json) => JSON.stringify(m).includes('"price":7'), 2, 5000);
      assert.equal(got.length, 2, 'byte-identical payloads are two deliveries');
    } finally {
      c.close();
    }
  });
});
