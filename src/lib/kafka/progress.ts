/**
 * Per-partition progress of the ingest: which offsets were read, which are settled (published
 * or skipped), and so the "done" position: every offset below it is settled. Only done
 * positions are committed or resumed from, so a record in flight is never skipped.
 */
import type { PartitionOffset } from './client.js';

/** One read record, settled when the broker accepted it (or it was skipped). */
export interface ProgressEntry {
  readonly offset: bigint;
  settled: boolean;
  readonly partition: PartitionState;
  /** When it was read, ms. */
  readonly at: number;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Records read and not yet all settled, in offset order. */
  readonly queue: ProgressEntry[];
  /** Index of the queue's first live entry (the array is compacted now and then). */
  head: number;
  /** Every offset below it is settled. */
  done: bigint;
  /** Last committed position (-1: none). */
  committed: bigint;
}

export class PartitionProgress {
  private readonly parts = new Map<string, PartitionState>();

  private state(topic: string, partition: number, at: bigint): PartitionState {
    const k = `${topic}/${partition}`;
    let s = this.parts.get(k);
    if (!s) this.parts.set(k, (s = { topic, partition, queue: [], head: 0, done: at, committed: -1n }));
    return s;
  }

  /** A known starting position (nothing read yet). */
  seed(topic: string, partition: number, offset: bigint): void {
    const s = this.state(topic, partition, offset);
    if (s.head === s.queue.length) s.done = offset;
  }

  received(topic: string, partition: number, offset: bigint): ProgressEntry {
    const s = this.state(topic, partition, offset);
    // Offsets may jump (transaction markers, compaction): nothing in between is owed.
    if (s.head === s.queue.length && offset > s.done) s.done = offset;
    const e: ProgressEntry = { offset, settled: false, partition: s, at: Date.now() };
    s.queue.push(e);
    return e;
  }

  settle(e: ProgressEntry): void {
    e.settled = true;
    const s = e.partition;
    while (s.head < s.queue.length && s.queue[s.head]!.settled) {
      const off = s.queue[s.head]!.offset + 1n;
      if (off > s.done) s.done = off;
      s.head++;
    }
    if (s.head === s.queue.length) {
      s.queue.length = 0;
      s.head = 0;
    } else if (s.head > 1024 && s.head * 2 > s.queue.length) {
      s.queue.splice(0, s.head);
      s.head = 0;
    }
  }

  /** Age of the oldest record read and not settled, ms (0 when none). */
  oldestUnsettledAgeMs(now = Date.now()): number {
    let oldest = now;
    for (const s of this.parts.values()) if (s.head < s.queue.length) oldest = Math.min(oldest, s.queue[s.head]!.at);
    return now - oldest;
  }

  done(topic: string, partition: number): bigint | undefined {
    return this.parts.get(`${topic}/${partition}`)?.done;
  }

  /** Every known partition's done position: where a new session resumes. */
  positions(): PartitionOffset[] {
    return [...this.parts.values()].map((s) => ({ topic: s.topic, partition: s.partition, offset: s.done }));
  }

  /** Done positions past the last commit, of the partitions in `owned` (`topic/partition`). */
  dueCommits(owned: ReadonlySet<string>): PartitionOffset[] {
    const out: PartitionOffset[] = [];
    for (const [k, s] of this.parts)
      if (owned.has(k) && s.done > s.committed) out.push({ topic: s.topic, partition: s.partition, offset: s.done });
    return out;
  }

  committed(offsets: readonly PartitionOffset[]): void {
    for (const o of offsets) {
      const s = this.parts.get(`${o.topic}/${o.partition}`);
      if (s && o.offset > s.committed) s.committed = o.offset;
    }
  }

  /** Forgets what was read but not settled (it will be read again from `done`). */
  rewind(): void {
    for (const s of this.parts.values()) {
      s.queue.length = 0;
      s.head = 0;
    }
  }

  /** Forgets everything (a shared group resumes from its commits, not from here). */
  clear(): void {
    this.parts.clear();
  }
}
