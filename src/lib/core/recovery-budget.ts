/**
 * The node's recovery budget: recovered payload bytes per second, a token bucket (burst: one
 * second's worth) shared by all connections, with a smaller bucket (`anonymousShare` of the
 * rate) that anonymous connections must also draw on, so they cannot exhaust the node's budget.
 * A recovery is admitted while the buckets are not empty and charged its real size afterwards
 * (possibly overdrawing: the next ones wait for the refill), so a refusal costs no history read.
 */
import { TokenBucket } from './token-bucket.js';

export interface RecoveryBudgetOptions {
  readonly bytesPerSecond: number;
  readonly anonymousShare: number;
}

export class RecoveryBudget {
  private readonly all: TokenBucket;
  private readonly anonymous: TokenBucket;

  constructor(
    opts: RecoveryBudgetOptions,
    private readonly now: () => number = Date.now,
  ) {
    const t = now();
    // Burst: one second's worth.
    this.all = new TokenBucket(opts.bytesPerSecond, opts.bytesPerSecond, t);
    const anonymousRate = opts.bytesPerSecond * opts.anonymousShare;
    this.anonymous = new TokenBucket(anonymousRate, anonymousRate, t);
  }

  /** Whether a recovery may start now. */
  admits(anonymous: boolean): boolean {
    const t = this.now();
    this.all.refill(t);
    if (!this.all.available) return false;
    if (!anonymous) return true;
    this.anonymous.refill(t);
    return this.anonymous.available;
  }

  /** Charges a recovery's bytes once its size is known. */
  charge(bytes: number, anonymous: boolean): void {
    this.all.take(bytes);
    if (anonymous) this.anonymous.take(bytes);
  }
}
