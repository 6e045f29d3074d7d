/**
 * The gap-fill state machine of JetStream live delivery (src/lib/broker-jetstream/live-channel.ts),
 * alone: no NATS, the stream is an in-memory list of records.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveChannel } from '../../src/lib/broker-jetstream/live-channel.js';
import type { Head, StoredRecord } from '../../src/lib/broker-jetstream/records.js';

function rec(seq: number, offset: number, epoch = 'e1', count = 1): StoredRecord {
  return { seq, prevSeq: seq - 1, offset, count, epoch, time: 0, data: new Uint8Array([offset]), meta: undefined };
}

/** A channel's records in a stream; `lost` offsets were trimmed (expired, max msgs). */
class FakeStream {
  recs: StoredRecord[] = [];
  lost = new Set<number>();
  failNext = 0;
  reads = 0;
  append(offset: number, epoch = 'e1', count = 1): StoredRecord {
    const r = rec(this.recs.length + 1, offset, epoch, count);
    this.recs.push(r);
    return r;
  }
  async head(): Promise<Head> {
    this.reads++;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('leader election');
    }
    const last = this.recs[this.recs.length - 1];
    return last ? { seq: last.seq, offset: last.offset, epoch: last.epoch } : { seq: 0, offset: 0, epoch: '' };
  }
  async range(head: Head, after: number): Promise<StoredRecord[]> {
    return this.recs.filter(
      (r) => r.epoch === head.epoch && r.offset > after && r.offset > 0 && r.seq <= head.seq && !this.lost.has(r.offset),
    );
  }
}

interface Harness {
  ch: LiveChannel;
  stream: FakeStream;
  got: number[];
  resets: number;
  waits: number[];
  state: { active: boolean; connected: boolean };
}

function harness(maxPending?: number): Harness {
  const stream = new FakeStream();
  const h: Harness = {
    ch: null as unknown as LiveChannel,
    stream,
    got: [],
    resets: 0,
    waits: [],
    state: { active: true, connected: true },
  };
  h.ch = new LiveChannel(
    'c',
    { head: () => stream.head(), range: (head, after) => stream.range(head, after) },
    {
      deliver: (r, after) => {
        for (let o = Math.max(after, r.offset - r.count) + 1; o <= r.offset; o++) h.got.push(o);
      },
      reset: () => h.resets++,
    },
    {
      active: () => h.state.active,
      connected: () => h.state.connected,
      retryWait: async (attempt) => {
        h.waits.push(attempt);
      },
    },
    maxPending,
  );
  return h;
}

