import type { HistoryResult, Publication, StreamPosition } from './broker.js';

export interface RecoveryOutcome {
  readonly recovered: boolean;
  /** Every publication after `since`, in order; empty when not recovered. */
  readonly publications: readonly Publication[];
}

export const NOT_RECOVERED: RecoveryOutcome = Object.freeze({
  recovered: false,
  publications: Object.freeze([]) as readonly Publication[],
});

/**
 * All or nothing: given the client's last position and history read after it, either every
 * missed publication (contiguous offsets since.offset+1 .. top) or `recovered: false`.
 * Refused: another epoch, a position in the future, more than `max` missed, or any missed
 * publication no longer in history (expired by size or TTL).
 */
export function decideRecovery(since: StreamPosition, history: HistoryResult, max: number): RecoveryOutcome {
  const top = history.position;
  if (since.epoch !== top.epoch) return NOT_RECOVERED;
  if (since.offset > top.offset) return NOT_RECOVERED;
  const missed = top.offset - since.offset;
  if (missed === 0) return { recovered: true, publications: [] };
  if (missed > max) return NOT_RECOVERED;
  const pubs: Publication[] = [];
  for (const p of history.publications) {
    if (p.offset <= since.offset || p.offset > top.offset) continue;
    if (p.offset !== since.offset + 1 + pubs.length) return NOT_RECOVERED;
    pubs.push(p);
  }
  if (pubs.length !== missed) return NOT_RECOVERED;
  return { recovered: true, publications: pubs };
}

/**
 * Cache recovery (Centrifugo's cache mode): the newest publication stands for the channel's
 * state. `newest` is history read newest first (limit 1, or more to find one `accept` passes). Recovered when the channel has a
 * newest publication at its top — sent unless the client's position is that one already — or
 * when the client is at the top already; not recovered when nothing is kept (empty, expired).
 */
export function decideLatest(since: StreamPosition | null, newest: HistoryResult, accept?: (p: Publication) => boolean): RecoveryOutcome {
  const top = newest.position;
  const current = since !== null && since.offset > 0 && since.offset === top.offset && since.epoch === top.epoch;
  const head = newest.publications[0];
  if (head === undefined || head.offset !== top.offset) return current ? { recovered: true, publications: [] } : NOT_RECOVERED;
  if (current) return { recovered: true, publications: [] };
  // With a filter: the newest publication it passes; none among those read is "not recovered" (Centrifugo's answer).
  const pub = accept === undefined ? head : newest.publications.find(accept);
  return pub === undefined ? NOT_RECOVERED : { recovered: true, publications: [pub] };
}
