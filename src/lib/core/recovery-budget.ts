/**
 * The node's recovery budget: recovered payload bytes per second, a token bucket (burst: one
 * second's worth) shared by all connections, with a smaller bucket (`anonymousShare` of the
 * rate) that anonymous connections must also draw on, so they cannot exhaust the node's budget.
 * A recovery is admitted while the buckets are not empty and charged its real size afterwards
 * (possibly overdrawing: the next ones wait for the refill), so a refusal costs no history read.
 */
import { TokenBucket } from './token-bucket.js';
import type { Clock } from './clock.js';
/**
 * What the budget charges per recovered publication beside its payload bytes: a recovery's CPU
 * is a per-publication part (encoding and framing one push: ~1 µs here) plus a per-byte part
 * (~0.7 ns a byte), so a history of many tiny publications costs more than its bytes say. In
 * bytes of payload that cost as much CPU, rounded down (docs/performance.md, "Recovery encoding").
 */
export const RECOVERY_COST_PER_PUBLICATION = 1024;

export interface RecoveryBudgetOptions {
  readonly bytesPerSecond: number;
  readonly anonymousShare: number;
}

export class RecoveryBudget {
  private readonly all: TokenBucket;
  private readonly anonymous: TokenBucket;

  constructor(
    opts: RecoveryBudgetOptions,
    private readonly clock: Clock,
  ) {
    const t = clock.monotonic();
    // Burst: one second's worth.
    this.all = new TokenBucket(opts.bytesPerSecond, opts.bytesPerSecond, t);
    const anonymousRate = opts.bytesPerSecond * opts.anonymousShare;
    this.anonymous = new TokenBucket(anonymousRate, anonymousRate, t);
  }

  /** Whether a recovery may start now. */
  admits(anonymous: boolean): boolean {
    const t = this.clock.monotonic();
    this.all.refill(t);
    if (!this.all.available) return false;
    if (!anonymous) return true;
    this.anonymous.refill(t);
    return this.anonymous.available;
  }

  /** Charges a recovery once its size is known: its payload bytes and its publications, in CPU-relevant units. */
  charge(bytes: number, publications: number, anonymous: boolean): void {
    const cost = bytes + publications * RECOVERY_COST_PER_PUBLICATION;
    this.all.take(cost);
    if (anonymous) this.anonymous.take(cost);
  }
}
