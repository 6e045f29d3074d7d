/**
 * The NATS KV presence store (presence-kv.ts) on a real nats-server, through two brokers as
 * two nodes: the guarantees of core/presence.ts, channel names that are not KV-safe, and the
 * nats-server restarting (its memory bucket is gone: re-created, entries written again).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { BrokerError } from '../../src/lib/core/broker.js';
import { kvKeyOfChannel } from '../../src/lib/broker-jetstream/subject.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { waitFor } from '../testkit/wait.js';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Recorder } from '../broker-conformance.js';

const users = (r: Record<string, { user: string }>): string[] =>
  Object.values(r)
    .map((i) => i.user)
    .sort();

describe('KvPresence on a real nats-server', () => {
  let nats: NatsServerHandle;
  let x: JetStreamBroker;
  let y: JetStreamBroker;
  const stream = `PRES${randomBytes(3).toString('hex')}`;

  before(async () => {
    nats = await startNatsServer();
    const mk = (): JetStreamBroker =>
      new JetStreamBroker({ servers: nats.url, stream, presenceTtlMs: 2000, reconnectWaitMs: 50, requestTimeoutMs: 1000 });
    x = mk();
    y = mk();
    await x.run(new Recorder());
    await y.run(new Recorder());
  });
  after(async () => {
    await x?.close();
    await y?.close();
    await nats?.stop();
  });

  it('an entry added on one node is listed on the other at once; removed, it is gone at once', async () => {
    await x.presence.add('room.a', { client: 'c1', user: 'u1' });
    await y.presence.add('room.a', { client: 'c2', user: 'u1' });
    await y.presence.add('room.a', { client: 'c3', user: 'u2' });
    assert.deepEqual(users(await y.presence.get('room.a')), ['u1', 'u1', 'u2']);
    assert.deepEqual(await x.presence.stats('room.a'), { num_clients: 3, num_users: 2 });
    assert.deepEqual(await x.presence.get('room.a'), {
      c1: { client: 'c1', user: 'u1' },
      c2: { client: 'c2', user: 'u1' },
      c3: { client: 'c3', user: 'u2' },
    });
    await x.presence.remove('room.a', 'c1');
    assert.deepEqual(Object.keys(await y.presence.get('room.a')).sort(), ['c2', 'c3']);
    assert.deepEqual(await y.presence.get('room.empty'), {});
    assert.deepEqual(await y.presence.stats('room.empty'), { num_clients: 0, num_users: 0 });
  });

  it('operations on one key apply in call order (remove then add: present; add then remove: absent)', async () => {
    void x.presence.remove('room.o', 'k1');
    const a1 = x.presence.add('room.o', { client: 'k1', user: 'first' });
    const r1 = x.presence.remove('room.o', 'k1');
    const a2 = x.presence.add('room.o', { client: 'k1', user: 'again' });
    const a3 = x.presence.add('room.o', { client: 'k2', user: 'other' });
    const r3 = x.presence.remove('room.o', 'k2');
    await Promise.all([a1, r1, a2, a3, r3]);
    assert.deepEqual(await y.presence.get('room.o'), { k1: { client: 'k1', user: 'again' } });
  });

  it('queries racing with refreshes and with each other list exactly the live entries', async () => {
    await x.presence.add('room.race', { client: 'r1', user: 'a' });
    await y.presence.add('room.race', { client: 'r2', user: 'b' });
    await y.presence.add('room.race', { client: 'r3', user: 'c' });
    let stop = false;
    // Every entry rewritten every 100 ms on both nodes (the timer does it every TTL/3, at
    // least 333 ms apart): queries keep landing between a key's versions.
    const hammer = (async () => {
      while (!stop) {
        await Promise.all([x.presence.refresh(), y.presence.refresh()]);
        await new Promise<void>((r) => setTimeout(r, 100));
      }
    })();
    try {
      for (let i = 0; i < 100; i++) {
        const got = await Promise.all([x.presence.get('room.race'), y.presence.get('room.race')]);
        for (const r of got) assert.deepEqual(Object.keys(r).sort(), ['r1', 'r2', 'r3'], `query ${i}`);
      }
    } finally {
      stop = true;
      await hammer;
    }
  });

  it('channels that are not KV-safe get their own keys; wildcard characters match nothing else', async () => {
    const odd = ['a.*', 'a.>', 'a.b', 'a. b', 'ü.x', 'a:b.c', 'a..b', '=x.y', 'x.=y'];
    for (const [i, ch] of odd.entries()) await x.presence.add(ch, { client: `c${i}`, user: ch });
    for (const [i, ch] of odd.entries()) assert.deepEqual(await y.presence.get(ch), { [`c${i}`]: { client: `c${i}`, user: ch } }, ch);
    assert.equal(new Set(odd.map(kvKeyOfChannel)).size, odd.length);
    for (const k of odd.map(kvKeyOfChannel)) assert.match(k, /^[-/=.\w]+$/);
    assert.throws(() => kvKeyOfChannel(''), RangeError);
    assert.deepEqual(await y.presence.get('a'), {}, 'a prefix channel lists nothing of a.*');
  });

  it('entries are refreshed past the TTL while their node lives; a node closed without removing them has them expire', async () => {
    const z = new JetStreamBroker({ servers: nats.url, stream, presenceTtlMs: 2000 });
    await z.run(new Recorder());
    try {
      await z.presence.add('room.t', { client: 'live', user: 'u' });
      const until = Date.now() + 4500; // more than two TTLs
      while (Date.now() < until) {
        assert.deepEqual(Object.keys(await y.presence.get('room.t')), ['live']);
        await new Promise<void>((r) => setTimeout(r, 200));
      }
    } finally {
      await z.close();
    }
    const closedAt = Date.now();
    await waitFor(async () => Object.keys(await y.presence.get('room.t')).length === 0, 10_000, 'expiry', { everyMs: 50 });
    assert.ok(Date.now() - closedAt <= 2000 + 1500, `expired ${Date.now() - closedAt} ms after close (TTL 2000)`);
  });

  it('a gateway shutting down removes its clients from presence at once (not by the 60 s TTL)', async () => {
    // Its own stream and subjects (and so its own bucket, with the default TTL).
    const own = { servers: nats.url, stream: `PRESG${randomBytes(3).toString('hex')}`, subjectPrefix: 'presg' };
    const reader = new JetStreamBroker(own);
    await reader.run(new Recorder());
    const gw = await startGateway(
      { port: 0, host: '127.0.0.1', namespaces: [{ name: 'room', pattern: 'room\\..+', presence: true }] },
      { broker: new JetStreamBroker(own) },
    );
    const client = new Centrifuge(`${gw.url.replace('http', 'ws')}/connection/websocket`, { websocket: WebSocket });
    try {
      const sub = client.newSubscription('room.g');
      sub.subscribe();
      client.connect();
      await sub.ready(10_000);
      assert.equal(Object.keys(await reader.presence.get('room.g')).length, 1);
      await gw.close();
      assert.deepEqual(await reader.presence.get('room.g'), {});
    } finally {
      client.disconnect();
      await gw.close();
      await reader.close();
    }
  });

  it('nats-server restarts: the memory bucket is re-created and every live entry written again', async () => {
    await x.presence.add('room.r', { client: 'r1', user: 'ur' });
    await nats.kill();
    await assert.rejects(y.presence.get('room.r'), (e: unknown) => e instanceof BrokerError && e.code === 'unavailable');
    await nats.restart();
    await waitFor(
      async () => {
        try {
          return Object.keys(await y.presence.get('room.r')).join() === 'r1';
        } catch {
          return false;
        }
      },
      15_000,
      'r1 written again after the restart',
      { everyMs: 50 },
    );
  });
});
