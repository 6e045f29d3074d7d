/**
 * The Broker conformance suite: one test per written guarantee of src/lib/core/broker.ts, run
 * against every implementation (MemoryBroker, JetStreamBroker). Not a test file itself:
 * `*.test.ts` files call `runBrokerConformance`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { ISSUE_20_ROWS } from './testkit/json-text-arb.js';
import {
  BrokerError,
  type Broker,
  type BrokerEventHandler,
  type Publication,
  type PublishOptions,
  type PublishResult,
  type StreamPosition,
} from '../src/lib/core/broker.js';

export interface ConformanceOptions {
  /**
   * Brokers from the factory share one backend (many nodes, one history). Adds the
   * multi-node cases: cross-node delivery and one order for concurrent publishers.
   */
  readonly shared?: boolean;
  /** Deadline for waiting on deliveries, ms (default 10 s). */
  readonly timeoutMs?: number;
}

/** Records deliveries per channel; lets a test wait for a condition without sleeping. */
export class Recorder implements BrokerEventHandler {
  readonly pubs = new Map<string, Publication[]>();
  readonly resets: string[] = [];
  private waiters: (() => void)[] = [];

  onPublication(pub: Publication): void {
    let list = this.pubs.get(pub.channel);
    if (!list) {
      list = [];
      this.pubs.set(pub.channel, list);
    }
    list.push(pub);
    this.wake();
  }

  onStreamReset(channel: string): void {
    this.resets.push(channel);
    this.wake();
  }

  of(channel: string): Publication[] {
    return this.pubs.get(channel) ?? [];
  }

