/**
 * A connection's outbound side: a bounded queue of prepared frames, flushed as one socket write
 * per flush window, and the slow-client rule. Hub and clients both write through it, so neither
 * needs the other to send bytes.
 *
 * Slow clients: at each flush, if the socket's unsent bytes plus the queued ones pass
 * `maxQueueBytes`, the queue is dropped and the owner is told (it disconnects with 3008, slow).
 * Nobody else waits for a slow client.
 *
 * Bursts (recovered publications, a large recovery reply) are not the peer being slow: they
 * are exempt from that rule and streamed in slices of at most `sliceBytes`, each written only
 * once the socket has sent all but `sliceBytes` of what it holds (paced by the socket). Frames
 * queued meanwhile wait behind the burst, in order, and those count against `maxQueueBytes`.
 */
import type { Clock, TimerHandle } from './clock.js';
import type { GatewayStats } from './stats.js';
import type { PreparedFrame, TransportConnection } from './transport.js';

/** The writer's owner (a client): told once when its peer falls too far behind. */
export interface WriterOwner {
  onSlow(): void;
}

/**
 * Flushes every writer with queued frames. `delayMs` 0: at the end of the event-loop turn.
 * More: a connection written less than `delayMs` ago whose frames come closer together than
 * `delayMs` (the moving average of its gaps, `Writer.gapMs`) is hot; its frames wait `delayMs`
 * from the first of them and then go out in one write, so it is written at most once per
 * `delayMs`. Any other connection gets its frames at the end of the turn, as with 0: no added
 * latency while it is quiet, and none where a window could not merge anything (at 25 frames a
 * second a frame that came early after a late one would otherwise wait alone). A frame waits at
 * most `delayMs` (plus the flush itself).
 *
 * The clock is read once per synchronous run (`now()`, reset in a microtask), not once per
 * connection: a fan-out to thousands of connections reads it once.
 *
 * Counting from the first waiting frame (not from the last write) keeps bursts together: a feed
 * that sends a burst every 10 ms gets two bursts per write with a 16 ms delay, every time.
 * Hot writers due within the same millisecond share a batch and one timer (a fan-out makes one
 * batch per publication burst, whatever the number of connections).
 */
export class FlushScheduler {
  /** Written at the end of this turn. */
  private soon: Writer[] = [];
  private soonScheduled = false;
  /** Hot writers, in batches due in increasing time. */
  private batches: Batch[] = [];
  private timer: TimerHandle | null = null;
  private readonly flushSoonBound = (): void => this.flushSoon();
  private readonly dueBound = (): void => this.due();
  /** `now()`'s reading for the current synchronous run (valid while `turnNowSet`). */
  private turnNow = 0;
  private turnNowSet = false;
  private readonly endRunBound = (): void => {
    this.turnNowSet = false;
  };

  constructor(
    /** The write window, ms (0: none). */
    readonly delayMs: number,
    /** Also the clock of the writers this scheduler flushes (their pacing). */
    readonly clock: Clock,
  ) {}

  /** `clock.monotonic()`, read once per synchronous run: every frame of one fan-out sees the same time. */
  now(): number {
    if (!this.turnNowSet) {
      this.turnNow = this.clock.monotonic();
      this.turnNowSet = true;
      queueMicrotask(this.endRunBound);
    }
    return this.turnNow;
  }

  /**
   * Schedules `w`'s flush. `urgent` (a reply the peer waits for): at the end of the turn even
   * when the writer is hot, so commands never wait for the delay.
   */
  markDirty(w: Writer, urgent = false): void {
    if (w.dirty === DIRTY_SOON || (w.dirty === DIRTY_LATER && !urgent)) return;
    if (!urgent && this.delayMs > 0) {
      const now = this.now();
      // The gap between this connection's frames, averaged: the time since the previous frame
      // that found its queue empty, over the frames written since (one when quiet, all that a
      // window merged when hot). Counted here, once per queue, not once per frame.
      if (w.framesSinceMark > 0 && w.markedAt !== -Infinity) w.gapMs += ((now - w.markedAt) / w.framesSinceMark - w.gapMs) * GAP_WEIGHT;
      w.markedAt = now;
      w.framesSinceMark = 0;
      if (now - w.writtenAt < this.delayMs && w.gapMs < this.delayMs) {
        w.dirty = DIRTY_LATER;
        this.batchDueAt(now + this.delayMs).push(w);
        return;
      }
    }
    w.dirty = DIRTY_SOON;
    this.soon.push(w);
    if (this.soonScheduled) return;
    this.soonScheduled = true;
    setImmediate(this.flushSoonBound);
  }

