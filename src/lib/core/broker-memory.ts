import { randomBytes } from 'node:crypto';
import {
  BrokerError,
  type Broker,
  type EphemeralPublisher,
  type BrokerEventHandler,
  type HistoryOptions,
  type HistoryResult,
  type Publication,
  type PublishOptions,
  type PublishResult,
  type StreamPosition,
} from './broker.js';
import type { Clock, TimerHandle } from './clock.js';
import { DEFAULT_MAX_CHANNELS, DEFAULT_MAX_HISTORY_BYTES } from './options.js';
import { FATE_DUPLICATE, FATE_GAP, fenceSources, type SourcePositions } from './source-fence.js';

/** Default history kept when a publish names no size: none, as in Centrifugo. */
export const DEFAULT_MEMORY_HISTORY_SIZE = 0;
/** How long an idempotency key is remembered, ms. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 120_000;
/** Most idempotency keys remembered; past it the oldest are forgotten early. */
export const MAX_IDEMPOTENCY_KEYS = 1_000_000;
/** How often expired history is dropped and channels nobody holds are freed, ms. */
export const DEFAULT_SWEEP_INTERVAL_MS = 1000;
/** Channels one sweep visits at most (a pass over more takes several sweeps). */
const SWEEP_BATCH = 50_000;

export interface MemoryBrokerOptions {
  /** Idempotency window, ms (default {@link DEFAULT_IDEMPOTENCY_WINDOW_MS}). */
  readonly idempotencyWindowMs?: number;
  /** Publication times, TTLs and the idempotency window (a fake clock in tests: no waiting). */
  readonly clock: Clock;
  /**
   * Channels held at once (limits.maxChannels, {@link DEFAULT_MAX_CHANNELS}): a publication or history read
   * that would add one more is refused with BrokerError 'limit' (API 106). Subscribed channels
   * are not refused here: the hub bounds them (limits.maxChannels).
   */
  readonly maxChannels?: number;
  /**
   * Payload bytes kept in history over all channels (limits.maxHistoryBytes, {@link DEFAULT_MAX_HISTORY_BYTES}):
   * a publication that would pass it is refused with BrokerError 'limit' (API 106), not stored.
   */
  readonly maxHistoryBytes?: number;
  /**
   * How often the broker drops expired history and frees channels nobody subscribes to whose
   * history is empty, ms ({@link DEFAULT_SWEEP_INTERVAL_MS}); 0: no timer (tests call `sweep()`).
   */
  readonly sweepIntervalMs?: number;
}

/** What the memory broker holds and has refused (exported on /metrics). */
export interface MemoryBrokerUsage {
  readonly channels: number;
  readonly historyBytes: number;
  /** Publications and reads refused by maxChannels / maxHistoryBytes. */
  readonly refusals: { readonly channels: number; readonly history_bytes: number };
}

/** Payload size of a publication, as counted against maxHistoryBytes. */
const sizeOf = (p: Publication): number => p.data.length;

/** One channel's stream: a ring of the last `size` publications. */
class Stream {
  offset = 0;
  readonly epoch: string;
  /** Guarantee 6: the highest position stored per source. */
  sources: SourcePositions | undefined;
  /** History time to live, ms (0: none). */
  ttlMs = 0;
  /** Payload bytes of the kept publications. */
  bytes = 0;
  /** When the stream was created or last published to, ms (frees channels nobody uses). */
  touched: number;
  private buf: (Publication | undefined)[] = [];
  private head = 0; // index of the oldest kept publication in buf
  count = 0;

  constructor(now: number) {
    this.epoch = randomBytes(6).toString('hex');
    this.touched = now;
  }

  /** Bytes `add(pub, size)` would add to the history held (negative: it frees some). */
  growth(pub: Publication, size: number): number {
    if (size <= 0) return -this.bytes;
    if (this.buf.length === size && this.count === size) return sizeOf(pub) - sizeOf(this.buf[this.head]!);
    return sizeOf(pub);
  }

  /** Appends; returns the change in bytes held. */
  add(pub: Publication, size: number): number {
    const before = this.bytes;
    if (size <= 0) {
      this.buf = [];
      this.head = 0;
      this.count = 0;
      this.bytes = 0;
      return -before;
    }
    if (this.buf.length !== size) this.resize(size);
    const idx = (this.head + this.count) % size;
    if (this.count === size) {
      this.bytes -= sizeOf(this.buf[idx]!);
      this.head = (this.head + 1) % size;
    } else this.count++;
    this.buf[idx] = pub;
    this.bytes += sizeOf(pub);
    return this.bytes - before;
  }

  /** Drops publications older than `minTime`; returns the bytes freed. */
  expire(minTime: number): number {
    const before = this.bytes;
    while (this.count > 0) {
      const p = this.buf[this.head]!;
      if (p.time >= minTime) break;
      this.buf[this.head] = undefined;
      this.bytes -= sizeOf(p);
      this.head = (this.head + 1) % this.buf.length;
      this.count--;
    }
    if (this.count === 0) {
      this.buf = [];
      this.head = 0;
    }
    return before - this.bytes;
  }