/** Lets the machine's promise chains (in-memory reads) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('LiveChannel gap-fill state machine', () => {
  it('delivers the next offset, drops repeats and markers, in order', async () => {
    const h = harness();
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    for (const o of [2, 3]) h.ch.onLive(h.stream.append(o));
    h.ch.onLive(rec(3, 3)); // repeat
    h.ch.onLive(rec(2, 2)); // older
    h.ch.onLive(rec(9, 0)); // marker of the same epoch
    h.ch.onLive(h.stream.append(4));
    assert.deepEqual(h.got, [2, 3, 4]);
    assert.equal(h.ch.offset, 4);
    assert.equal(h.stream.reads, 1, 'no read from the stream without a gap');
  });

  it('buffers live records until the baseline is read, then delivers only those after it', async () => {
    const h = harness();
    h.stream.append(1);
    h.stream.append(2);
    const baseline = await h.stream.head();
    h.ch.onLive(rec(2, 2)); // arrived before the baseline was applied: already in the baseline
    h.ch.onLive(h.stream.append(3));
    assert.deepEqual(h.got, [], 'nothing before start');
    h.ch.start(baseline);
    assert.deepEqual(h.got, [3]);
    assert.equal(h.ch.syncing, false);
  });

  it('fills a gap from the stream, in order, then drains what arrived meanwhile', async () => {
    const h = harness();
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    h.stream.append(2);
    h.stream.append(3); // 2 and 3 were missed live (slow consumer)
    h.ch.onLive(h.stream.append(4));
    assert.equal(h.ch.syncing, true);
    h.ch.onLive(h.stream.append(5)); // arrives while the sync runs: buffered
    await settle();
    assert.deepEqual(h.got, [2, 3, 4, 5]);
    assert.equal(h.ch.syncing, false);
    assert.equal(h.resets, 0);
    h.ch.onLive(h.stream.append(6));
    assert.deepEqual(h.got, [2, 3, 4, 5, 6]);
  });

  it('reports a reset when the stream no longer holds the missing publications, and continues from the head', async () => {
    const h = harness();
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    h.stream.append(2);
    h.stream.lost.add(2);
    h.ch.onLive(h.stream.append(3));
    await settle();
    assert.equal(h.resets, 1);
    assert.deepEqual(h.got, [], 'a partial range is never delivered');
    assert.equal(h.ch.offset, 3);
    h.ch.onLive(h.stream.append(4));
    assert.deepEqual(h.got, [4]);
  });

  it('a new epoch starting at offset 1 is delivered as a new run; a marker of a new epoch is adopted silently', async () => {
    const h = harness();
    h.stream.append(1);
    h.stream.append(2);
    h.ch.start(await h.stream.head());
    h.ch.onLive(rec(10, 0, 'e2'));
    assert.equal(h.ch.epoch, 'e2');
    assert.equal(h.ch.offset, 0);
    h.ch.onLive(rec(11, 1, 'e2'));
    h.ch.onLive(rec(12, 2, 'e2'));
    assert.deepEqual(h.got, [1, 2]);
    h.ch.onLive(rec(20, 1, 'e3'));
    assert.deepEqual(h.got, [1, 2, 1]);
    assert.equal(h.resets, 0);
  });

  it('an emptied channel (purged) on sync is a reset and starts again from nothing', async () => {
    const h = harness();
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    h.stream.recs = [];
    h.ch.reconnect();
    await settle();
    assert.equal(h.resets, 1);
    assert.equal(h.ch.offset, 0);
    assert.equal(h.ch.epoch, '');
  });

  it('after a reconnect, a tail missed while away is delivered at once', async () => {
    const h = harness();
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    h.stream.append(2);
    h.stream.append(3);
    h.ch.reconnect();
    await settle();
    assert.deepEqual(h.got, [2, 3]);
  });

  it('bounds the buffer: past maxPending records are left in the stream and read by one more sync', async () => {
    const h = harness(2);
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    h.stream.append(2); // missed
    h.ch.onLive(h.stream.append(3)); // gap: sync starts, 3 buffered
    for (const o of [4, 5, 6, 7]) h.ch.onLive(h.stream.append(o)); // 4 buffered, 5.. dropped
    assert.ok(h.ch.pending.length <= 2);
    await settle();
    assert.deepEqual(h.got, [2, 3, 4, 5, 6, 7]);
    assert.equal(h.resets, 0);
    assert.equal(h.ch.syncing, false);
  });

  it('delivers groups of publications (group commit) whole, or their part after the delivered offset', async () => {
    const h = harness();
    h.stream.append(3, 'e1', 3); // offsets 1..3 in one message
    h.ch.start(await h.stream.head());
    h.ch.onLive(h.stream.append(6, 'e1', 3)); // 4..6
    assert.deepEqual(h.got, [4, 5, 6]);
    h.ch.onLive(rec(99, 7, 'e1', 2)); // 6..7 (overlaps what was delivered): only 7
    assert.deepEqual(h.got, [4, 5, 6, 7]);
    h.stream.recs.push(rec(h.stream.recs.length + 1, 7, 'e1', 2));
    h.stream.append(10, 'e1', 3); // 8..10 missed live
    h.ch.onLive(h.stream.append(12, 'e1', 2)); // 11..12: gap → fill from the stream
    await settle();
    assert.deepEqual(h.got, [4, 5, 6, 7, 8, 9, 10, 11, 12]);
    h.ch.onLive(rec(200, 2, 'e2', 2)); // a new epoch's first group 1..2
    assert.deepEqual(h.got.slice(-2), [1, 2]);
    assert.equal(h.resets, 0);
  });

  it('retries a failed read after a wait, and stops when unsubscribed or disconnected', async () => {
    const h = harness();
    h.stream.append(1);
    h.ch.start(await h.stream.head());
    h.stream.failNext = 2;
    h.stream.append(2);
    h.ch.onLive(h.stream.append(3));
    await settle();
    assert.deepEqual(h.waits, [0, 1]);
    assert.deepEqual(h.got, [2, 3]);

    h.state.connected = false;
    h.stream.append(4);
    h.ch.onLive(h.stream.append(5));
    await settle();
    assert.deepEqual(h.got, [2, 3], 'disconnected: the sync waits for reconnect()');
    h.state.connected = true;
    h.ch.reconnect();
    await settle();
    assert.deepEqual(h.got, [2, 3, 4, 5]);

    h.state.active = false;
    h.stream.append(6);
    h.ch.onLive(h.stream.append(7));
    await settle();
    assert.deepEqual(h.got, [2, 3, 4, 5], 'unsubscribed: nothing more');
  });
});
