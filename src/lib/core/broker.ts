/**
 * The broker seam: where publications are ordered, kept and fanned out between nodes.
 *
 * A "node" is one gateway process. Every node holds one Broker. The broker decides the
 * order of a channel's publications and numbers them; nodes only deliver.
 *
 * Guarantees every implementation gives (the hub's recovery logic relies on each one):
 *  1. Offsets: within one epoch of a channel, the publications are numbered 1, 2, 3, ...
 *     without gaps or repeats, on every node alike. `offset` 0 means "nothing published yet".
 *  2. Epoch: an opaque non-empty string naming one continuous history of the channel. It
 *     changes whenever that history is lost or reset (memory broker restart, stream purge or
 *     recreation) and never otherwise. Offsets of different epochs are not comparable.
 *  3. Delivery: after `subscribe(channel)` has resolved, every publication of that channel
 *     accepted afterwards is handed to the handler exactly once, in offset order. Publications
 *     of different channels are not ordered relative to each other. Publications of one
 *     channel published through one node get offsets in the order `publish()` was called.
 *  4. History: `history()` reads the same log that delivery comes from, so a publication seen
 *     live is in history until it expires (size or TTL) and vice versa.
 *  5. `publish()` resolves only once the publication is durably accepted (for a replicated
 *     broker: acknowledged by its quorum); the returned position is that publication's.
 *     It rejects with a `BrokerError` when the broker cannot accept it (code 'unavailable'
 *     when it is unreachable: callers answer "try again", never hang).
 *  6. Source fencing (`PublishOptions.source`, for writers that replay an ordered source, such
 *     as the Kafka ingest after a rebalance): per channel, the broker holds the highest `seq`
 *     stored for each source (the last MAX_FENCED_SOURCES sources to publish there, forgotten
 *     with the channel's history) and checks a publication against it atomically with its
 *     append, whichever node or process appends:
 *      - `seq` at or below the stored one: it is in the channel already (stored by another
 *        writer, or by an earlier attempt whose acknowledgement was lost); not appended again,
 *        `publish()` resolves with the channel's position and `duplicate: true`;
 *      - `after` given and not stored (the stored `seq` is below it, or none is stored while
 *        the channel holds fewer than MAX_FENCED_SOURCES sources): the writer's previous publication of the
 *        source on this channel is missing (it failed); rejected with code 'conflict', so
 *        nothing lands after a failed publication and the writer resumes from that one;
 *      - otherwise appended, and the stored `seq` becomes this one.
 *     So however many writers replay a source, each position is stored at most once and in
 *     increasing order, independent of dedup windows and of how appends are grouped.
 */

import type { StreamPosition } from '../protocol/position.js';
/** A point in a channel's stream: the last offset seen, within an epoch (a wire concept: protocol/position.ts). */
export type { StreamPosition };

import type { ClientInfo, WirePublication } from '../protocol/push.js';
/** A channel's publication as the broker numbered it (its shape is the wire's: protocol/push.ts). */
export type Publication = WirePublication;
export type { ClientInfo };
import type { PresenceStore } from './presence.js';

export interface PublishOptions {
  /** Publications with the same key within the broker's dedup window are accepted once. */
  readonly idempotencyKey?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly info?: ClientInfo;
  /** History kept for the channel; 0 disables history for this publication. */
  readonly historySize?: number;
  /** History time to live, ms. */
  readonly historyTtlMs?: number;
  /** The publication's place in a replayed source (guarantee 6). */
  readonly source?: SourcePosition;
}

/**
 * A position in an ordered source that writers may replay: for the Kafka ingest, `id` is
 * `topic/partition` and `seq` the record's offset.
 */
export interface SourcePosition {
  /** Names one ordered source; positions of different sources are unrelated. */
  readonly id: string;
  /** Increases along the source. */
  readonly seq: bigint;
  /**
   * The `seq` of this writer's previous publication of the same source on the same channel,
   * while that one may still fail (guarantee 6: refused unless that one is stored).
   */
  readonly after?: bigint;
}

/** What `publish()` resolves with (guarantee 5; `duplicate`: guarantee 6). */
export interface PublishResult extends StreamPosition {
  /** Not appended: the channel held this source position already; the position is the channel's. */
  readonly duplicate?: true;
}

export interface HistoryOptions {
  /** Return publications after this position. Omitted: from the oldest one kept. */
  readonly since?: StreamPosition;
  /** At most this many publications; 0 returns none (only the current position). */
  readonly limit: number;
  /** Newest first. */
  readonly reverse?: boolean;
}

export interface HistoryResult {
  readonly publications: readonly Publication[];
  /** The channel's current top: its last offset and epoch. */
  readonly position: StreamPosition;
}

export interface BrokerEventHandler {
  /** Called for every publication of a channel this node subscribed to (guarantee 3). */
  onPublication(pub: Publication): void;
  /**
   * Called when the broker may have skipped publications for a channel (for example after a
   * reconnect to a broker whose stream was reset). The hub then tells its clients plainly
   * (they must re-subscribe and recover), instead of hiding the gap.
   */
  onStreamReset?(channel: string): void;
  /** A client joined a channel this node subscribed to, on any node (JoinLeavePublisher). */
  onJoin?(channel: string, info: ClientInfo): void;
  /** A client left a channel this node subscribed to, on any node (JoinLeavePublisher). */
  onLeave?(channel: string, info: ClientInfo): void;
  /** A control message published by any node, this one included (ControlPublisher). */
  onControl?(data: string): void;
}