  /** Kept publications, oldest first. */
  all(): Publication[] {
    const out: Publication[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.buf[(this.head + i) % this.buf.length]!);
    return out;
  }

  private resize(size: number): void {
    const all = this.all();
    const kept = all.slice(-size);
    for (let i = 0; i < all.length - kept.length; i++) this.bytes -= sizeOf(all[i]!);
    this.buf = new Array<Publication | undefined>(size);
    for (let i = 0; i < kept.length; i++) this.buf[i] = kept[i];
    this.head = 0;
    this.count = kept.length;
  }
}

/**
 * A broker inside one process: the embedded default. History lives in memory, so a restart
 * starts every channel in a new epoch (clients are then told "not recovered", never given
 * a partial history). Delivery is synchronous, in publish order.
 *
 * Bounded state: a channel nobody subscribes to whose history is empty (never published, or
 * expired) is freed — at once when its last subscriber leaves, otherwise by the sweep timer,
 * which also drops expired history whether or not anyone reads it. A freed channel that comes
 * back starts a new epoch (guarantee 2: its history was lost), so recovery says "not
 * recovered". Channels and history bytes are capped node-wide (maxChannels, maxHistoryBytes).
 */
export class MemoryBroker implements Broker, EphemeralPublisher {
  private handler: BrokerEventHandler | null = null;
  private readonly streams = new Map<string, Stream>();
  private readonly subscribed = new Set<string>();
  private readonly idempotency = new Map<string, { pos: StreamPosition; expires: number }>();
  private readonly windowMs: number;
  private readonly clock: Clock;
  private readonly maxChannels: number;
  private readonly maxHistoryBytes: number;
  private readonly sweepIntervalMs: number;
  private sweepTimer: TimerHandle | null = null;
  /** Channels the next sweep skips (where the last one stopped). */
  private sweepFrom = 0;
  private heldBytes = 0;
  private readonly refused = { channels: 0, history_bytes: 0 };
  private closed = false;

  constructor(opts: MemoryBrokerOptions) {
    this.windowMs = opts.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
    this.clock = opts.clock;
    this.maxChannels = opts.maxChannels ?? DEFAULT_MAX_CHANNELS;
    this.maxHistoryBytes = opts.maxHistoryBytes ?? DEFAULT_MAX_HISTORY_BYTES;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  }

  /** Channels and history bytes held now, and the refusals so far. */
  get usage(): MemoryBrokerUsage {
    return { channels: this.streams.size, historyBytes: this.heldBytes, refusals: { ...this.refused } };
  }

  async run(handler: BrokerEventHandler): Promise<void> {
    this.handler = handler;
    this.scheduleSweep();
  }

  async publish(channel: string, data: string, opts: PublishOptions = {}): Promise<PublishResult> {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    const now = this.clock.now();
    if (opts.idempotencyKey !== undefined) {
      const seen = this.idempotency.get(channel + '\u0000' + opts.idempotencyKey);
      if (seen && seen.expires > now) return seen.pos;
      this.pruneIdempotency(now);
    }
    let stream = this.streams.get(channel);
    if (!stream) {
      this.checkNewChannel(channel);
      stream = new Stream(now);
      this.streams.set(channel, stream);
    }
    if (opts.source) {
      const f = fenceSources(stream.sources, [opts.source]);
      if (f.fates[0] === FATE_DUPLICATE) return { offset: stream.offset, epoch: stream.epoch, duplicate: true };
      if (f.fates[0] === FATE_GAP)
        throw new BrokerError('conflict', `${opts.source.id} ${opts.source.after ?? ''} is not in ${channel}: publish it first`);
      stream.sources = f.next;
    }
    const pub: Publication = {
      channel,
      offset: stream.offset + 1,
      epoch: stream.epoch,
      data,
      time: now,
      ...(opts.tags ? { tags: opts.tags } : {}),
      ...(opts.info ? { info: opts.info } : {}),
    };
    const size = opts.historySize ?? DEFAULT_MEMORY_HISTORY_SIZE;
    const growth = stream.growth(pub, size);
    if (growth > 0 && this.heldBytes + growth > this.maxHistoryBytes) {
      this.refused.history_bytes++;
      if (stream.offset === 0 && !this.subscribed.has(channel)) this.streams.delete(channel);
      throw new BrokerError('limit', `node history is full (maxHistoryBytes ${this.maxHistoryBytes})`);
    }
    stream.offset++;
    stream.touched = now;
    this.heldBytes += stream.add(pub, size);
    if (opts.historyTtlMs !== undefined) stream.ttlMs = opts.historyTtlMs;
    const pos = { offset: pub.offset, epoch: pub.epoch };
    if (opts.idempotencyKey !== undefined) {
      const key = channel + '\u0000' + opts.idempotencyKey;
      // Re-inserted at the end, so the map stays in expiry order (see pruneIdempotency).
      this.idempotency.delete(key);
      this.idempotency.set(key, { pos, expires: now + this.windowMs });
    }
    if (this.handler && this.subscribed.has(channel)) this.handler.onPublication(pub);
    return pos;
  }