  private batchDueAt(at: number): Writer[] {
    const last = this.batches[this.batches.length - 1];
    if (last !== undefined && at - last.at < 1) return last.writers;
    const batch: Batch = { at, writers: [] };
    this.batches.push(batch);
    if (this.timer === null) this.timer = this.clock.setTimeout(this.dueBound, this.delayMs);
    return batch.writers;
  }

  private flushSoon(): void {
    this.soonScheduled = false;
    const list = this.soon;
    this.soon = [];
    this.write(list);
  }

  /** Writes the batches that are due (timers fire on whole milliseconds: 1 ms of slack). */
  private due(): void {
    this.timer = null;
    const now = this.clock.monotonic();
    let n = 1;
    while (n < this.batches.length && this.batches[n]!.at <= now + 1) n++;
    const due = this.batches.splice(0, n);
    for (const b of due) this.write(b.writers);
    const next = this.batches[0];
    if (next !== undefined) this.timer = this.clock.setTimeout(this.dueBound, Math.max(1, next.at - now));
  }

  private write(list: Writer[]): void {
    const now = this.now();
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!;
      w.dirty = 0;
      w.flush();
      w.writtenAt = now;
    }
  }

  /** Writes what is queued now and stops the timer (shutdown). */
  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const list = this.soon;
    for (const b of this.batches) list.push(...b.writers);
    this.soon = [];
    this.batches = [];
    for (const w of list) {
      w.dirty = 0;
      w.flush();
    }
  }
}

/** Hot writers due at one time (`Clock.monotonic()` ms). */
interface Batch {
  readonly at: number;
  readonly writers: Writer[];
}

/** `Writer.dirty`: in the scheduler's list for the end of the turn, or in a hot batch. */
const DIRTY_SOON = 1;
const DIRTY_LATER = 2;

/**
 * Weight of the newest gap in `Writer.gapMs` (a moving average): 1/4 follows a change of rate
 * within a few frames and is not swung by one early frame.
 */
const GAP_WEIGHT = 0.25;
/**
 * Where `Writer.gapMs` starts, in windows: 1.25 makes the first gap open the window only when it
 * is under a quarter of the window (frames in quick succession); after a few gaps their average
 * decides.
 */
const GAP_START_WINDOWS = 1.25;

/** Largest slice of a burst written at once, bytes (smaller when maxQueueBytes is small). */
export const BURST_SLICE_BYTES = 64 * 1024;
/** How often a paced writer looks whether its socket has drained, ms. */
export const PACE_INTERVAL_MS = 2;

/** Items encoded one slice at a time, when they are about to be written. */
interface Burst {
  readonly items: readonly unknown[];
  readonly encode: (item: unknown) => PreparedFrame;
  next: number;
  /** Bytes of the items not yet written (their own measure, e.g. payload length). */
  remaining: number;
  readonly sizeOf: (item: unknown) => number;
}

/** A frame waiting behind a burst; `counted` ones count against maxQueueBytes. */
interface Waiting {
  readonly frame: PreparedFrame;
  readonly counted: boolean;
}

