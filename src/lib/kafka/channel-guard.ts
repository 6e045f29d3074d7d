/**
 * Exactly once across processes, by the record's real id: every publication the ingest makes is
 * tagged `kafka: <topic>/<partition>/<offset>`. A channel's records all come from one partition
 * (one key, one partition) and are published in offset order, so the channel's last publication
 * says which of its records are already in the broker. Before a session publishes the first
 * record of a channel, it reads that last publication once; records at or below it are skipped
 * (another process, or this one before a crash, published them after the last commit).
 * Publications of the channel wait for that read, in order. The broker's idempotency key (the
 * event id or the record position) remains the second line; this one does not depend on a dedup
 * window or on how the broker groups appends.
 */

/** The tag naming a publication's Kafka record. */
export const KAFKA_RECORD_TAG = 'kafka';

export function recordTag(topic: string, partition: number, offset: bigint): string {
  return `${topic}/${partition}/${offset}`;
}

interface Position {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

export function parseRecordTag(tag: string | null | undefined): Position | null {
  if (!tag) return null;
  const b = tag.lastIndexOf('/');
  const a = tag.lastIndexOf('/', b - 1);
  if (a <= 0 || b <= a + 1) return null;
  const partition = Number(tag.slice(a + 1, b));
  const off = tag.slice(b + 1);
  if (!Number.isInteger(partition) || !/^\d+$/.test(off)) return null;
  return { topic: tag.slice(0, a), partition, offset: BigInt(off) };
}

interface Guard {
  ready: boolean;
  last: Position | null;
  readonly waiting: Array<() => void>;
}

export class ChannelGuards {
  private guards = new Map<string, Guard>();

  /** `lastTag(channel)`: the `kafka` tag of the channel's last publication, or null (none, no history, unreachable). */
  constructor(private readonly lastTag: (channel: string) => Promise<string | null>) {}

  /** Forget every channel (a new session, or partitions moved: others may have published since). */
  reset(): void {
    this.guards = new Map();
  }

  /**
   * Runs `go(alreadyPublished)` for a record once its channel's last publication is known, in
   * call order per channel (synchronously when it is known already).
   */
  run(channel: string, topic: string, partition: number, offset: bigint, go: (alreadyPublished: boolean) => void): void {
    let g = this.guards.get(channel);
    if (!g) {
      const guard: Guard = { ready: false, last: null, waiting: [] };
      g = guard;
      this.guards.set(channel, guard);
      this.lastTag(channel).then(
        (tag) => this.open(guard, parseRecordTag(tag)),
        () => this.open(guard, null),
      );
    }
    const last = (): boolean => {
      const l = g.last;
      return l !== null && l.topic === topic && l.partition === partition && offset <= l.offset;
    };
    if (g.ready) go(last());
    else g.waiting.push(() => go(last()));
  }

  private open(g: Guard, last: Position | null): void {
    g.last = last;
    g.ready = true;
    for (const f of g.waiting.splice(0)) f();
  }
}
