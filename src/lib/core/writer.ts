/**
 * A connection's outbound side: a bounded queue of prepared frames, flushed as one socket write
 * per flush window, and the slow-client rule. Hub and clients both write through it, so neither
 * needs the other to send bytes.
 *
 * Slow clients: at each flush, if the socket's unsent bytes plus the queued ones pass
 * `maxQueueBytes`, the queue is dropped and the owner is told (it disconnects with 3008, slow).
 * Nobody else waits for a slow client.
 */
import type { GatewayStats } from './stats.js';
import type { PreparedFrame, TransportConnection } from './transport.js';

/** The writer's owner (a client): told once when its peer falls too far behind. */
export interface WriterOwner {
  onSlow(): void;
}

/**
 * Flushes every writer with queued frames once per window: at the end of the event-loop turn
 * (`delayMs` 0), or `delayMs` after the first frame of the window (frames of those ms go out in
 * one write per connection).
 */
export class FlushScheduler {
  private dirty: Writer[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly flushBound = (): void => this.flush();

  constructor(private readonly delayMs: number) {}

  markDirty(w: Writer): void {
    this.dirty.push(w);
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.delayMs === 0) setImmediate(this.flushBound);
    else this.timer = setTimeout(this.flushBound, this.delayMs);
  }

  flush(): void {
    this.scheduled = false;
    this.timer = null;
    const list = this.dirty;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) list[i]!.flush();
  }

  /** Writes what is queued now and stops the timer (shutdown). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.flush();
  }
}

export class Writer {
  private pending: PreparedFrame[] = [];
  private pendingBytes = 0;
  /** Conflation: index in `pending` of each key's queued frame (null until a keyed frame). */
  private latest: Map<string, number> | null = null;
  private closed = false;

  constructor(
    private readonly conn: TransportConnection,
    private readonly scheduler: FlushScheduler,
    private readonly stats: GatewayStats,
    private readonly maxQueueBytes: number,
    private readonly owner: WriterOwner,
  ) {}

  /** Frames queued and not yet written. */
  get queuedFrames(): number {
    return this.pending.length;
  }

  /** Queues a prepared frame; written at the end of the flush window. */
  enqueue(frame: PreparedFrame): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    if (this.pending.length === 1) this.scheduler.markDirty(this);
  }

  /**
   * Queues a frame that replaces the queued one with the same key, in its place (keep-latest
   * conflation): at most one frame per key waits in a window.
   */
  enqueueLatest(frame: PreparedFrame, key: string): void {
    if (this.closed) return;
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

  /** Writes what is queued at once, past the queue check (a small last notice before a close). */
  writeNow(): void {
    const frames = this.pending;
    if (this.closed || frames.length === 0) return;
    this.stats.messagesOut += frames.length;
    this.stats.bytesOut += this.pendingBytes;
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
  }
}
