/**
 * Feed staleness from ingest lag, end to end: the composition root with a real NATS ingest on a
 * real nats-server, a real WebSocket subscriber, and a broker whose publish the test holds back,
 * so the ingest's oldest unsettled publication ages past `--ingest-stale-after-ms`: the
 * subscriber is told `stale`, then `fresh` once the held publication settles, and gets it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import type { PublishOptions, PublishResult } from '../../src/lib/core/broker.js';
import { composeGateway } from '../../src/apps/gateway/compose.js';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { natsSuite } from '../testkit/nats-suite.js';
import { TestClient, type Json } from '../testkit/ws-client.js';

const enc = new TextEncoder();
const STALE_AFTER_MS = 200;

/** A memory broker whose publishes wait while the test holds them. */
class HeldBroker extends MemoryBroker {
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  hold(): void {
    this.gate ??= new Promise<void>((r) => (this.open = r));
  }

  release(): void {
    this.open?.();
    this.gate = null;
    this.open = null;
  }

  override async publish(channel: string, data: string, opts?: PublishOptions): Promise<PublishResult> {
    if (this.gate !== null) await this.gate;
    return super.publish(channel, data, opts);
  }
}

describe('feed staleness from ingest lag (NATS ingest, real sockets)', () => {
  const nats = natsSuite();

  it('a held-back ingest makes the channels it feeds stale past the threshold, fresh once it catches up', async () => {
    const broker = new HeldBroker({ clock: systemClock });
    const cfg = loadGatewayConfig(
      [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--ingest',
        'nats',
        '--nats-url',
        nats.url,
        '--ingest-stale-after-ms',
        String(STALE_AFTER_MS),
        '--drain-ms',
        '0',
      ],
      {},
    );
    assert.equal(cfg.ingestStaleAfterMs, STALE_AFTER_MS);
    const g = await composeGateway(cfg, { broker });
    const sym = 'L' + randomBytes(3).toString('hex').toUpperCase();
    const fed = `${sym}.trade`;
    const other = `${sym}.holders`;
    const c = await TestClient.connect(`ws://127.0.0.1:${g.port}/ws`);
    try {
      c.send({ type: 'subscribe', data: { channels: [fed, other] } });
      await c.next((m: Json) => m['type'] === 'subscription_ack');
      // The ingest publishes the channel once: from now on it feeds it.
      nats.nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ type: 'trade', price: 1 })));
      await c.next((m: Json) => m['channel'] === fed && m['offset'] === 1);
      // Held: the next publication waits on the broker and the ingest's lag grows.
      broker.hold();
      const heldAt = Date.now();
      nats.nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ type: 'trade', price: 2 })));
      const stale = await c.next((m: Json) => m['type'] === 'stale');
      const toldAt = Date.now();
      const toldAfter = toldAt - heldAt;
      assert.equal(stale['channel'], fed);
      assert.ok(toldAfter >= STALE_AFTER_MS, `told after ${toldAfter} ms`);
      // `since`: when the held publication was handed over — after it was published (less a
      // millisecond of rounding) and at least the threshold before the notice came (plus one).
      const since = stale['since'] as number;
      assert.ok(since >= heldAt - 1 && since <= toldAt - STALE_AFTER_MS + 1, `since ${since}, held at ${heldAt}, told at ${toldAt}`);
      assert.ok(g.ingests[0]!.health().lagMs > STALE_AFTER_MS);
      broker.release();
      const pushed = await c.next((m: Json) => m['channel'] === fed && m['offset'] === 2);
      assert.equal(pushed['prev'], 1);
      const fresh = await c.next((m: Json) => m['type'] === 'fresh');
      assert.equal(fresh['channel'], fed);
      // A channel the ingest did not publish was never told anything.
      assert.deepEqual(
        c.messages.filter((m) => m['channel'] === other && (m['type'] === 'stale' || m['type'] === 'fresh')),
        [],
      );
      assert.equal(c.messages.filter((m) => m['type'] === 'stale').length, 1);
    } finally {
      broker.release();
      c.close();
      await g.close();
    }
  });
});