  /** Resolves when `cond()` holds; rejects after `timeoutMs` with `what` in the message. */
  waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function uniqueChannel(base: string): string {
  return `${base}_${randomBytes(4).toString('hex')}.trade`;
}

/** History kept by the publications of this suite (the memory broker keeps none by default). */
const HISTORY: PublishOptions = { historySize: 100, historyTtlMs: 60_000 };

export function runBrokerConformance(name: string, makeBroker: () => Broker | Promise<Broker>, opts: ConformanceOptions = {}): void {
  const timeoutMs = opts.timeoutMs ?? 10_000;

  describe(`Broker conformance: ${name}`, () => {
    const open: Broker[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    async function node(): Promise<{ broker: Broker; rec: Recorder }> {
      const broker = await makeBroker();
      open.push(broker);
      const rec = new Recorder();
      await broker.run(rec);
      return { broker, rec };
    }

    it('1. offsets: 1, 2, 3 ... within one non-empty epoch', async () => {
      const { broker } = await node();
      const ch = uniqueChannel('off');
      const positions: StreamPosition[] = [];
      for (let i = 0; i < 5; i++) positions.push(await broker.publish(ch, JSON.stringify({ i }), HISTORY));
      assert.deepEqual(
        positions.map((p) => p.offset),
        [1, 2, 3, 4, 5],
      );
      assert.ok(positions[0]!.epoch.length > 0, 'epoch is non-empty');
      assert.ok(
        positions.every((p) => p.epoch === positions[0]!.epoch),
        'one epoch',
      );
    });

    it('1. offsets: concurrent publishes on one channel get distinct contiguous offsets', async () => {
      const { broker } = await node();
      const ch = uniqueChannel('conc');
      const got = await Promise.all(Array.from({ length: 50 }, (_, i) => broker.publish(ch, JSON.stringify({ i }), HISTORY)));
      const offsets = got.map((p) => p.offset).sort((a, b) => a - b);
      assert.deepEqual(
        offsets,
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });

    it('1. offsets: a burst on one channel from one node: offsets in call order, delivery and history alike', async () => {
      const { broker, rec } = await node();
      const ch = uniqueChannel('burst');
      await broker.subscribe(ch);
      const n = 2000;
      const got = await Promise.all(Array.from({ length: n }, (_, i) => broker.publish(ch, JSON.stringify({ i }), HISTORY)));
      assert.deepEqual(
        got.map((p) => p.offset),
        Array.from({ length: n }, (_, i) => i + 1),
        'each publish resolves with its own offset, in call order',
      );
      assert.equal(new Set(got.map((p) => p.epoch)).size, 1);
      await rec.waitFor(() => rec.of(ch).length >= n, timeoutMs, `${n} deliveries`);
      const live = rec.of(ch).map((p) => `${p.offset}:${p.data}`);
      assert.deepEqual(
        live,
        Array.from({ length: n }, (_, i) => `${i + 1}:${JSON.stringify({ i })}`),
      );
      // A range read straddling what one append may have stored together, and the newest few.
      const h = await broker.history(ch, { since: { offset: n - 77, epoch: got[0]!.epoch }, limit: 1000 });
      assert.deepEqual(
        h.publications.map((p) => `${p.offset}:${p.data}`),
        live.slice(n - 77),
      );
      const tail = await broker.history(ch, { since: { offset: n - 5, epoch: got[0]!.epoch }, limit: 3, reverse: true });
      assert.deepEqual(
        tail.publications.map((p) => p.offset),
        [n, n - 1, n - 2],
      );
    });

    it('2. epoch: an empty channel reports offset 0 and keeps that epoch through its first publication', async () => {
      const { broker } = await node();
      const ch = uniqueChannel('empty');
      const h = await broker.history(ch, { limit: 0 });
      assert.equal(h.position.offset, 0);
      assert.ok(h.position.epoch.length > 0);
      const again = await broker.history(ch, { limit: 10 });
      assert.deepEqual(again.position, h.position, 'reading does not change the epoch');
      assert.equal(again.publications.length, 0);
      const p = await broker.publish(ch, '{"first":true}', HISTORY);
      assert.deepEqual(p, { offset: 1, epoch: h.position.epoch });
    });

    it('2. epoch: removeHistory starts a new epoch at offset 1; nothing else changes it', async () => {
      const { broker } = await node();
      const ch = uniqueChannel('purge');
      const a = await broker.publish(ch, '1', HISTORY);
      const b = await broker.publish(ch, '2', HISTORY);
      assert.equal(a.epoch, b.epoch);
      await broker.removeHistory(ch);
      const after = await broker.history(ch, { limit: 10 });
      assert.equal(after.publications.length, 0);
      assert.notEqual(after.position.epoch, a.epoch, 'history lost: new epoch');
      const c = await broker.publish(ch, '3', HISTORY);
      assert.equal(c.offset, 1);
      assert.notEqual(c.epoch, a.epoch);
      assert.equal(c.epoch, after.position.epoch);
    });

    it('3. delivery: after subscribe resolves, every publication once, in offset order, data exact', async () => {
      const { broker, rec } = await node();
      const ch = uniqueChannel('deliv');
      await broker.publish(ch, '"before"', HISTORY); // before subscribe: not required
      await broker.subscribe(ch);
      const sent: string[] = [];
      const positions: StreamPosition[] = [];
      for (let i = 0; i < 20; i++) {
        const data = JSON.stringify({ i, s: 'ünïcødé ✓', n: null });
        sent.push(data);
        positions.push(await broker.publish(ch, data, HISTORY));
      }
      await rec.waitFor(() => rec.of(ch).filter((p) => p.offset >= 2).length >= 20, timeoutMs, '20 deliveries');
      const got = rec.of(ch).filter((p) => p.offset >= 2);
      assert.deepEqual(
        got.map((p) => p.offset),
        positions.map((p) => p.offset),
      );
      assert.deepEqual(
        got.map((p) => p.data),
        sent,
      );
      assert.ok(got.every((p) => p.channel === ch && p.epoch === positions[0]!.epoch && p.time > 0));
    });

    it('3. delivery: subscribe is idempotent; unsubscribed channels are not delivered', async () => {
      const { broker, rec } = await node();
      const ch = uniqueChannel('idem');
      const other = uniqueChannel('other');
      await broker.subscribe(ch);
      await broker.subscribe(ch);
      await broker.publish(other, '"no"', HISTORY);
      await broker.publish(ch, '"a"', HISTORY);
      await rec.waitFor(() => rec.of(ch).length >= 1, timeoutMs, 'one delivery');
      await broker.unsubscribe(ch);
      await broker.unsubscribe(ch);
      await broker.publish(ch, '"after-unsub"', HISTORY);
      // A marker channel, subscribed now, proves the broker moved past the publication above.
      const marker = uniqueChannel('mark');
      await broker.subscribe(marker);
      await broker.publish(marker, '"m"', HISTORY);
      await rec.waitFor(() => rec.of(marker).length >= 1, timeoutMs, 'marker delivery');
      assert.deepEqual(
        rec.of(ch).map((p) => p.data),
        ['"a"'],
      );
      assert.equal(rec.of(other).length, 0);
    });

    it('3. delivery: tags and client info travel with the publication', async () => {
      const { broker, rec } = await node();
      const ch = uniqueChannel('tags');
      await broker.subscribe(ch);
      const info = { client: 'c1', user: 'u1' };
      await broker.publish(ch, '{"p":1}', { ...HISTORY, tags: { type: 'price:update' }, info });
      await rec.waitFor(() => rec.of(ch).length >= 1, timeoutMs, 'delivery');
      const live = rec.of(ch)[0]!;
      assert.deepEqual(live.tags, { type: 'price:update' });
      assert.deepEqual(live.info, info);
      const h = await broker.history(ch, { limit: 10 });
      assert.deepEqual(h.publications[0]!.tags, live.tags);
      assert.deepEqual(h.publications[0]!.info, live.info);
    });

    it('3. delivery and history: data byte for byte, with no tags unless published (issue 20)', async () => {
      const { broker, rec } = await node();
      const ch = uniqueChannel('bytes');
      await broker.subscribe(ch);
      const texts = [...ISSUE_20_ROWS, ' \n{"a" :\t[1.0 ,\r\n2E+0]}\t', '"\u2028\ud800\ufeff😀"'];
      for (const t of texts) await broker.publish(ch, t, HISTORY);
      await rec.waitFor(() => rec.of(ch).length >= texts.length, timeoutMs, 'deliveries');
      const bytes = (ps: readonly { data: string }[]) => ps.map((p) => Buffer.from(p.data).toString('hex'));
      const want = texts.map((t) => Buffer.from(t).toString('hex'));
      assert.deepEqual(bytes(rec.of(ch)), want);
      assert.deepEqual(bytes((await broker.history(ch, { limit: 100 })).publications), want);
      assert.ok(rec.of(ch).every((p) => p.tags === undefined));
    });

    it('4. history: reads the log delivery comes from (since, limit, reverse)', async () => {
      const { broker, rec } = await node();
      const ch = uniqueChannel('hist');
      await broker.subscribe(ch);
      for (let i = 1; i <= 10; i++) await broker.publish(ch, JSON.stringify(i), HISTORY);
      await rec.waitFor(() => rec.of(ch).length >= 10, timeoutMs, '10 deliveries');
      const all = await broker.history(ch, { limit: 100 });
      assert.equal(all.position.offset, 10);
      assert.deepEqual(
        all.publications.map((p) => [p.offset, p.epoch, p.data, p.time]),
        rec.of(ch).map((p) => [p.offset, p.epoch, p.data, p.time]),
        'history equals what was delivered',
      );
      const since = await broker.history(ch, { limit: 100, since: { offset: 7, epoch: all.position.epoch } });
      assert.deepEqual(
        since.publications.map((p) => p.offset),
        [8, 9, 10],
      );
      const limited = await broker.history(ch, { limit: 3, since: { offset: 2, epoch: all.position.epoch } });
      assert.deepEqual(
        limited.publications.map((p) => p.offset),
        [3, 4, 5],
      );
      const rev = await broker.history(ch, { limit: 2, reverse: true });
      assert.deepEqual(
        rev.publications.map((p) => p.offset),
        [10, 9],
      );
      const none = await broker.history(ch, { limit: 0 });
      assert.deepEqual(none.publications, []);
      assert.deepEqual(none.position, all.position);
      const top = await broker.history(ch, { limit: 10, since: all.position });
      assert.deepEqual(top.publications, []);
    });

    it('5. publish: idempotency key accepted once per channel, same position returned', async () => {
      const { broker } = await node();
      const ch = uniqueChannel('idk');
      const a = await broker.publish(ch, '"x"', { ...HISTORY, idempotencyKey: 'k1' });
      const b = await broker.publish(ch, '"x"', { ...HISTORY, idempotencyKey: 'k1' });
      assert.deepEqual(b, a);
      const c = await broker.publish(ch, '"y"', { ...HISTORY, idempotencyKey: 'k2' });
      assert.equal(c.offset, a.offset + 1);
      const other = uniqueChannel('idk2');
      const d = await broker.publish(other, '"x"', { ...HISTORY, idempotencyKey: 'k1' });
      assert.equal(d.offset, 1, 'keys are per channel');
      const h = await broker.history(ch, { limit: 10 });
      assert.deepEqual(
        h.publications.map((p) => p.data),
        ['"x"', '"y"'],
      );
    });

    it("5. publish: the returned position is the publication's; close is idempotent and final", async () => {
      const { broker } = await node();
      assert.equal(broker.isReady(), true);
      const ch = uniqueChannel('pos');
      const p = await broker.publish(ch, '{"v":1}', HISTORY);
      const h = await broker.history(ch, { limit: 1, reverse: true });
      assert.equal(h.publications[0]!.offset, p.offset);
      assert.equal(h.publications[0]!.epoch, p.epoch);
      await broker.close();
      await broker.close();
      assert.equal(broker.isReady(), false);
      await assert.rejects(broker.publish(ch, '1'), (err: unknown) => err instanceof BrokerError && err.code === 'closed');
    });

    it("6. source fencing: a position the channel holds is not stored again; one after a missing predecessor is refused 'conflict'", async () => {
      const { broker } = await node();
      const ch = uniqueChannel('fence');
      const at = (seq: bigint, after?: bigint): PublishOptions => ({
        ...HISTORY,
        source: after === undefined ? { id: 'odin.trades/3', seq } : { id: 'odin.trades/3', seq, after },
      });
      const first = await broker.publish(ch, '1', at(1n));
      const second = await broker.publish(ch, '2', at(2n, 1n));
      assert.equal(second.offset, first.offset + 1);
      assert.equal(first.duplicate, undefined);
      const again = await broker.publish(ch, '1', at(1n));
      assert.deepEqual(again, { offset: second.offset, epoch: second.epoch, duplicate: true }, "already held: the channel's position");
      assert.equal((await broker.publish(ch, '2', at(2n))).duplicate, true);
      await assert.rejects(broker.publish(ch, '4', at(4n, 3n)), (err: unknown) => err instanceof BrokerError && err.code === 'conflict');
      assert.equal((await broker.publish(ch, '3', at(3n, 2n))).offset, second.offset + 1, 'the missing one, then the next');
      assert.equal((await broker.publish(ch, '4', at(4n, 3n))).offset, second.offset + 2);
      assert.equal((await broker.publish(ch, '10', at(10n))).duplicate, undefined, 'offsets may jump');
      assert.equal(
        (await broker.publish(ch, 'x', { ...HISTORY, source: { id: 'odin.trades/5', seq: 1n } })).duplicate,
        undefined,
        'sources are unrelated',
      );
      await broker.publish(ch, '"plain"', HISTORY);
      assert.equal((await broker.publish(ch, '9', at(9n))).duplicate, true, 'publications without a source keep the positions');
      const h = await broker.history(ch, { limit: 100 });
      assert.deepEqual(
        h.publications.map((p) => p.data),
        ['1', '2', '3', '4', '10', 'x', '"plain"'],
      );
      await broker.removeHistory(ch);
      assert.equal((await broker.publish(ch, '1', at(1n))).duplicate, undefined, 'forgotten with the history');
    });

    if (opts.shared) {
      it('shared, 6. source fencing: two nodes replaying one source at once store each position once, in order', async () => {
        const a = await node();
        const b = await node();
        const ch = uniqueChannel('replay');
        await a.broker.subscribe(ch);
        const n = 200;
        // Each node hands every position over at once (in order, each chained to the one before), like two
        // ingest processes that both read a partition from its last commit (the old owner's publications
        // still in flight when the new owner starts).
        const replay = (broker: Broker): Promise<PublishResult[]> =>
          Promise.all(
            Array.from({ length: n }, (_, k) => {
              const seq = BigInt(k + 1);
              const source = k === 0 ? { id: 'p/0', seq } : { id: 'p/0', seq, after: seq - 1n };
              return broker.publish(ch, String(seq), { ...HISTORY, source });
            }),
          );
        const [ra, rb] = await Promise.all([replay(a.broker), replay(b.broker)]);
        const stored = [...ra, ...rb].filter((r) => r.duplicate !== true);
        assert.equal(stored.length, n, 'each position stored once');
        await a.rec.waitFor(() => a.rec.of(ch).length >= n, timeoutMs, `${n} on A`);
        assert.deepEqual(
          a.rec.of(ch).map((p) => p.data),
          Array.from({ length: n }, (_, i) => String(i + 1)),
        );
        assert.deepEqual(
          a.rec.of(ch).map((p) => p.offset),
          Array.from({ length: n }, (_, i) => i + 1),
        );
        const h = await b.broker.history(ch, { limit: 1000 });
        assert.equal(h.publications.length, n);
      });

      it('shared: a publication through node A is delivered on node B with the same offset and epoch', async () => {
        const a = await node();
        const b = await node();
        const ch = uniqueChannel('xnode');
        await b.broker.subscribe(ch);
        const p = await a.broker.publish(ch, '{"from":"A"}', HISTORY);
        await b.rec.waitFor(() => b.rec.of(ch).length >= 1, timeoutMs, 'delivery on B');
        const got = b.rec.of(ch)[0]!;
        assert.equal(got.offset, p.offset);
        assert.equal(got.epoch, p.epoch);
        const hb = await b.broker.history(ch, { limit: 10 });
        assert.deepEqual(hb.position, p);
      });

      it('shared: bursts from three nodes on one channel: contiguous, one order everywhere, each node in its call order', async () => {
        const nodes = [await node(), await node(), await node()];
        const ch = uniqueChannel('three');
        for (const x of nodes) await x.broker.subscribe(ch);
        const each = 500;
        const results = await Promise.all(
          nodes.map((x, k) => Promise.all(Array.from({ length: each }, (_, i) => x.broker.publish(ch, JSON.stringify({ k, i }), HISTORY)))),
        );
        const total = each * nodes.length;
        for (const r of results) {
          for (let i = 1; i < r.length; i++) assert.ok(r[i]!.offset > r[i - 1]!.offset, "a node's publications in its call order");
        }
        assert.deepEqual(
          results
            .flat()
            .map((p) => p.offset)
            .sort((a, b) => a - b),
          Array.from({ length: total }, (_, i) => i + 1),
        );
        for (const x of nodes) await x.rec.waitFor(() => x.rec.of(ch).length >= total, timeoutMs, `${total} on every node`);
        const ref = nodes[0]!.rec.of(ch).map((p) => `${p.offset}:${p.data}`);
        for (const x of nodes.slice(1))
          assert.deepEqual(
            x.rec.of(ch).map((p) => `${p.offset}:${p.data}`),
            ref,
          );
        assert.deepEqual(
          nodes[0]!.rec.of(ch).map((p) => p.offset),
          Array.from({ length: total }, (_, i) => i + 1),
        );
      });

      it('shared: concurrent publishers on two nodes: one order, contiguous, seen alike everywhere', async () => {
        const a = await node();
        const b = await node();
        const ch = uniqueChannel('order');
        await a.broker.subscribe(ch);
        await b.broker.subscribe(ch);
        const n = 100;
        const jobs: Promise<unknown>[] = [];
        for (let i = 0; i < n; i++) {
          const via = i % 2 === 0 ? a.broker : b.broker;
          jobs.push(via.publish(ch, JSON.stringify({ i }), HISTORY));
        }
        await Promise.all(jobs);
        await a.rec.waitFor(() => a.rec.of(ch).length >= n, timeoutMs, `${n} on A`);
        await b.rec.waitFor(() => b.rec.of(ch).length >= n, timeoutMs, `${n} on B`);
        const seqA = a.rec.of(ch).map((p) => `${p.offset}:${p.data}`);
        const seqB = b.rec.of(ch).map((p) => `${p.offset}:${p.data}`);
        assert.deepEqual(seqA, seqB);
        assert.deepEqual(
          a.rec.of(ch).map((p) => p.offset),
          Array.from({ length: n }, (_, i) => i + 1),
        );
      });
    }
  });
}