export class Writer {
  /** FlushScheduler's bookkeeping: when this writer was last written (`Clock.monotonic()`), and which list holds it. */
  writtenAt = -Infinity;
  dirty = 0;
  /**
   * Moving average of the time between this connection's frames, ms, kept by the scheduler only
   * with a write window (from GAP_START_WINDOWS windows). The window opens only below it.
   */
  gapMs = Infinity; // a number from the start: V8 keeps the field unboxed (no allocation per store)
  /** When a frame last found the queue empty (the scheduler's), and the frames written since. */
  markedAt = -Infinity;
  framesSinceMark = 0;
  private pending: PreparedFrame[] = [];
  private pendingBytes = 0;
  /** Conflation: index in `pending` of each key's queued frame (null until a keyed frame). */
  private latest: Map<string, number> | null = null;
  private closed = false;
  /** Paced mode: what waits behind a burst, in order (null: not paced). */
  private paced: (Burst | Waiting)[] | null = null;
  private pacedHead = 0;
  /** Counted bytes waiting in paced mode. */
  private pacedBytes = 0;
  /** Bytes of bursts not yet written (exempt from the slow rule). */
  private burstBytesLeft = 0;
  private paceTimer: TimerHandle | null = null;
  private readonly sliceBytes: number;

  constructor(
    private readonly conn: TransportConnection,
    private readonly scheduler: FlushScheduler,
    private readonly stats: GatewayStats,
    private readonly maxQueueBytes: number,
    private readonly owner: WriterOwner,
  ) {
    this.sliceBytes = Math.min(BURST_SLICE_BYTES, Math.floor(maxQueueBytes / 4));
    this.gapMs = scheduler.delayMs * GAP_START_WINDOWS;
  }

  /** Burst bytes queued and not yet handed to the socket. */
  get burstBytes(): number {
    return this.burstBytesLeft;
  }

  /** True while a burst is being streamed (or the socket has not yet drained after it). */
  get isPaced(): boolean {
    return this.paced !== null;
  }

  /** Frames queued and not yet written. */
  get queuedFrames(): number {
    return this.pending.length;
  }

  /**
   * Queues a prepared frame; written at the end of the flush window, or of the turn when
   * `urgent` (a reply: it takes what is queued before it along, in order) or when a slice's
   * worth is queued.
   */
  enqueue(frame: PreparedFrame, urgent = false): void {
    if (this.closed) return;
    if (this.paced !== null) return this.wait(frame, true);
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    if (this.pending.length === 1) this.scheduler.markDirty(this, urgent);
    // A hot writer's wait that already fills a slice ends with the turn: a larger write
    // saves nothing more, and waiting would only count against maxQueueBytes.
    else if (urgent || (this.dirty === DIRTY_LATER && this.pendingBytes >= this.sliceBytes)) this.scheduler.markDirty(this, true);
  }

  /**
   * Queues a frame that replaces the queued one with the same key, in its place (keep-latest
   * conflation): at most one frame per key waits in a window.
   */
  enqueueLatest(frame: PreparedFrame, key: string): void {
    if (this.closed) return;
    if (this.paced !== null) return this.wait(frame, true);
    const i = this.latest?.get(key);
    if (i !== undefined) {
      this.pendingBytes += frame.byteLength - this.pending[i]!.byteLength;
      this.pending[i] = frame;
      this.stats.conflated++;
      return;
    }
    (this.latest ??= new Map()).set(key, this.pending.length);
    this.enqueue(frame);
  }

  /**
   * Queues `items` as a burst: exempt from the slow rule, encoded and written a slice at a time
   * as the socket drains. `sizeOf` measures an item for the slice and for `burstBytes`.
   */
  enqueueBurst<T>(items: readonly T[], encode: (item: T) => PreparedFrame, sizeOf: (item: T) => number): void {
    if (this.closed || items.length === 0) return;
    let remaining = 0;
    for (const it of items) remaining += sizeOf(it);
    this.enterPaced();
    if (this.paced === null) return;
    this.burstBytesLeft += remaining;
    this.paced!.push({
      items,
      encode: encode as (item: unknown) => PreparedFrame,
      sizeOf: sizeOf as (item: unknown) => number,
      next: 0,
      remaining,
    });
  }

  /** Queues one frame exempt from the slow rule (a large reply that carries a burst). */
  enqueueExempt(frame: PreparedFrame): void {
    if (this.closed) return;
    this.enterPaced();
    if (this.paced !== null) this.wait(frame, false);
  }

