/**
 * Per-address backoff on failed secrets (admin token and password, server API key): after
 * `maxFailures` wrong secrets from one address within `windowMs`, that address is refused —
 * the right secret included — until the oldest of them leaves the window. Checked before the
 * secret is compared, so guessing gains nothing while blocked. At most MAX_TRACKED_ADDRESSES
 * addresses are remembered (stale ones are dropped first; past it, the oldest).
 */

/** Addresses whose failures are remembered at once. */
export const MAX_TRACKED_ADDRESSES = 10_000;

export class AddressBackoff {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `ip` may try again (at least 1), or 0 when it may now. */
  blockedFor(ip: string): number {
    const t = this.now();
    const list = (this.failures.get(ip) ?? []).filter((x) => t - x < this.windowMs);
    if (list.length === 0) this.failures.delete(ip);
    else this.failures.set(ip, list);
    if (list.length < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((list[0]! + this.windowMs - t) / 1000));
  }

  /** A wrong secret from `ip`. */
  failed(ip: string): void {
    const t = this.now();
    if (this.failures.size >= MAX_TRACKED_ADDRESSES && !this.failures.has(ip)) {
      for (const [k, v] of this.failures) if (v.every((x) => t - x >= this.windowMs)) this.failures.delete(k);
      if (this.failures.size >= MAX_TRACKED_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    }
    const list = this.failures.get(ip) ?? [];
    list.push(t);
    // More than maxFailures are never needed to decide.
    if (list.length > this.maxFailures) list.shift();
    this.failures.set(ip, list);
  }

  /** The right secret from `ip` (not blocked): its failures are forgotten. */
  succeeded(ip: string): void {
    this.failures.delete(ip);
  }
}
