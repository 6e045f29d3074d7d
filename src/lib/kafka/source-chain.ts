/**
 * The Kafka ingest's side of source fencing (Broker guarantee 6): exactly once and in order per
 * channel, across processes and restarts, by the record's real position.
 *
 * Every publication names its record: source `topic/partition`, `seq` = its offset. The broker
 * appends it only if the channel does not hold that position (or a later one of the partition)
 * yet, atomically with the append. So when partitions move while publications are in flight
 * (the old owner's publications, even the records of a fetch it made before the rebalance, land
 * after the new owner re-read the same records from the last commit), or a restarted process
 * replays what it published but had not committed, each record is stored once.
 *
 * `after` makes a failure stop the channel: it is the offset of the record this session handed
 * to the broker just before, for the same channel and partition, while that one is unsettled.
 * If that one failed, this one is refused too ('conflict') instead of landing before it, and the
 * session resumes from the failed record (which the fence would otherwise skip as below the
 * channel's position: a loss). When the previous one settled, everything before it is in the
 * channel, so no `after` is needed; the chain then holds only channels with publications in flight.
 */

/** The tag naming a publication's Kafka record: `topic/partition/offset`. */
export const KAFKA_RECORD_TAG = 'kafka';

export function recordTag(topic: string, partition: number, offset: bigint): string {
  return `${topic}/${partition}/${offset}`;
}

/** The broker's source id of a partition. */
export function sourceId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export class SourceChain {
  /** Per channel and source: the last offset handed to the broker and not yet settled. */
  private readonly last = new Map<string, bigint>();

  /** Channels with a publication in flight. */
  get size(): number {
    return this.last.size;
  }

  /**
   * Records that `seq` of `source` goes to the broker for `channel` now; returns its `after`.
   * A record at or below one in flight (read again after a rebalance) gets none and does not
   * move the chain: it is the same publication again.
   */
  handOff(channel: string, source: string, seq: bigint): bigint | undefined {
    const k = channel + '\u0000' + source;
    const prev = this.last.get(k);
    if (prev !== undefined && seq <= prev) return undefined;
    this.last.set(k, seq);
    return prev;
  }

  /** The publication of `seq` is in the channel (stored now, or found stored). */
  settled(channel: string, source: string, seq: bigint): void {
    const k = channel + '\u0000' + source;
    if (this.last.get(k) === seq) this.last.delete(k);
  }

  /** A new session: nothing of an earlier one is in flight any more. */
  reset(): void {
    this.last.clear();
  }
}
