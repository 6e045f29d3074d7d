/**
 * Cadence: at most one publication per interval to a subscriber (the namespace's
 * `conflationIntervalMs`, or a channel name's suffix such as `BTC.price@1s`). The subscribers of
 * one subscription name with one interval and one tags filter form a group; the group, not each
 * connection, holds the newest publication waiting and one timer, and its frame is encoded once
 * per protocol for all of them.
 *
 * Timing (a throttle): the first publication after a quiet interval goes out at once; later ones
 * within the interval replace each other, and the newest goes out when the interval since the
 * last send ends. So a subscriber gets at most one publication per interval and never one older
 * than the newest by more than an interval. History and recovery are not conflated.
 */
import type { Publication } from './broker.js';
import type { Clock } from './clock.js';

/** What a cadence group sends to: the fan-out's per-subscriber state. */
export interface CadenceMember {
  /** Non-null while the subscription is being set up (its publications wait there instead). */
  readonly buffer: Publication[] | null;
  /** Offset of the last publication this subscriber was given in the channel (0: none yet). */
  lastOffset: number;
}

/** Delivers the group's publication to its members (the hub encodes it once per protocol). */
export type CadenceSend<T extends CadenceMember> = (group: CadenceGroup<T>, pub: Publication) => void;

export class CadenceGroup<T extends CadenceMember = CadenceMember> {
  readonly members = new Set<T>();
  private pending: Publication | null = null;
  private lastSentAt = -Infinity;
  private timer: unknown = null;
  private readonly flushBound = (): void => this.flush();

  constructor(
    /** The subscription name (the channel pushes carry). */
    readonly name: string,
    readonly intervalMs: number,
    /** Distinguishes groups of the same name and interval (the tags filter's key, or ""). */
    readonly key: string,
    private readonly clock: Clock,
    private readonly send: CadenceSend<T>,
  ) {}

  /** A publication for the group: sent now if the interval allows, else kept as the newest waiting. */
  offer(pub: Publication): void {
    const p = this.pending;
    // Never replace a newer one waiting (a subscriber just set up offers what it held back).
    if (p !== null && pub.offset > 0 && pub.epoch === p.epoch && pub.offset <= p.offset) return;
    this.pending = pub;
    if (this.timer !== null) return;
    const wait = this.lastSentAt + this.intervalMs - this.clock.now();
    if (wait <= 0) this.flush();
    else this.timer = this.clock.setTimeout(this.flushBound, wait);
  }

  private flush(): void {
    this.timer = null;
    const pub = this.pending;
    if (pub === null) return;
    this.pending = null;
    this.lastSentAt = this.clock.now();
    this.send(this, pub);
  }

  /** The group has no members left: nothing more is sent. */
  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }
}

/** Largest cadence accepted, ms (a suffix or `conflationIntervalMs`). */
export const MAX_CADENCE_MS = 60_000;

const SUFFIX = /^(.+)@([1-9][0-9]{0,5})(ms|s)$/;

/** Splits `BTC.price@1s` into the channel and the interval, ms; null when the name has no cadence suffix. */
export function parseCadenceSuffix(name: string): { source: string; suffix: string; intervalMs: number } | null {
  const m = SUFFIX.exec(name);
  if (m === null) return null;
  const intervalMs = Number(m[2]) * (m[3] === 's' ? 1000 : 1);
  if (intervalMs > MAX_CADENCE_MS) return null;
  return { source: m[1]!, suffix: m[2]! + m[3]!, intervalMs };
}
