/**
 * Source fencing (Broker guarantee 6), the decision shared by every broker: which publications
 * of a run, in append order, may be appended to a channel given the highest source positions
 * the channel already holds. A broker applies it atomically with the append (JetStream: inside
 * the compare-and-set on the channel's last message; memory: synchronously), so two writers
 * replaying the same source (a Kafka partition that moved between gateway processes while
 * publications were in flight) store each position once, in order.
 */
import type { SourcePosition } from './broker.js';

/** Sources remembered per channel; past it the least recently published one is forgotten. */
export const MAX_FENCED_SOURCES = 32;

/** Per source id, the highest `seq` the channel holds; iteration order = least recently published first. */
export type SourcePositions = ReadonlyMap<string, bigint>;

export const FATE_APPEND = 0;
/** At or below what the channel holds: already there. */
export const FATE_DUPLICATE = 1;
/** Its `after` is not in the channel: an earlier publication of the writer is missing. */
export const FATE_GAP = 2;
export type SourceFate = typeof FATE_APPEND | typeof FATE_DUPLICATE | typeof FATE_GAP;

export interface FenceResult {
  /** One per publication, in order. */
  readonly fates: SourceFate[];
  /** The channel's positions once the appended ones are stored (`stored` itself when unchanged). */
  readonly next: SourcePositions | undefined;
  /** How many are appended. */
  readonly appended: number;
}

/**
 * Applies guarantee 6 to `sources` (undefined: a publication without a source, always appended)
 * against `stored`. A forgotten source (none stored while the channel remembers fewer than
 * {@link MAX_FENCED_SOURCES}) fails an `after` check; once the channel is full, a source it does
 * not hold passes both checks (it may have been forgotten).
 */
export function fenceSources(stored: SourcePositions | undefined, sources: readonly (SourcePosition | undefined)[]): FenceResult {
  const fates: SourceFate[] = [];
  let next: Map<string, bigint> | undefined;
  let appended = 0;
  for (const s of sources) {
    const now = next ?? stored;
    const cur = s === undefined ? undefined : now?.get(s.id);
    let fate: SourceFate = FATE_APPEND;
    if (s !== undefined) {
      if (cur !== undefined && s.seq <= cur) fate = FATE_DUPLICATE;
      else if (s.after !== undefined && (cur === undefined ? (now?.size ?? 0) < MAX_FENCED_SOURCES : cur < s.after)) fate = FATE_GAP;
      else {
        next ??= new Map(stored);
        next.delete(s.id); // re-inserted last: most recently published
        next.set(s.id, s.seq);
        if (next.size > MAX_FENCED_SOURCES) next.delete(next.keys().next().value!);
      }
    }
    if (fate === FATE_APPEND) appended++;
    fates.push(fate);
  }
  return { fates, next: next ?? stored, appended };
}

/** `{"<id>":"<seq>",...}` in recency order (a header value); undefined for none. */
export function encodeSourcePositions(m: SourcePositions | undefined): string | undefined {
  if (m === undefined || m.size === 0) return undefined;
  const o: Record<string, string> = {};
  for (const [k, v] of m) o[k] = v.toString();
  return JSON.stringify(o);
}

/** The inverse of {@link encodeSourcePositions}; undefined (nothing known) for anything malformed. */
export function decodeSourcePositions(text: string | undefined): SourcePositions | undefined {
  if (text === undefined || text === '') return undefined;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const m = new Map<string, bigint>();
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) return undefined;
    m.set(k, BigInt(v));
  }
  return m;
}
