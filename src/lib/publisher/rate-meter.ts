/** Events per second over the last few whole seconds, from per-second buckets. */
const SLOTS = 64;

export class RateMeter {
  private readonly seconds = new Float64Array(SLOTS).fill(-1);
  private readonly counts = new Float64Array(SLOTS);
  private startSecond = Number.NaN;

  /** Starts measuring at `now` (ms); forgets earlier counts. */
  reset(now: number): void {
    this.seconds.fill(-1);
    this.counts.fill(0);
    this.startSecond = Math.floor(now / 1000);
  }

  add(n: number, now: number): void {
    const sec = Math.floor(now / 1000);
    const i = sec % SLOTS;
    if (this.seconds[i] !== sec) {
      this.seconds[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
  }

  /**
   * Mean rate over the last `window` whole seconds before `now` (at most 60), counting only
   * seconds since the last reset; 0 before the first whole second.
   */
  rate(now: number, window = 5): number {
    if (Number.isNaN(this.startSecond)) return 0;
    const current = Math.floor(now / 1000);
    const first = Math.max(current - Math.min(window, SLOTS - 4), this.startSecond + 1);
    let sum = 0;
    for (let sec = first; sec < current; sec++) {
      const i = sec % SLOTS;
      if (this.seconds[i] === sec) sum += this.counts[i]!;
    }
    return current > first ? sum / (current - first) : 0;
  }
}
