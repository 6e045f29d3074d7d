/**
 * New connections per client address: a token bucket per address (`connectionRatePerIp` per
 * second, `connectionBurstPerIp` at once), so a reconnecting fleet behind one address cannot
 * hammer the handshake path. Bounded: at most `maxAddresses` buckets are kept; an address whose
 * bucket has refilled is forgotten (it would start full anyway), and past the bound the oldest
 * entries go first, down to three quarters of it (such an address starts again with a full burst: lenient, never wrong-footed).
 */
import { TokenBucket } from './token-bucket.js';

/** Addresses whose buckets are kept at once (~100 bytes each). */
export const MAX_RATE_ADDRESSES = 65_536;

export class ConnectionRate {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
    private readonly maxAddresses = MAX_RATE_ADDRESSES,
  ) {}

  /** Addresses with a bucket kept now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes a connection from `ip`'s allowance: 0 when admitted, else ms until it would be. */
  take(ip: string): number {
    const t = this.now();
    let bucket = this.buckets.get(ip);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxAddresses) this.sweep(t);
      bucket = new TokenBucket(this.ratePerSecond, this.burst, t);
      this.buckets.set(ip, bucket);
    }
    return bucket.tryTake(t);
  }

  /** Forgets refilled buckets, then the oldest until a quarter is free (so sweeps stay rare). */
  private sweep(t: number): void {
    for (const [ip, b] of this.buckets) {
      b.refill(t);
      if (b.full) this.buckets.delete(ip);
    }
    const keep = Math.floor((this.maxAddresses * 3) / 4);
    for (const ip of this.buckets.keys()) {
      if (this.buckets.size <= keep) break;
      this.buckets.delete(ip);
    }
  }
}
