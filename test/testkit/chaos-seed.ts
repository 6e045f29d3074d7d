/**
 * Seeded fault injection: a chaos run draws its faults from a PRNG (src/lib/core/rng.ts) whose
 * seed comes from CHAOS_SEED, else is random. The seed is printed before the run (the test's
 * diagnostic output) and put in front of the error of a failing run, so `CHAOS_SEED=<seed>`
 * replays the same draws (docs/reliability.md, "Replaying a chaos run").
 */
import { randomSeed } from '../../src/lib/core/rng.js';

/** CHAOS_SEED (a non-negative integer), else a random seed. */
export function chaosSeed(): number {
  const raw = process.env['CHAOS_SEED'];
  if (raw === undefined || raw === '') return randomSeed();
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`CHAOS_SEED must be an integer in 0..4294967295, got "${raw}"`);
  return seed;
}

/** Runs `run` with the chaos seed: printed first, and named in the error when the run fails. */
export async function withChaosSeed<T>(what: string, run: (seed: number) => Promise<T>): Promise<T> {
  const seed = chaosSeed();
  process.stdout.write(`# ${what}: CHAOS_SEED=${seed}\n`);
  try {
    return await run(seed);
  } catch (err) {
    if (err instanceof Error) err.message = `[${what}: replay with CHAOS_SEED=${seed}] ${err.message}`;
    throw err;
  }
}
