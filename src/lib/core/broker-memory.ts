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
import type { Clock } from './clock.js';
import { FATE_DUPLICATE, FATE_GAP, fenceSources, type SourcePositions } from './source-fence.js';

/** Default history kept when a publish names no size: none, as in Centrifugo. */
export const DEFAULT_MEMORY_HISTORY_SIZE = 0;
/** How long an idempotency key is remembered, ms. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 120_000;
/** Most idempotency keys remembered; past it the oldest are forgotten early. */
export const MAX_IDEMPOTENCY_KEYS = 1_000_000;

export interface MemoryBrokerOptions {
  /** Idempotency window, ms (default {@link DEFAULT_IDEMPOTENCY_WINDOW_MS}). */
  readonly idempotencyWindowMs?: number;
  /** Publication times, TTLs and the idempotency window (a fake clock in tests: no waiting). */
  readonly clock: Clock;
}

/** One channel's stream: a ring of the last `size` publications. */
class Stream {
  offset = 0;
  readonly epoch: string;
  /** Guarantee 6: the highest position stored per source. */
  sources: SourcePositions | undefined;
  private buf: (Publication | undefined)[] = [];
  private head = 0; // index of the oldest kept publication in buf
  private count = 0;

  constructor() {
    this.epoch = randomBytes(6).toString('hex');
  }

  add(pub: Publication, size: number): void {
    if (size <= 0) {
      this.buf = [];
      this.head = 0;
      this.count = 0;
      return;
    }
    if (this.buf.length !== size) this.resize(size);
    const idx = (this.head + this.count) % size;
    this.buf[idx] = pub;
    if (this.count < size) this.count++;
    else this.head = (this.head + 1) % size;
  }

  /** Drops publications older than `minTime`. */
  expire(minTime: number): void {
    while (this.count > 0) {
      const p = this.buf[this.head]!;
      if (p.time >= minTime) break;
      this.buf[this.head] = undefined;
      this.head = (this.head + 1) % this.buf.length;
      this.count--;
    }
  }

  /** Kept publications, oldest first. */
  all(): Publication[] {
    const out: Publication[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.buf[(this.head + i) % this.buf.length]!);
    return out;
  }

  private resize(size: number): void {
    const kept = this.all().slice(-size);
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
 */
export class MemoryBroker implements Broker, EphemeralPublisher {
  private handler: BrokerEventHandler | null = null;
  private readonly streams = new Map<string, Stream>();
  private readonly ttls = new Map<string, number>();
  private readonly subscribed = new Set<string>();
  private readonly idempotency = new Map<string, { pos: StreamPosition; expires: number }>();
  private readonly windowMs: number;
  private readonly clock: Clock;
  private closed = false;

  constructor(opts: MemoryBrokerOptions) {
    this.windowMs = opts.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
    this.clock = opts.clock;
  }

  async run(handler: BrokerEventHandler): Promise<void> {
    this.handler = handler;
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
      stream = new Stream();
      this.streams.set(channel, stream);
    }
    if (opts.source) {
      const f = fenceSources(stream.sources, [opts.source]);
      if (f.fates[0] === FATE_DUPLICATE) return { offset: stream.offset, epoch: stream.epoch, duplicate: true };
      if (f.fates[0] === FATE_GAP)
        throw new BrokerError('conflict', `${opts.source.id} ${opts.source.after ?? ''} is not in ${channel}: publish it first`);
      stream.sources = f.next;
    }
    stream.offset++;
    const pub: Publication = {
      channel,
      offset: stream.offset,
      epoch: stream.epoch,
      data,
      time: now,
      ...(opts.tags ? { tags: opts.tags } : {}),
      ...(opts.info ? { info: opts.info } : {}),
    };
    stream.add(pub, opts.historySize ?? DEFAULT_MEMORY_HISTORY_SIZE);
    if (opts.historyTtlMs !== undefined) this.ttls.set(channel, opts.historyTtlMs);
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
  }

  async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    let stream = this.streams.get(channel);
    if (!stream) {
      // A channel nobody published to still gets its epoch now, so a client that subscribes
      // before the first publication can recover from offset 0 of this epoch.
      stream = new Stream();
      this.streams.set(channel, stream);
    }
    const ttl = this.ttls.get(channel);
    if (ttl !== undefined) stream.expire(this.clock.now() - ttl);
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
    this.streams.delete(channel);
    this.ttls.delete(channel);
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    this.subscribed.clear();
  }

  /** Keys are kept in expiry order, so pruning stops at the first live one: O(expired). */
  private pruneIdempotency(now: number): void {
    for (const [k, v] of this.idempotency) {
      if (v.expires > now && this.idempotency.size <= MAX_IDEMPOTENCY_KEYS) break;
      this.idempotency.delete(k);
    }
  }
}
