import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { NatsIngest, compileRules, mapSubject, DEFAULT_INGEST_RULES } from '../../src/lib/ingest-nats/nats-ingest.js';
import { decodeChannel, encodeChannel } from '../../src/lib/broker-jetstream/subject.js';
import { odinEventType } from '../../src/lib/protocol/push.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { Recorder } from '../broker-conformance.js';

describe('subject mapping', () => {
  it('maps the Odin subjects to channels by the default rules', () => {
    const rules = compileRules(DEFAULT_INGEST_RULES);
    assert.equal(mapSubject(rules, 'odin.token.BTC.trade'), 'BTC.trade');
    assert.equal(mapSubject(rules, 'odin.market.statistics'), 'market.stats');
    assert.equal(mapSubject(rules, 'odin.token.BTC'), null);
    assert.equal(mapSubject(rules, 'odin.token.BTC.trade.extra'), null);
    assert.equal(mapSubject(rules, 'other.BTC.trade'), null);
  });

  it('supports custom rules with > and rejects templates naming missing wildcards', () => {
    const rules = compileRules([{ subject: 'feed.>', channel: 'f.$1' }]);
    assert.equal(mapSubject(rules, 'feed.a.b.c'), 'f.a.b.c');
    assert.equal(mapSubject(rules, 'feed'), null);
    assert.throws(() => compileRules([{ subject: 'a.*', channel: '$2' }]), /uses \$2/);
  });

  it('encodes channel tokens that are not subject-safe, reversibly', () => {
    assert.equal(encodeChannel('BTC.trade'), 'BTC.trade');
    for (const ch of ['a b.c', 'x.*.>', 'ü.~t', 'a..b', 'user:1.balances.u@x']) {
      const enc = encodeChannel(ch);
      assert.ok(!/[\s*>]/.test(enc) && !enc.split('.').includes(''), `safe: ${enc}`);
      assert.equal(decodeChannel(enc), ch);
    }
  });
});

describe('NatsIngest into JetStreamBroker', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    await nc?.close();
    await nats?.stop();
  });

  it('odin.token.{SYMBOL}.{event} becomes {SYMBOL}.{event}; two ingests dedupe by Nats-Msg-Id or event id; order kept', async () => {
    const broker = new JetStreamBroker({ servers: nats.url, stream: 'INGEST' });
    const rec = new Recorder();
    await broker.run(rec);
    stops.push(() => broker.close());
    const sym = 'S' + randomBytes(3).toString('hex');
    const ch = `${sym}.trade`;
    await broker.subscribe(ch);
    await broker.subscribe('market.stats');
    // Two gateway processes would each run an ingest on the same subjects.
    for (let i = 0; i < 2; i++) {
      const ing = new NatsIngest({ servers: nats.url, broker, clock: systemClock });
      await ing.start();
      stops.push(() => ing.stop());
    }
    const enc = new TextEncoder();
    for (let i = 0; i < 50; i++) {
      const body = enc.encode(JSON.stringify({ type: 'price:update', tokenId: sym, price: 100 + i, id: `${i}_${sym}` }));
      if (i % 2 === 0) {
        const h = headers();
        h.set('Nats-Msg-Id', `${sym}-${i}`);
        nc.publish(`odin.token.${sym}.trade`, body, { headers: h });
      } else {
        nc.publish(`odin.token.${sym}.trade`, body);
      }
    }
    nc.publish('odin.token.BAD', enc.encode('{}'));
    nc.publish(`odin.token.${sym}.trade`, enc.encode('not json'));
    nc.publish('odin.market.statistics', enc.encode(JSON.stringify({ type: 'market:stats', tokens: 5 })));
    await nc.flush();
    await rec.waitFor(() => rec.of(ch).length >= 50 && rec.of('market.stats').length >= 1, 10_000, '50 + 1 publications');
    const got = rec.of(ch);
    assert.deepEqual(
      got.map((p) => p.offset),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      got.map((p) => (JSON.parse(p.data) as { price: number }).price),
      Array.from({ length: 50 }, (_, i) => 100 + i),
    );
    // No tag added (issue 20: tags only when published); the Odin push reads the data's type.
    assert.equal(got[0]!.tags, undefined);
    assert.equal(odinEventType(got[0]!), 'price:update');
    const h = await broker.history(ch, { limit: 1000 });
    assert.equal(h.publications.length, 50, 'each message stored once despite two ingests');
  });
});
