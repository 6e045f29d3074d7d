/**
 * Load profiles: how the target rate moves over a run.
 *  - sustained: `messagesPerSecond` (default 1000) until stopped.
 *  - burst: `messagesPerSecond` (default 2000) for `duration` (default 300 s), then stops.
 *  - ramp: from 100 events/s up to `messagesPerSecond` (default 2000) over `rampSeconds`
 *    (default 60), then holds until stopped.
 */
import type { RatePlan } from './scheduler.js';

export const PROFILES = ['sustained', 'burst', 'ramp'] as const;
export type Profile = (typeof PROFILES)[number];

export interface ProfileDefaults {
  /** Target (or final, for ramp) rate, events/s. */
  readonly messagesPerSecond: number;
  /** Run length, s; 0 = until stopped. */
  readonly duration: number;
}

export const PROFILE_DEFAULTS: Readonly<Record<Profile, ProfileDefaults>> = Object.freeze({
  sustained: { messagesPerSecond: 1000, duration: 0 },
  burst: { messagesPerSecond: 2000, duration: 300 },
  ramp: { messagesPerSecond: 2000, duration: 0 },
});

/** Where the ramp profile starts, events/s. */
export const RAMP_START_RATE = 100;
export const DEFAULT_RAMP_SECONDS = 60;

export function profilePlan(profile: Profile, messagesPerSecond: number, rampSeconds: number): RatePlan {
  if (profile === 'ramp') {
    return { kind: 'ramp', from: Math.min(RAMP_START_RATE, messagesPerSecond), to: messagesPerSecond, overMs: rampSeconds * 1000 };
  }
  return { kind: 'constant', rate: messagesPerSecond };
}