  private enterPaced(): void {
    if (this.paced !== null) return;
    // Frames queued before the burst go before it, under the ordinary rule.
    this.flush();
    if (this.closed) return;
    this.paced = [];
    this.pacedHead = 0;
    this.pacedBytes = 0;
    this.schedulePace(0);
  }

  private wait(frame: PreparedFrame, counted: boolean): void {
    this.paced!.push({ frame, counted });
    if (!counted) return;
    this.pacedBytes += frame.byteLength;
    if (this.pacedBytes > this.maxQueueBytes) {
      this.stats.slowDisconnects++;
      this.clear();
      this.owner.onSlow();
    }
  }

  private schedulePace(ms: number): void {
    if (this.paceTimer !== null) return;
    this.paceTimer = this.scheduler.clock.setTimeout(() => {
      this.paceTimer = null;
      this.pace();
    }, ms);
  }

  /** Writes the next slice once the socket has drained to one slice; leaves paced mode after the last. */
  private pace(): void {
    const q = this.paced;
    if (this.closed || q === null) return;
    if (this.conn.bufferedAmount > this.sliceBytes) return this.schedulePace(PACE_INTERVAL_MS);
    if (this.pacedHead === q.length) {
      // Drained after the burst: back to the ordinary rule.
      this.paced = null;
      return;
    }
    const out: PreparedFrame[] = [];
    let bytes = 0;
    while (this.pacedHead < q.length && (out.length === 0 || bytes < this.sliceBytes)) {
      const head = q[this.pacedHead]!;
      if ('items' in head) {
        const item = head.items[head.next++];
        const f = head.encode(item);
        out.push(f);
        bytes += f.byteLength;
        const size = head.sizeOf(item);
        head.remaining -= size;
        this.burstBytesLeft -= size;
        if (head.next === head.items.length) this.pacedHead++;
      } else {
        out.push(head.frame);
        bytes += head.frame.byteLength;
        if (head.counted) this.pacedBytes -= head.frame.byteLength;
        this.pacedHead++;
      }
    }
    if (this.pacedHead === q.length) {
      q.length = 0;
      this.pacedHead = 0;
    } else if (this.pacedHead > 1024) {
      q.splice(0, this.pacedHead);
      this.pacedHead = 0;
    }
    this.stats.messagesOut += out.length;
    this.stats.bytesOut += bytes;
    this.conn.write(out);
    this.schedulePace(PACE_INTERVAL_MS);
  }

  /** Writes every queued frame in one socket write, or tells the owner the peer is too slow. */
  flush(): void {
    if (this.closed || this.pending.length === 0) return;
    if (this.conn.bufferedAmount + this.pendingBytes > this.maxQueueBytes) {
      this.stats.slowDisconnects++;
      this.clear();
      this.owner.onSlow();
      return;
    }
    this.writeNow();
  }

  /**
   * Writes `frame` now, after what is queued, past the queue check: the small last notice before
   * a close. In paced mode what waits behind the burst is dropped (the connection is closing).
   */
  writeLast(frame: PreparedFrame): void {
    if (this.closed) return;
    if (this.paced !== null) this.clear();
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    this.writeNow();
  }

  private writeNow(): void {
    const frames = this.pending;
    if (this.closed || frames.length === 0) return;
    this.stats.messagesOut += frames.length;
    this.stats.bytesOut += this.pendingBytes;
    this.framesSinceMark += frames.length;
    this.pending = [];
    this.pendingBytes = 0;
    this.latest = null;
    this.conn.write(frames);
  }

  /** Drops the queue; nothing more is written. Idempotent. */
  close(): void {
    this.closed = true;
    this.clear();
  }

  private clear(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.latest = null;
    this.paced = null;
    this.pacedHead = 0;
    this.pacedBytes = 0;
    this.burstBytesLeft = 0;
    if (this.paceTimer !== null) this.scheduler.clock.clearTimeout(this.paceTimer);
    this.paceTimer = null;
  }
}
