/**
 * Faults on a real NATS: a 3-node cluster losing its stream leader mid-stream, and the only
 * nats-server of a gateway going down and coming back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import type { StreamPosition } from '../../src/lib/core/broker.js';
import { startNatsCluster, type NatsClusterHandle } from '../testkit/nats-cluster.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { callApi, startGatewayProcess, type GatewayProcess, apiOk, assertApiOk } from '../testkit/gateway-process.js';
import { waitFor } from '../testkit/wait.js';
import { Recorder } from '../broker-conformance.js';
import { SdkSubscriber } from '../testkit/sdk-subscriber.js';

const API_KEY = 'test-' + randomBytes(6).toString('hex');

describe('3-node NATS cluster, R3 stream: the stream leader is killed mid-stream', () => {
  let cluster: NatsClusterHandle;
  const brokers: JetStreamBroker[] = [];
  before(async () => {
    cluster = await startNatsCluster(3);
  });
  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await cluster?.stop();
  });

  it('publishing and delivery continue: 0 acknowledged lost, 0 duplicates, 0 silent gaps', async () => {
    const mk = (): JetStreamBroker => {
      const b = new JetStreamBroker({ servers: cluster.urls, stream: 'R3TEST', replicas: 3, publishTimeoutMs: 10_000 });
      brokers.push(b);
      return b;
    };
    const pubNode = mk();
    const subNode = mk();
    const rec = new Recorder();
    await pubNode.run(new Recorder());
    await subNode.run(rec);
    const ch = `R3${randomBytes(3).toString('hex')}.trade`;
    await subNode.subscribe(ch);

    const acked: StreamPosition[] = [];
    let failed = 0;
    const failures = new Set<string>();
    let stop = false;
    const RATE_MS = 5; // one publication every 5 ms (200/s) per publisher loop
    const publisher = (async () => {
      for (let i = 0; !stop; i++) {
        const t = Date.now();
        try {
          acked.push(await pubNode.publish(ch, JSON.stringify({ i })));
        } catch (err) {
          failed++;
          failures.add((err as Error).message);
        }
        const wait = RATE_MS - (Date.now() - t);
        if (wait > 0) await new Promise<void>((r) => setTimeout(r, wait));
      }
    })();

    await waitFor(() => acked.length >= 200, 20_000, '200 acked before the kill', { everyMs: 50 });
    const nc = await connect({ servers: cluster.urls });
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const leaderName = (await jsm.streams.info('R3TEST')).cluster?.leader;
    await nc.close();
    const leader = cluster.servers.find((s) => s.name === leaderName);
    assert.ok(leader, `stream leader ${String(leaderName)} found`);
    const ackedAtKill = acked.length;
    const killedAt = Date.now();
    await leader.kill();
    await waitFor(() => acked.length >= ackedAtKill + 400, 30_000, '400 more acked after the kill', { everyMs: 50 });
    stop = true;
    await publisher;
    const lastOffset = acked[acked.length - 1]!.offset;
    await rec.waitFor(() => rec.of(ch).length >= lastOffset, 30_000, `delivery up to ${lastOffset}`);

    const epochs = new Set(acked.map((p) => p.epoch));
    assert.equal(epochs.size, 1, 'one epoch: no history lost');
    const delivered = rec.of(ch).map((p) => p.offset);
    assert.deepEqual(
      delivered,
      Array.from({ length: delivered.length }, (_, i) => i + 1),
      'delivered 1..N once each, in order',
    );
    const deliveredSet = new Set(delivered);
    const lost = acked.filter((p) => !deliveredSet.has(p.offset));
    assert.equal(lost.length, 0, 'no acknowledged publication lost');
    assert.equal(new Set(acked.map((p) => p.offset)).size, acked.length, 'no offset acknowledged twice');
    assert.deepEqual(rec.resets, [], 'no stream reset reported');
    const hist = await subNode.history(ch, { limit: 100_000 });
    assert.deepEqual(
      hist.publications.map((p) => p.offset),
      delivered,
      'history equals delivery',
    );
    process.stdout.write(
      `# R3 leader kill: ${acked.length} acked (${acked.length - ackedAtKill} after kill at ${killedAt}), ${failed} publish calls failed (not acknowledged: ${[...failures].join('; ')}), ${delivered.length} delivered\n`,
    );
  });
});

describe('the only nats-server goes down and comes back', () => {
  let nats: NatsServerHandle;
  const gws: GatewayProcess[] = [];
  const clients: SdkSubscriber[] = [];
  before(async () => {
    nats = await startNatsServer();
    gws.push(...(await Promise.all([0, 1].map(() => startGatewayProcess({ natsUrl: nats.url, apiKey: API_KEY })))));
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(gws.map((g) => g.stop()));
    await nats?.stop();
  });

  it('API 503 (transport error mode; 108 in a 200 by default) within 5 s, /ready 503, gateway stays up; delivery resumes within 5 s of the restart; missed messages recovered', async () => {
    const [g1, g2] = [gws[0]!, gws[1]!];
    const ch = `DN${randomBytes(3).toString('hex')}.trade`;
    const s = new SdkSubscriber(g1.wsUrl, ch);
    clients.push(s);
    await s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed');
    for (let i = 1; i <= 3; i++) assertApiOk(await callApi(g2.url, API_KEY, 'publish', { channel: ch, data: { i } }));
    await s.waitFor(() => s.pubs.length >= 3, 10_000, '3 before the outage');

    const killedAt = Date.now();
    await nats.kill();
    let first503 = 0;
    await waitFor(
      async () => {
        const t = Date.now();
        const r = await callApi(g1.url, API_KEY, 'publish', { channel: ch, data: { i: -1 } }, 6_000, {
          'x-centrifugo-error-mode': 'transport',
        });
        assert.ok(Date.now() - t < 5_000, 'the API answers fast, never hangs');
        if (r.status === 503) first503 = Date.now();
        return r.status === 503;
      },
      5_000,
      'API 503',
      { everyMs: 50 },
    );
    assert.ok(first503 - killedAt <= 5_000, `503 after ${first503 - killedAt} ms`);
    // Centrifugo's default mode: HTTP 200 with the error (108, retry) in the body.
    const plain = await callApi(g1.url, API_KEY, 'publish', { channel: ch, data: { i: -1 } }, 6_000);
    assert.equal(plain.status, 200);
    assert.equal(plain.body.error?.code, 108);
    for (const g of gws) {
      const ready = await fetch(`${g.url}/ready`);
      assert.equal(ready.status, 503);
      assert.equal(g.running(), true, 'gateway process stays up');
    }

    await nats.restart();
    const restartedAt = Date.now();
    // Publish through g2 as soon as it accepts, while g1 may still be reconnecting: g1 must
    // catch up from the stream (or tell the client plainly).
    let n = 4;
    await waitFor(
      async () => apiOk(await callApi(g2.url, API_KEY, 'publish', { channel: ch, data: { i: n } })),
      5_000,
      'g2 accepts publications again',
      { everyMs: 50 },
    );
    n++;
    for (; n <= 10; n++) assertApiOk(await callApi(g2.url, API_KEY, 'publish', { channel: ch, data: { i: n } }));
    await s.waitFor(() => s.pubs.length >= 10 || s.subscribed.length > 1, 5_000, 'delivery after the restart');
    const resumedMs = Date.now() - restartedAt;
    await waitFor(async () => (await fetch(`${g1.url}/ready`)).status === 200, 5_000, '/ready 200 again', { everyMs: 50 });
    if (s.subscribed.length > 1) {
      // the gateway told the client to resubscribe: recovery must be explicit
      const re = s.subscribed[s.subscribed.length - 1]!;
      assert.equal(re.wasRecovering, true);
      await s.waitFor(() => s.pubs.length >= 10 || !re.recovered, 5_000, 'recovered publications');
    }
    const got = s.pubs.map((p) => (p.data as { i: number }).i);
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'every publication once, in order');
    assert.deepEqual(
      s.pubs.map((p) => p.offset),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    process.stdout.write(`# broker down: first 503 after ${first503 - killedAt} ms; delivery resumed ${resumedMs} ms after restart\n`);
  });
});