  async publishEphemeral(channel: string, data: string, opts: PublishOptions = {}): Promise<StreamPosition> {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    const epoch = this.streams.get(channel)?.epoch ?? '';
    const pub: Publication = {
      channel,
      offset: 0,
      epoch,
      data,
      time: this.clock.now(),
      ...(opts.tags ? { tags: opts.tags } : {}),
      ...(opts.info ? { info: opts.info } : {}),
    };
    if (this.handler && this.subscribed.has(channel)) this.handler.onPublication(pub);
    return { offset: 0, epoch };
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
    const stream = this.streams.get(channel);
    // Nobody here wants it and it holds nothing: freed now, not at the next sweep.
    if (stream && this.releasable(stream, this.clock.now())) this.streams.delete(channel);
  }

  async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    let stream = this.streams.get(channel);
    if (!stream) {
      // A channel nobody published to still gets its epoch now, so a client that subscribes
      // before the first publication can recover from offset 0 of this epoch.
      if (!this.subscribed.has(channel)) this.checkNewChannel(channel);
      stream = new Stream(this.clock.now());
      this.streams.set(channel, stream);
    }
    if (stream.ttlMs > 0) this.heldBytes -= stream.expire(this.clock.now() - stream.ttlMs);
    const position = { offset: stream.offset, epoch: stream.epoch };
    if (opts.limit <= 0) return { publications: [], position };
    let pubs = stream.all();
    if (opts.since) {
      const after = opts.since.offset;
      pubs = pubs.filter((p) => p.offset > after);
    }
    if (opts.reverse) pubs.reverse();
    if (pubs.length > opts.limit) pubs = pubs.slice(0, opts.limit);
    return { publications: pubs, position };
  }

  async removeHistory(channel: string): Promise<void> {
    const stream = this.streams.get(channel);
    if (!stream) return;
    this.heldBytes -= stream.bytes;
    this.streams.delete(channel);
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    this.subscribed.clear();
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** The next sweep, sweepIntervalMs from now (a background timer: it keeps no process alive). */
  private scheduleSweep(): void {
    if (this.sweepIntervalMs <= 0 || this.sweepTimer !== null || this.closed) return;
    this.sweepTimer = this.clock.setTimeout(
      () => {
        this.sweepTimer = null;
        this.sweep();
        this.scheduleSweep();
      },
      this.sweepIntervalMs,
      { background: true },
    );
  }

  /**
   * Drops expired history and frees channels nobody holds, visiting at most SWEEP_BATCH
   * channels (the next call goes on from there). Called by the timer every sweepIntervalMs.
   * The place is kept as a count of channels to skip, not as a live Map iterator: a live
   * iterator keeps every table the Map outgrows or shrinks from alive until it moves on.
   */
  sweep(): void {
    const now = this.clock.now();
    let seen = 0;
    let visited = 0;
    let kept = 0;
    for (const [channel, stream] of this.streams) {
      if (seen++ < this.sweepFrom) continue;
      if (visited++ >= SWEEP_BATCH) break;
      if (stream.ttlMs > 0) this.heldBytes -= stream.expire(now - stream.ttlMs);
      if (this.releasable(stream, now) && !this.subscribed.has(channel)) this.streams.delete(channel);
      else kept++;
    }
    // Past the end: the next sweep starts over.
    this.sweepFrom = visited > SWEEP_BATCH ? this.sweepFrom + kept : 0;
  }

  /**
   * An unsubscribed stream whose history is empty holds nothing worth keeping: its epoch (a
   * new one is as good: recovery answers "not recovered") and, when it was published to, its
   * source fences, kept an idempotency window past its last publication so that a replaying
   * writer's duplicates are still recognised.
   */
  private releasable(stream: Stream, now: number): boolean {
    if (stream.count > 0) return false;
    if (stream.sources === undefined) return true;
    return now - stream.touched >= this.windowMs;
  }

  private checkNewChannel(channel: string): void {
    if (this.streams.size < this.maxChannels) return;
    this.refused.channels++;
    throw new BrokerError('limit', `node channel limit reached (maxChannels ${this.maxChannels}); ${channel.slice(0, 64)} not created`);
  }

  /** Keys are kept in expiry order, so pruning stops at the first live one: O(expired). */
  private pruneIdempotency(now: number): void {
    for (const [k, v] of this.idempotency) {
      if (v.expires > now && this.idempotency.size <= MAX_IDEMPOTENCY_KEYS) break;
      this.idempotency.delete(k);
    }
  }
}
