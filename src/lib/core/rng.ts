/**
 * A small seeded PRNG (mulberry32): reproducible runs when a seed is given, and no
 * allocation per draw (Math.random has none either, but cannot be seeded).
 */
import { randomBytes } from 'node:crypto';

export class Rng {
  private state: number;
  /** A second normal draw kept from the last Box-Muller pair. */
  private spare = Number.NaN;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal draw (Box-Muller). */
  gauss(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Picks an element; `items` must not be empty. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

/** A seed nobody chose (for a run that was not given one; report it so the run can be replayed). */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}

/** Seed of stream `n` derived from one run seed (e.g. one per worker): distinct, and the same on replay. */
export function seedFor(seed: number, n: number): number {
  return (seed + Math.imul(n + 1, 0x9e3779b9)) >>> 0;
}
