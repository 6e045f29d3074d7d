/**
 * Publications of one event-loop turn (a feed's socket read, a publisher's tick) on an idle
 * channel go out as one append, are republished as one message and reach every node's hub in
 * one turn, so each client gets them in one write, as with the memory broker (issue 9: the
 * first used to go alone and the rest in a second append: two writes per client per turn).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import type { Publication } from '../../src/lib/core/broker.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';

/** Counts event-loop turns: each delivery is stamped with the turn it arrived in. */
class TurnRecorder {
  turn = 0;
  readonly got: { pub: Publication; turn: number }[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    // A new turn starts after every check phase; setImmediate re-arms itself once per turn.
    const tick = (): void => {
      this.turn++;
      this.immediate = setImmediate(tick);
    };
    this.immediate = setImmediate(tick);
    this.timer = setInterval(() => undefined, 1_000);
  }

  private immediate: NodeJS.Immediate;

  onPublication(pub: Publication): void {
    this.got.push({ pub, turn: this.turn });
    this.waiters = this.waiters.filter((w) => {
      if (this.got.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  until(n: number): Promise<void> {
    if (this.got.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  stop(): void {
    clearImmediate(this.immediate);
    clearInterval(this.timer);
  }
}

describe('JetStream group commit: one turn, one append', () => {
  let nats: NatsServerHandle;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  it("an idle channel's publications of one turn are one append, delivered on another node in one turn", async () => {
    const a = new JetStreamBroker({ servers: nats.url, stream: 'TURNS' });
    const b = new JetStreamBroker({ servers: nats.url, stream: 'TURNS' });
    const rec = new TurnRecorder();
    await a.run({ onPublication: () => undefined });
    await b.run(rec);
    try {
      const ch = `T${randomBytes(3).toString('hex')}.trade`;
      await b.subscribe(ch);
      for (let round = 0; round < 3; round++) {
        const before = a.telemetry.appends;
        const positions = await Promise.all(Array.from({ length: 10 }, (_, i) => a.publish(ch, JSON.stringify({ round, i }))));
        assert.deepEqual(
          positions.map((p) => p.offset),
          Array.from({ length: 10 }, (_, i) => round * 10 + i + 1),
          'offsets contiguous, in call order',
        );
        assert.equal(a.telemetry.appends - before, 1, `round ${round}: the ten publications of one turn are one append`);
        await rec.until((round + 1) * 10);
        const mine = rec.got.slice(round * 10);
        assert.deepEqual(
          mine.map((g) => g.pub.data),
          Array.from({ length: 10 }, (_, i) => JSON.stringify({ round, i })),
        );
        assert.equal(new Set(mine.map((g) => g.turn)).size, 1, `round ${round}: delivered to the other node's hub in one turn`);
      }
    } finally {
      rec.stop();
      await a.close();
      await b.close();
    }
  });

  it('a keyed publication on an idle channel still goes out alone at once; its key is deduplicated on another node', async () => {
    const a = new JetStreamBroker({ servers: nats.url, stream: 'TURNS' });
    const b = new JetStreamBroker({ servers: nats.url, stream: 'TURNS' });
    await a.run({ onPublication: () => undefined });
    await b.run({ onPublication: () => undefined });
    try {
      const ch = `K${randomBytes(3).toString('hex')}.trade`;
      const before = a.telemetry.appends;
      const [k, ...rest] = await Promise.all([
        a.publish(ch, '"keyed"', { idempotencyKey: 'e-1' }),
        a.publish(ch, '"x"'),
        a.publish(ch, '"y"'),
        a.publish(ch, '"z"'),
      ]);
      assert.equal(k!.offset, 1);
      assert.deepEqual(
        rest.map((p) => p.offset),
        [2, 3, 4],
      );
      assert.equal(a.telemetry.appends - before, 2, 'the keyed one alone, the rest of the turn together');
      const again = await b.publish(ch, '"keyed"', { idempotencyKey: 'e-1' });
      assert.equal(again.offset, 1, 'same position from another node');
      const h = await b.history(ch, { limit: 10 });
      assert.deepEqual(
        h.publications.map((p) => p.data),
        ['"keyed"', '"x"', '"y"', '"z"'],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});
