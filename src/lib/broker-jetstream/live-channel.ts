/**
 * One subscribed channel's live delivery on this node: the gap-fill state machine.
 *
 * Live records arrive over core NATS (at most once, in stream order). The machine delivers
 * each publication exactly once, in offset order, or says plainly that some were lost:
 *  - a record holds a group of publications (records.ts): the part after the delivered offset
 *    is delivered when the group starts at or before the next offset;
 *  - next offset → deliver; an old offset (or a marker) → drop; a gap → buffer live records
 *    (`syncing`) and fill from the stream (`source.range`), then drain the buffer;
 *  - the stream no longer holds what is missing → `sink.reset()` (the hub tells clients) and
 *    continue from the head;
 *  - a record of a new epoch with offset ≤ 1 is a new run of the channel (purge, expiry):
 *    nothing of it was skipped;
 *  - the buffer is bounded (`maxPending`): past it records are not kept (they are in the
 *    stream) and one more sync runs after the current one;
 *  - `reconnect()` re-reads the head, so a tail missed while disconnected is not hidden until
 *    the next publication.
 * It does no IO itself: the stream is reached through `source`, so it is unit-tested with an
 * in-memory stream (test/broker-jetstream/live-channel.unit.test.ts).
 */
import type { Head, StoredRecord } from './records.js';

/** Live messages buffered per channel while it is being filled from the stream. */
export const MAX_PENDING = 10_000;

export interface LiveChannelSource {
  /** The channel's last record (seq 0: the channel holds nothing). */
  head(): Promise<Head>;
  /** Records of `head.epoch` with offset > after, oldest first, up to the head (may be short). */
  range(head: Head, after: number): Promise<StoredRecord[]>;
}

export interface LiveChannelSink {
  /** Delivers the record's publications with offset > `after`, in order. */
  deliver(r: StoredRecord, after: number): void;
  /** Publications may have been skipped (guarantee: never silently). */
  reset(): void;
}

export interface LiveChannelEnv {
  /** False once unsubscribed or closed: the machine stops at its next step. */
  active(): boolean;
  /** False while disconnected: a sync gives up and `reconnect()` starts it again. */
  connected(): boolean;
  /** Waits before sync attempt `attempt` + 1 after a failed read. */
  retryWait(attempt: number): Promise<void>;
}

export class LiveChannel {
  epoch = '';
  offset = 0;
  /** True while the channel is being (re)synchronised from the stream; live records wait. */
  syncing = true;
  /** A sync is in flight. */
  syncRunning = false;
  /** Sync once more when the running one ends (buffer overflow, reconnect during a sync). */
  resync = false;
  /** The baseline position was read (subscribe done). */
  ready = false;
  pending: StoredRecord[] = [];

  constructor(
    readonly channel: string,
    private readonly source: LiveChannelSource,
    private readonly sink: LiveChannelSink,
    private readonly env: LiveChannelEnv,
    private readonly maxPending = MAX_PENDING,
  ) {}

  /** Subscribe done: `head` was read after the live subscription was registered. */
  start(head: Head): void {
    this.epoch = head.epoch;
    this.offset = head.offset;
    this.ready = true;
    this.drain();
  }

  /** A live record from the subscription. */
  onLive(r: StoredRecord): void {
    if (this.syncing) {
      if (this.pending.length < this.maxPending) this.pending.push(r);
      else this.resync = true; // they are in the stream: the next sync reads them
      return;
    }
    this.accept(r);
  }

  /** The connection came back: anything published meanwhile is in the stream. */
  reconnect(): void {
    if (this.ready) this.requestSync();
  }

  stop(): void {
    this.pending = [];
  }

  /** Applies one live record; starts a sync from the stream on a gap. */
  private accept(r: StoredRecord): void {
    const first = r.offset - r.count + 1;
    if (r.epoch === this.epoch) {
      if (r.offset <= this.offset) return; // already delivered (or a marker)
      if (first <= this.offset + 1) {
        const after = this.offset;
        this.offset = r.offset;
        this.sink.deliver(r, after);
        return;
      }
    } else if (first <= 1) {
      // A new run of the channel (purge, expiry, recreation) starts here: nothing of it was
      // skipped. The hub sees the new epoch on the publication, as with the memory broker.
      this.epoch = r.epoch;
      this.offset = r.offset;
      if (r.offset >= 1) this.sink.deliver(r, 0);
      return;
    }
    this.pending.push(r);
    this.requestSync();
  }

  /** Delivers buffered live records in order, once a sync has set the position. */
  private drain(): void {
    this.syncing = false;
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i++) {
      this.accept(pending[i]!);
      if (this.syncing) {
        // a gap inside the buffer: the rest waits behind the record that started the sync
        for (let j = i + 1; j < pending.length; j++) this.pending.push(pending[j]!);
        return;
      }
    }
  }

  /** Starts a sync unless one runs (then it runs once more afterwards). */
  private requestSync(): void {
    this.syncing = true;
    if (this.syncRunning) {
      this.resync = true;
      return;
    }
    this.syncRunning = true;
    void this.runSync();
  }

  private async runSync(): Promise<void> {
    const done = await this.syncOnce().finally(() => {
      this.syncRunning = false;
    });
    // Not done: unsubscribed, closed, or disconnected; reconnect() asks again.
    if (!done) return;
    if (this.resync) {
      this.resync = false;
      this.requestSync();
      return;
    }
    this.drain();
  }

  /**
   * Brings the channel from its delivered position up to the stream's head: delivers what is
   * missing in order, or, when the stream no longer holds it, resets and continues from the
   * head. Retries while the broker is reachable.
   */
  private async syncOnce(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (!this.env.active() || !this.env.connected()) return false;
      try {
        const head = await this.source.head();
        if (!this.env.active()) return false;
        if (head.seq === 0) {
          // The channel is empty now: its history was dropped; anything undelivered is gone.
          if (this.offset > 0) this.sink.reset();
          this.epoch = '';
          this.offset = 0;
          return true;
        }
        const after = head.epoch === this.epoch ? this.offset : 0;
        if (head.offset > after) {
          const recs = await this.source.range(head, after);
          if (!this.env.active()) return false;
          const first = recs[0];
          let n = 0;
          for (const r of recs) n += Math.min(r.count, r.offset - after);
          const contiguous = n === head.offset - after && first !== undefined && first.offset - first.count + 1 <= after + 1;
          if (contiguous) {
            this.epoch = head.epoch;
            for (const r of recs) {
              const from = this.offset;
              this.offset = r.offset;
              this.sink.deliver(r, from);
            }
          } else {
            this.sink.reset();
          }
        }
        this.epoch = head.epoch;
        if (head.offset > this.offset || after === 0) this.offset = head.offset;
        return true;
      } catch {
        await this.env.retryWait(attempt);
      }
    }
  }
}
