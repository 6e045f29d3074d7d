/**
 * Overload is reported, never an unbounded queue: the JetStream appender's bounded backlog
 * refuses with 'unavailable' and counts it; /metrics shows ingest lag and append latency.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { BrokerError } from '../../src/lib/core/broker.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { callApi, startGatewayProcess, type GatewayProcess, assertApiOk } from '../testkit/gateway-process.js';

describe('JetStream overload and telemetry', () => {
  let nats: NatsServerHandle;
  let gw: GatewayProcess | undefined;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await gw?.stop();
    await nats?.stop();
  });

  it('past maxBacklog, publish rejects at once with unavailable and the refusal is counted; the rest is stored contiguously', async () => {
    const broker = new JetStreamBroker({ servers: nats.url, stream: 'OVERLOAD', subjectPrefix: 'ovl', maxBacklog: 100 });
    await broker.run({ onPublication: () => undefined });
    try {
      const ch = `O${randomBytes(3).toString('hex')}.trade`;
      const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => broker.publish(ch, JSON.stringify({ i }))));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.ok(refused.length > 0, 'some refused');
      for (const r of refused) {
        assert.ok(r.reason instanceof BrokerError);
        assert.equal(r.reason.code, 'unavailable');
        assert.match(r.reason.message, /overloaded/);
      }
      assert.equal(broker.telemetry.rejected, refused.length);
      assert.deepEqual(
        ok.map((r) => (r as PromiseFulfilledResult<{ offset: number }>).value.offset),
        Array.from({ length: ok.length }, (_, i) => i + 1),
      );
      assert.equal(broker.telemetry.backlog, 0);
    } finally {
      await broker.close();
    }
  });

  it('/metrics shows the broker append latency, group sizes, backlog and the ingest lag', async () => {
    gw = await startGatewayProcess({ natsUrl: nats.url, apiKey: 'k' });
    const r = await callApi(gw.url, 'k', 'publish', { channel: `M${randomBytes(3).toString('hex')}.trade`, data: { p: 1 } });
    assertApiOk(r);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const name of [
      'ws_broker_append_latency_seconds_count 1',
      'ws_broker_append_publications_count 1',
      'ws_broker_append_backlog 0',
      'ws_broker_overload_rejections_total 0',
      'ws_ingest_lag_seconds{ingest="nats"} 0',
      'ws_ingest_in_flight{ingest="nats"} 0',
      'ws_ingest_reading{ingest="nats"} 1',
    ]) {
      assert.ok(text.includes(name), `${name} in /metrics`);
    }
  });
});
