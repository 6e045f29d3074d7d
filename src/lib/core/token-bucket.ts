/**
 * A token bucket on an injected clock: `rate` tokens per second, holding at most `capacity`
 * (the burst); starts full. May be overdrawn by `take` (the next takers wait for the refill).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  /** At least part of a token left. */
  get available(): boolean {
    return this.tokens > 0;
  }

  /** Refilled to capacity: the bucket remembers nothing worth keeping. */
  get full(): boolean {
    return this.tokens >= this.capacity;
  }

  take(n: number): void {
    this.tokens -= n;
  }

  /** Takes one whole token if there is one (after a refill to `now`); else ms until there is. */
  tryTake(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}
