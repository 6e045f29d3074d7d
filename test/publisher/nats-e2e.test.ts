/**
 * End to end: publisher → a real nats-server (started here) → a NATS subscriber that must
 * receive every published event on its Odin subject.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventSubject, type OdinEvent } from '../../src/lib/protocol/events.js';
import { startPublisher } from '../../src/lib/publisher/server.js';
import { DEFAULT_STREAM } from '../../src/lib/publisher/sinks/nats-sink.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { waitFor } from '../testkit/wait.js';
import { schemaFor } from './event-schemas.js';

interface Received {
  subject: string;
  event: OdinEvent;
}

function subscribeAll(nc: NatsConnection): Received[] {
  const got: Received[] = [];
  const decoder = new TextDecoder();
  nc.subscribe('odin.>', {
    callback: (err, msg) => {
      if (err === null) got.push({ subject: msg.subject, event: JSON.parse(decoder.decode(msg.data)) as OdinEvent });
    },
  });
  return got;
}

describe('publisher → core NATS', () => {
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

  it('every event arrives once, on the subject of its channel', async () => {
    const got = subscribeAll(nc);
    await nc.flush();
    const pub = await startPublisher({
      port: 0,
      host: '127.0.0.1',
      sink: { kind: 'nats', url: nats.url },
      messagesPerSecond: 800,
      duration: 1,
      statsIntervalMs: 300,
      autostart: true,
    });
    try {
      await pub.publisher.finished();
      const stats = pub.publisher.stats();
      await nc.flush(); // everything the server routed before this PONG has been dispatched
      assert.equal(stats.errors, 0);
      assert.ok(stats.messagesPublished >= 800, `published ${stats.messagesPublished}`);
      assert.equal(got.length, stats.messagesPublished);
      assert.equal(new Set(got.map((r) => r.event.id)).size, got.length);
      for (const r of got) {
        assert.equal(r.subject, eventSubject(r.event));
        assert.ok(schemaFor(r.event.type).safeParse(r.event).success, JSON.stringify(r.event));
      }
      assert.ok(got.some((r) => r.subject === 'odin.market.statistics'));
      assert.ok(got.some((r) => r.subject === 'odin.token.BTC.trade'));
      assert.ok(got.some((r) => /^odin\.token\.[A-Z]+\.balances\.user_\d{4}$/.test(r.subject)));
      const health = await fetch(`${pub.url}/health`);
      assert.equal(health.status, 200);
      const h = (await health.json()) as Record<string, unknown>;
      assert.equal(h['nats'], 'connected');
    } finally {
      await pub.close();
    }
  });

  it('health turns 503 when the NATS server goes away', async () => {
    const own = await startNatsServer();
    const pub = await startPublisher({ port: 0, host: '127.0.0.1', sink: { kind: 'nats', url: own.url } });
    try {
      assert.equal((await fetch(`${pub.url}/health`)).status, 200);
      await own.stop();
      await waitFor(() => !pub.sink.isConnected(), 5000, 'the sink to notice the server is gone');
      const res = await fetch(`${pub.url}/health`);
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as Record<string, unknown>)['nats'], 'disconnected');
    } finally {
      await pub.close();
      await own.stop();
    }
  });

  it('startPublisher fails clearly when NATS is unreachable', async () => {
    const own = await startNatsServer();
    const url = own.url;
    await own.stop();
    await assert.rejects(startPublisher({ port: 0, host: '127.0.0.1', sink: { kind: 'nats', url } }), /nats sink/);
  });
});

describe('publisher → JetStream', () => {
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

  it('stores every event once, with Nats-Msg-Id = event id', async () => {
    const got = subscribeAll(nc);
    await nc.flush();
    const pub = await startPublisher({
      port: 0,
      host: '127.0.0.1',
      sink: { kind: 'nats', url: nats.url, jetstream: true },
      messagesPerSecond: 300,
      duration: 1,
      autostart: true,
    });
    try {
      await pub.publisher.finished();
      const stats = pub.publisher.stats();
      assert.equal(stats.errors, 0);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(DEFAULT_STREAM);
      assert.equal(info.state.messages, stats.messagesPublished);
      await nc.flush();
      assert.equal(got.length, stats.messagesPublished);
      for (const r of got) assert.equal(r.subject, eventSubject(r.event));
      const first = got[0]!.event;
      const stored = await jsm.streams.getMessage(DEFAULT_STREAM, { seq: info.state.first_seq });
      assert.equal(stored?.header.get('Nats-Msg-Id'), first.id);
      // A retry with the same id is deduplicated by the stream.
      const { jetstream } = await import('@nats-io/jetstream');
      const ack = await jetstream(nc).publish(eventSubject(first), JSON.stringify(first), { msgID: first.id });
      assert.equal(ack.duplicate, true);
      assert.equal((await jsm.streams.info(DEFAULT_STREAM)).state.messages, stats.messagesPublished);
    } finally {
      await pub.close();
    }
  });
});