/** What a broker reports about its own appends (exported on /metrics). Optional. */
export interface BrokerTelemetry {
  /** Publications accepted by `publish()` on this node and not yet stored. */
  readonly backlog: number;
  /** Publications refused for overload (backlog full, or waited past the publish timeout). */
  readonly rejected: number;
  /** Set by the metrics layer: called once per stored append with its latency and size. */
  onAppend: ((seconds: number, publications: number) => void) | null;
}

export interface Broker {
  /** Present when the broker reports backlog and append latency. */
  readonly telemetry?: BrokerTelemetry;
  /** Starts delivery to `handler`. Called once, before any subscribe. */
  run(handler: BrokerEventHandler): Promise<void>;
  publish(channel: string, data: string, opts?: PublishOptions): Promise<PublishResult>;
  /** This node wants the channel's publications (guarantee 3). Idempotent. */
  subscribe(channel: string): Promise<void>;
  /** This node no longer wants the channel. Idempotent. */
  unsubscribe(channel: string): Promise<void>;
  history(channel: string, opts: HistoryOptions): Promise<HistoryResult>;
  /** Drops the channel's history; the next publication starts a new epoch. */
  removeHistory(channel: string): Promise<void>;
  /** True while the broker can accept publications. Cheap; used by /ready. */
  isReady(): boolean;
  /** Stops delivery and releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Optional capability: publications delivered live to the subscribed nodes but kept out of
 * history and out of the channel's numbering (Centrifugo's `skip_history`). The returned
 * position has offset 0 (its epoch may be ''); delivered publications carry offset 0, and do
 * not move any subscriber's stream position. Delivery is at most once and not ordered with the
 * channel's numbered publications. Resolves once the broker has taken the publication.
 */
export interface EphemeralPublisher {
  publishEphemeral(channel: string, data: string, opts?: PublishOptions): Promise<StreamPosition>;
}

export function isEphemeralPublisher(b: Broker): b is Broker & EphemeralPublisher {
  return typeof (b as Partial<EphemeralPublisher>).publishEphemeral === 'function';
}

/**
 * Optional capability: join/leave events delivered to every node subscribed to the channel
 * (this one included) through `onJoin`/`onLeave`. At most once, best effort (as Centrifugo's):
 * a node that dies sends no leave for its clients; presence (its TTL) is the source of truth.
 * One node's events of one channel arrive in the order published.
 */
export interface JoinLeavePublisher {
  publishJoin(channel: string, info: ClientInfo): Promise<void>;
  publishLeave(channel: string, info: ClientInfo): Promise<void>;
}

export function isJoinLeavePublisher(b: Broker): b is Broker & JoinLeavePublisher {
  const c = b as Partial<JoinLeavePublisher>;
  return typeof c.publishJoin === 'function' && typeof c.publishLeave === 'function';
}

/**
 * Optional capability: a control channel between the nodes sharing the broker (Centrifugo's
 * control channel), for server API commands aimed at connections on any node. `data` is opaque
 * to the broker (core/control.ts encodes it); every node's `onControl` gets it, the sender's
 * included, at most once. Resolves once the broker has taken the message; rejects
 * ('unavailable') when it cannot reach the other nodes now.
 */
export interface ControlPublisher {
  publishControl(data: string): Promise<void>;
}

export function isControlPublisher(b: Broker): b is Broker & ControlPublisher {
  return typeof (b as Partial<ControlPublisher>).publishControl === 'function';
}

/**
 * Optional capability: a presence store shared by every node on this broker (core/presence.ts).
 * Without it, the gateway keeps presence in memory (one process: right for the memory broker).
 * The broker starts it in `run()` and stops it in `close()`.
 */
export interface PresenceProvider {
  readonly presence: PresenceStore;
}

export function isPresenceProvider(b: Broker): b is Broker & PresenceProvider {
  const p = (b as Partial<PresenceProvider>).presence;
  return typeof p === 'object' && p !== null;
}

/**
 * Optional capability: every node's authenticated connections per user, for a cluster-wide
 * `maxConnectionsPerUser`. Guarantees:
 *  1. `claimUserConnection` registers the connection, then ranks it among the user's live
 *     connections on every node by registration order, and answers 'over' when `limit` earlier
 *     ones are live (its entry is then removed again), else 'admitted'. Registration is
 *     acknowledged before the ranking reads, so two nodes admitting at once are ordered by the
 *     store and never both take the last slot (no overshoot); while an earlier, still undecided
 *     claim of the same user holds a slot, a later one may be refused although that earlier
 *     one will be refused too (a brief undershoot, never an overshoot).
 *  2. 'unavailable': the store could not be reached within its request timeout. The entry is
 *     kept and written when the store is back (the caller decides; the gateway admits: fail open).
 *  3. `releaseUserConnection` never rejects; an entry it could not delete, and every entry of a
 *     node that stops (crash, network loss), expires within the store's TTL. Live entries are
 *     refreshed by their node.
 */
export type UserClaim = 'admitted' | 'over' | 'unavailable';

export interface UserConnectionRegistry {
  claimUserConnection(user: string, client: string, limit: number): Promise<UserClaim>;
  releaseUserConnection(user: string, client: string): void;
}

export function isUserConnectionRegistry(b: Broker): b is Broker & UserConnectionRegistry {
  const r = b as Partial<UserConnectionRegistry>;
  return typeof r.claimUserConnection === 'function' && typeof r.releaseUserConnection === 'function';
}

/**
 * 'conflict': a fenced publication whose predecessor is missing (guarantee 6); retry from that one.
 * 'limit': a node-wide bound (channels held, history bytes) refused it; not stored (106).
 */
export type BrokerErrorCode = 'unavailable' | 'closed' | 'bad_request' | 'internal' | 'conflict' | 'limit';

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
