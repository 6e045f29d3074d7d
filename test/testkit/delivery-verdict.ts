/**
 * Test-only: what SDK clients received, judged against what the writer had acknowledged. Shared
 * by the chaos harnesses (chaos.ts: nats-server faults; kafka-chaos.ts: Kafka broker faults).
 */
import { SdkSubscriber } from './sdk-subscriber.js';
import { waitFor } from './wait.js';

export interface DeliveryVerdict {
  /** Summed over every client. */
  readonly delivered: number;
  /** Acknowledged and never received, per client. */
  readonly lost: number;
  readonly duplicated: number;
  /** Received before one it followed (see `reorderAmong`). */
  readonly reordered: number;
  /** Offsets not consecutive, a second epoch, or clients of one channel disagreeing on an offset. */
  readonly offsetBreaks: number;
  /** Re-subscriptions that reported `recovered: false`. */
  readonly notRecovered: number;
  readonly resubscribes: number;
}

/** One SDK client of a chaos run; `channel` keys the acknowledged ids (see `subscribeClients`). */
export interface ChaosClient {
  readonly channel: string;
  readonly s: SdkSubscriber;
}

export interface JudgedClient extends ChaosClient {
  /** Ids acknowledged on the channel, in the order written. */
  readonly acked: readonly number[];
}

/**
 * `idOf` reads a publication's id (increasing in write order). `reorderAmong`: 'all' counts any
 * id received after a larger one; 'acked' looks only at acknowledged ids (a write that was not
 * acknowledged promised no order).
 */
export function judgeDeliveries(
  clients: readonly JudgedClient[],
  idOf: (data: unknown) => number,
  reorderAmong: 'all' | 'acked',
): DeliveryVerdict {
  let delivered = 0;
  let lost = 0;
  let duplicated = 0;
  let reordered = 0;
  let offsetBreaks = 0;
  let notRecovered = 0;
  let resubscribes = 0;
  const offsetsOf = new Map<string, string>();
  for (const { channel, s, acked } of clients) {
    const got = s.pubs.map((p) => idOf(p.data));
    delivered += got.length;
    const seen = new Set<number>();
    for (let j = 0; j < got.length; j++) {
      if (seen.has(got[j]!)) duplicated++;
      seen.add(got[j]!);
      if (j > 0 && s.pubs[j]!.offset !== s.pubs[j - 1]!.offset + 1) offsetBreaks++;
    }
    for (const id of acked) if (!seen.has(id)) lost++;
    const ackedSet = new Set(acked);
    const order = reorderAmong === 'all' ? got : got.filter((x) => ackedSet.has(x));
    for (let j = 1; j < order.length; j++) if (order[j]! < order[j - 1]!) reordered++;
    const epochs = new Set(s.subscribed.map((c) => c.streamPosition?.epoch).filter((e) => e !== undefined && e !== ''));
    if (epochs.size > 1) offsetBreaks++;
    // Every client of a channel, on any node, sees each publication at the same offset.
    const byOffset = s.pubs.map((p, j) => `${p.offset}:${got[j]},`).join('');
    const other = offsetsOf.get(channel);
    if (other === undefined) offsetsOf.set(channel, byOffset);
    else if (!other.startsWith(byOffset) && !byOffset.startsWith(other)) offsetBreaks++;
    notRecovered += s.subscribed.filter((c) => c.wasRecovering && !c.recovered).length;
    resubscribes += s.subscribed.length - 1;
  }
  return { delivered, lost, duplicated, reordered, offsetBreaks, notRecovered, resubscribes };
}

/**
 * Subscribes `perChannel` SDK clients to each channel, spread over the gateways round-robin, and
 * waits until each is subscribed (20 s each). Clients are pushed into `into` as they are made, so
 * the caller's `finally` closes them even when a wait fails. `wsChannelOf` names the channel on the
 * wire when it differs from the key the acknowledged ids are kept under.
 */
export async function subscribeClients(
  into: ChaosClient[],
  wsUrls: readonly string[],
  channels: readonly string[],
  perChannel: number,
  wsChannelOf: (channel: string) => string = (channel) => channel,
): Promise<void> {
  for (const channel of channels) {
    for (let c = 0; c < perChannel; c++) into.push({ channel, s: new SdkSubscriber(wsUrls[c % wsUrls.length]!, wsChannelOf(channel)) });
  }
  for (const { s } of into) await s.waitFor(() => s.subscribed.length > 0, 20_000, 'subscribed');
}

/**
 * Waits (polling every 50 ms, at most `timeoutMs`) until every client holds the last id
 * acknowledged on its channel (`idOf` as for `judgeDeliveries`). `what` names the wait in the
 * timeout error.
 */
export async function waitHoldLastAcked(
  clients: readonly ChaosClient[],
  acked: ReadonlyMap<string, readonly number[]>,
  idOf: (data: unknown) => number,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const holdsLast = ({ channel, s }: ChaosClient): boolean => {
    const last = acked.get(channel)?.at(-1);
    return last === undefined || s.pubs.some((p) => idOf(p.data) === last);
  };
  await waitFor(() => clients.every(holdsLast), timeoutMs, what, { everyMs: 50 });
}
