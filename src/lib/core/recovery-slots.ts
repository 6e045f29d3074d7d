/**
 * How many recoveries (history reads that return publications) one gateway runs at once. A
 * reconnect storm — every client of a restarted node back within a second, each asking for its
 * missed publications — would otherwise send thousands of range reads to the broker together.
 * Past `maxConcurrent` a recovery waits its turn (first come, first served); past
 * `maxWaiting` waiters it is refused at once (the caller answers 111, temporary, with a retry
 * hint), which costs neither a read nor a place in the queue.
 */
export interface RecoverySlotsOptions {
  readonly maxConcurrent: number;
  readonly maxWaiting: number;
}

/** Granted: run, then call `release` exactly once. */
export type SlotRelease = () => void;

export class RecoverySlots {
  /** Recoveries running now. */
  active = 0;
  /** The most that ever ran at once (never above maxConcurrent: shown on /metrics to prove it). */
  peak = 0;
  private readonly queue: ((release: SlotRelease) => void)[] = [];
  private head = 0;

  constructor(private readonly opts: RecoverySlotsOptions) {}

  /** Recoveries queued for a slot. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * A slot now, a promise of one once a running recovery ends, or null when the queue is
   * full (refuse). The release is idempotent.
   */
  acquire(): SlotRelease | Promise<SlotRelease> | null {
    if (this.active < this.opts.maxConcurrent) return this.grant();
    if (this.waiting >= this.opts.maxWaiting) return null;
    return new Promise<SlotRelease>((resolve) => this.queue.push(resolve));
  }

  private grant(): SlotRelease {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.next();
    };
  }

  private next(): void {
    if (this.head === this.queue.length || this.active >= this.opts.maxConcurrent) return;
    const resolve = this.queue[this.head]!;
    this.queue[this.head++] = undefined as never;
    // Compact now and then so the array does not grow with every waiter ever queued.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    } else if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    resolve(this.grant());
  }
}
