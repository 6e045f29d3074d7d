/**
 * The ingest seam: a backbone feed (NATS subjects, Kafka topics) turned into publications.
 *
 * An Ingest reads messages that existing publishers write to a backbone and hands each one,
 * as a publication on a channel, to an IngestSink: the gateway's publish path (namespaces,
 * history options and the broker apply), whichever broker the gateway runs, memory included.
 *
 * Guarantees every implementation gives (and tests):
 *  1. Lifecycle: `start()` resolves once the feed is subscribed (messages published after it
 *     are ingested) or rejects with a clear error (backbone unreachable, bad rule). `stop()`
 *     stops reading, waits for the publications already handed to the sink to settle, releases
 *     its connections, and is idempotent. No message is handed to the sink after `stop()`
 *     resolves.
 *  2. Delivery: every message that maps to a channel and parses is handed to the sink once,
 *     in the order the backbone delivered it to this ingest (per channel: the sink receives a
 *     channel's publications in that order and calls are not reordered).
 *  3. Dedup only by a real message id: the message's own id (`Nats-Msg-Id`; the Odin
 *     event's `id`) becomes the publication's `idempotencyKey`; a replayable feed's position
 *     (Kafka topic+partition+offset) becomes its `source` (Broker guarantee 6). Never by
 *     payload content: two byte-identical messages without an id are two publications (a
 *     repeated trade or price is a legitimate event).
 *  4. Bounded: at most `maxInFlight` publications wait on the sink; past that a message is
 *     dropped and counted (`dropped`), never queued without bound. A sink error is counted
 *     (`failed`) and reported through `onError`; it never stops the ingest.
 *  5. Health: `health()` is cheap and synchronous: counters, whether the backbone is
 *     connected, the publications waiting on the sink and the age of the oldest of them
 *     (`lagMs`: how far the gateway is behind the feed; 0 when idle).
 *  6. Several processes on one feed: an implementation says how it avoids multiplying the
 *     work per message (a lease, a queue group, partitions) and `reading` tells whether this
 *     process is the one reading now.
 */
import type { PublishOptions, PublishResult } from './broker.js';
import type { Clock } from './clock.js';

/** Where an ingest delivers: the gateway's publish (or a broker's, in tests and tools). */
export interface IngestSink {
  publish(channel: string, data: string, opts?: PublishOptions): Promise<PublishResult>;
}

export interface IngestCounters {
  /** Messages read from the backbone. */
  received: number;
  /** Publications the sink accepted. */
  published: number;
  /** Not JSON, no matching rule, or over the in-flight bound (guarantee 4). */
  dropped: number;
  /** The sink refused the publication (broker unavailable, bad channel). */
  failed: number;
}

export interface IngestHealth extends IngestCounters {
  /** Which backbone: 'nats', 'kafka'. */
  readonly kind: string;
  /** Started and not stopped. */
  readonly running: boolean;
  /** The backbone connection is up. */
  readonly connected: boolean;
  /**
   * This process reads the feed now: the backbone has confirmed its subscription or assignment
   * (false: not yet, or another process holds it, guarantee 6).
   */
  readonly reading: boolean;
  /** Publications handed to the sink and not settled yet. */
  readonly inFlight: number;
  /** Age of the oldest of those, ms (0 when none): the ingest's lag behind the feed. */
  readonly lagMs: number;
}

export interface Ingest {
  readonly kind: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): IngestHealth;
}

/** Publications in flight from one ingest before new messages are dropped (and counted). */
export const DEFAULT_INGEST_MAX_IN_FLIGHT = 10_000;

/**
 * The bookkeeping of guarantees 4 and 5, shared by implementations: counts, the in-flight
 * bound, and the lag as the age of the oldest unsettled publication (publications settle
 * roughly in order, so a FIFO of start times with lazy removal is enough).
 */
export class IngestTracker {
  readonly counters: IngestCounters = { received: 0, published: 0, dropped: 0, failed: 0 };
  private readonly started: number[] = [];
  private head = 0;
  private readonly settled = new Set<number>();
  private nextId = 0;
  private firstId = 0;
  private idle: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    readonly maxInFlight: number = DEFAULT_INGEST_MAX_IN_FLIGHT,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError('maxInFlight must be a positive integer');
  }

  get inFlight(): number {
    return this.nextId - this.firstId - this.settled.size;
  }

  /** Hands one publication to `publish` unless over the bound (then counts a drop). */
  track(publish: () => Promise<unknown>, onError: (err: unknown) => void): boolean {
    if (this.inFlight >= this.maxInFlight) {
      this.counters.dropped++;
      return false;
    }
    const id = this.nextId++;
    this.started.push(this.clock.now());
    publish().then(
      () => {
        this.counters.published++;
        this.settle(id);
      },
      (err: unknown) => {
        this.counters.failed++;
        this.settle(id);
        onError(err);
      },
    );
    return true;
  }

  lagMs(now = this.clock.now()): number {
    return this.inFlight === 0 ? 0 : Math.max(0, now - this.started[this.head]!);
  }

  /** Resolves when nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.idle;
      this.idle = () => {
        prev?.();
        resolve();
      };
    });
  }

  private settle(id: number): void {
    this.settled.add(id);
    while (this.settled.delete(this.firstId)) {
      this.firstId++;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.started.length) {
      this.started.splice(0, this.head);
      this.head = 0;
    }
    if (this.inFlight === 0 && this.idle) {
      const f = this.idle;
      this.idle = null;
      f();
    }
  }
}
