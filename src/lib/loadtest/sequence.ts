/**
 * Gap and duplicate detection from per-channel stream positions. Each subscription of each
 * connection keeps the last offset it saw: the next one must be exactly one more. A lower or
 * equal offset is a duplicate; a higher one a gap of (offset - last - 1) lost publications.
 * An epoch change (stream reset, or an unrecovered reconnect) restarts the count without
 * blaming the server: that loss is reported by the recovery outcome instead.
 */

/** No offset seen yet for a channel: the first one is accepted as the start. */
export const OFFSET_UNKNOWN = -1;

export interface SequenceCounts {
  /** Publications in order. */
  inOrder: number;
  /** Publications missing between two received ones. */
  missing: number;
  /** Publications received again (offset not above the last one). */
  duplicates: number;
  /** Gaps (each may hide several missing publications). */
  gaps: number;
}

export function emptyCounts(): SequenceCounts {
  return { inOrder: 0, missing: 0, duplicates: 0, gaps: 0 };
}

/** One subscription's position. */
export class ChannelPosition {
  last = OFFSET_UNKNOWN;
  epoch = '';

  /** Sets the position the server reported at subscribe; publications follow it. */
  reset(offset: number, epoch: string): void {
    this.last = offset;
    this.epoch = epoch;
  }

  /** Checks the next offset and updates the counts. */
  observe(offset: number, counts: SequenceCounts): void {
    const last = this.last;
    if (last === OFFSET_UNKNOWN) {
      this.last = offset;
      counts.inOrder++;
      return;
    }
    if (offset === last + 1) {
      counts.inOrder++;
      this.last = offset;
    } else if (offset <= last) {
      counts.duplicates++;
    } else {
      counts.gaps++;
      counts.missing += offset - last - 1;
      this.last = offset;
    }
  }
}

export function addCounts(into: SequenceCounts, from: SequenceCounts): void {
  into.inOrder += from.inOrder;
  into.missing += from.missing;
  into.duplicates += from.duplicates;
  into.gaps += from.gaps;
}
