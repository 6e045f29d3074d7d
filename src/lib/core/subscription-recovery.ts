/**
 * A subscription's start, with recovery: prepared (joined with live publications held back,
 * history read, recovery decided — recovery.ts — and admitted within its bounds: the command's
 * allowance, the connection's bytes in flight, the node's budget and concurrent reads), then
 * activated (its recovered publications, then the held-back live ones). The `history` command
 * reads under the same slots. Functions of the client's context and the connection (`Client`
 * calls them); docs/architecture.md, "Subscribing with recovery".
 */
import type { Broker, ClientInfo, HistoryResult, Publication, StreamPosition } from './broker.js';
import type { ResolvedNamespace, ResolvedSubscription } from './channels.js';
import { PubFrames } from './push-frames.js';
import type { Hub, Membership } from './hub.js';
import type { GatewayOptions } from './options.js';
import { addPresence, removePresence, type PresenceStore } from './presence.js';
import { decideLatest, decideRecovery, NOT_RECOVERED, type RecoveryOutcome } from './recovery.js';
import type { RecoveryBudget } from './recovery-budget.js';
import type { RecoverySlots, SlotRelease } from './recovery-slots.js';
import type { RecoveryFrames } from './recovery-frames.js';
import { suggestDelayMs } from './reconnect-hint.js';
import type { GatewayStats } from './stats.js';
import type { Logger } from './logger.js';
import type { PreparedFrame } from './transport.js';
import { brokerFailure } from './errors.js';
import { STATE_CLOSED } from './client-state.js';
import { BURST_SLICE_BYTES, type Writer } from './writer.js';
import { ErrorCode, protocolError, type ProtocolError } from '../protocol/codes.js';
import type { ProtocolId } from '../protocol/push.js';
import type { FilterNode } from '../protocol/tags-filter.js';

/** What preparing and activating read of the gateway (a part of the client's context). */
export interface RecoveryContext<C extends object> {
  readonly opts: GatewayOptions;
  readonly hub: Hub<C>;
  readonly broker: Broker;
  readonly stats: GatewayStats;
  readonly log: Logger;
  readonly presence: PresenceStore;
  readonly recoveryBudget: RecoveryBudget;
  readonly recoverySlots: RecoverySlots;
  /** Recovered publications' encodings, shared by every reader (recovery-frames.ts). */
  readonly recoveryFrames: RecoveryFrames;
  /** Tells the channel's subscribers (on every node the broker reaches) of a join or leave. */
  announceJoinLeave(channel: string, info: ClientInfo, join: boolean): void;
}

/** The connection subscribing: who it is, its state, queue and subscriptions. */
export interface SubscribingClient {
  readonly id: string;
  readonly user: string;
  readonly protocol: ProtocolId;
  readonly state: number;
  readonly writer: Writer;
  readonly subs: Map<string, ActiveSubscription | null>;
  /** Recovered bytes decided and not yet handed to the writer. */
  recoveryReserved: number;
}

/** What a connection keeps of a subscription once it is active (`Client.subs`). */
export interface ActiveSubscription {
  /** The subscription's name: a channel, or a channel with a cadence suffix. */
  readonly channel: string;
  /** The broker channel its publications come from. */
  readonly source: string;
  readonly ns: ResolvedNamespace;
  readonly membership: Membership;
}

/** A subscription made ready (history read, live publications buffered), not yet active. */
export interface PreparedSubscription extends ActiveSubscription {
  readonly position: StreamPosition;
  readonly recoverable: boolean;
  readonly wasRecovering: boolean;
  /**
   * The newest publication stood in for a position that was missing or not recoverable (the
   * namespace's `recoveryMode: cache`, or the client asked for a snapshot).
   */
  readonly latest: boolean;
  readonly recovered: boolean;
  /** The position the client asked to recover from (null: it did not ask). */
  readonly since: StreamPosition | null;
  readonly publications: readonly Publication[];
  /** Payload bytes of `publications`. */
  readonly recoveredBytes: number;
}

/** What a client asks of a subscription beyond its position. */
export interface SubscribeOptions {
  /** The newest publication where no position recovers (Odin `"snapshot": true`). */
  readonly snapshot?: boolean;
  /** Only publications whose tags pass this filter (the namespace must allow it). */
  readonly filter?: FilterNode | null;
  /** Fossil delta negotiated (Centrifugo protocol; the namespace allows it). */
  readonly delta?: boolean;
}

const NO_OPTIONS: SubscribeOptions = Object.freeze({});

/** What one command may still recover, payload bytes (recovery.maxBytesPerCommand). */
export interface CommandAllowance {
  remaining: number;
  /** Settles when the command's previous recovery has decided. */
  turn: Promise<void>;
}

/** A fresh allowance for one command. */
export function commandAllowance(maxBytes: number): CommandAllowance {
  return { remaining: maxBytes, turn: Promise.resolve() };
}

const payloadBytes = (p: Publication): number => p.data.length;

/** Which bound refused a recovery (`ws_recovery_refusals_total{reason}`). */
export type RecoveryRefusal = 'command_limit' | 'connection_limit' | 'node_budget' | 'queue_full';

const REFUSAL_MESSAGES: Record<Exclude<RecoveryRefusal, 'command_limit'>, string> = {
  connection_limit: 'too much recovery in flight on this connection, retry later',
  node_budget: 'recovery budget exhausted, retry later',
  queue_full: 'too many recoveries in progress, retry later',
};

/**
 * Joins the channel with live publications held back, reads history, and decides recovery.
 * The caller sends its reply and then calls {@link activate}: that order keeps the reply
 * before any publication, and loses or repeats none.
 */
export async function prepareSubscription<C extends SubscribingClient>(
  ctx: RecoveryContext<C>,
  client: C,
  channel: string,
  target: ResolvedSubscription,
  since: StreamPosition | null,
  allowance: CommandAllowance,
  opts: SubscribeOptions = NO_OPTIONS,
): Promise<PreparedSubscription | ProtocolError> {
  const { ns, source } = target;
  const limits = ctx.opts.limits;
  // Checked and joined in one synchronous step, so concurrent subscribes cannot pass the bound together.
  const full = ctx.hub.newChannelRefusal(channel, client.user === '', limits.maxChannels, limits.anonymousChannelShare);
  if (full !== null) {
    ctx.stats.limitRefusals[full]++;
    return protocolError(
      ErrorCode.LimitExceeded,
      full === 'channels' ? 'node channel limit reached' : 'node channel limit for anonymous connections reached',
    );
  }
  const snapshot = opts.snapshot === true;
  const filter = opts.filter ? ctx.hub.shareFilter(opts.filter) : null;
  const membership: Membership = {
    buffer: [],
    protocol: client.protocol,
    writer: client.writer,
    // A patch replaced in the queue would leave the client without its base: delta is never conflated.
    conflate: ns.conflation === 'latest' && opts.delta !== true,
    filter,
    cadence: null,
    lastOffset: 0,
    lastEpoch: '',
    delta: opts.delta === true,
    base: null,
  };
  client.subs.set(channel, null);
  try {
    await ctx.hub.add(channel, client, membership, source, target.intervalMs, ns.staleAfterMs);
    const useHistory = ns.historySize > 0;
    let position: StreamPosition = { offset: 0, epoch: '' };
    let recovered = false;
    let publications: readonly Publication[] = [];
    let recoveredBytes = 0;
    const recover = useHistory && since !== null && ns.recovery;
    // Cache mode, or a snapshot asked for: the newest publication when the position cannot be recovered.
    const latest = useHistory && (ns.recoveryMode === 'cache' || snapshot);
    if (recover || latest) {
      // A command's recoveries run one after another: each sees what the ones before it took.
      const prev = allowance.turn;
      let done!: () => void;
      allowance.turn = new Promise<void>((r) => (done = r));
      let release: SlotRelease | null = null;
      try {
        await prev;
        if (allowance.remaining <= 0) return refuseRecovery(ctx, client, channel, 'command_limit');
        // One slot of the node's concurrent recoveries for the read (a command holds at most one).
        const slot = ctx.recoverySlots.acquire();
        if (slot === null) return refuseRecovery(ctx, client, channel, 'queue_full');
        release = typeof slot === 'function' ? slot : await slot;
        if (client.state === STATE_CLOSED) return protocolError(ErrorCode.Expired, 'connection closed');
        if (!ctx.recoveryBudget.admits(client.user === '')) return refuseRecovery(ctx, client, channel, 'node_budget');
        let r: RecoveryOutcome = NOT_RECOVERED;
        if (recover) {
          const hist = await ctx.broker.history(source, { since: since!, limit: ns.recoveryMax });
          position = hist.position;
          r = decideRecovery(since!, hist, ns.recoveryMax);
        }
        if (latest && !r.recovered) {
          // With a filter, the newest publication that passes it (within recoveryMax).
          const newest = await ctx.broker.history(source, { limit: filter ? ns.recoveryMax : 1, reverse: true });
          position = newest.position;
          r = decideLatest(since, newest, filter ? (p) => filter.passes(p) : undefined);
        } else if (filter && r.publications.length > 0) {
          // Recovery decides on every publication; the client gets those its filter passes.
          r = { recovered: r.recovered, publications: r.publications.filter((p) => filter.passes(p)) };
        }
        release();
        for (const pub of r.publications) recoveredBytes += payloadBytes(pub);
        const refusal = reserveRecovery(ctx, client, recoveredBytes, r.publications.length, allowance);
        if (refusal !== null) return refuseRecovery(ctx, client, channel, refusal);
        recovered = r.recovered;
        // Under a cadence name, pushes carry that name.
        publications = source === channel ? r.publications : r.publications.map((p) => ({ ...p, channel }));
        if (recovered) ctx.stats.recoveries.recovered++;
        else ctx.stats.recoveries.not_recovered++;
      } finally {
        release?.();
        done();
      }
    } else if (useHistory) {
      position = (await ctx.broker.history(source, { limit: 0 })).position;
    }
    if (useHistory) ctx.hub.noteHead(source, position);
    if (ns.presence) await addPresence(ctx.presence, ctx.log, channel, { client: client.id, user: client.user });
    if (client.state === STATE_CLOSED || !client.subs.has(channel)) {
      client.recoveryReserved -= recoveredBytes;
      ctx.hub.remove(channel, client);
      if (ns.presence) removePresence(ctx.presence, ctx.log, channel, client.id);
      return protocolError(ErrorCode.Expired, 'connection closed');
    }
    const prepared: PreparedSubscription = {
      channel,
      source,
      ns,
      membership,
      position,
      recoverable: useHistory && ns.recovery,
      wasRecovering: since !== null || latest,
      latest,
      recovered,
      since,
      publications,
      recoveredBytes,
    };
    client.subs.set(channel, prepared);
    return prepared;
  } catch (err) {
    client.subs.delete(channel);
    ctx.hub.remove(channel, client);
    ctx.log.warn({ err, channel, client: client.id }, 'subscribe failed');
    return brokerFailure(err);
  }
}

/**
 * Within the per-command and per-connection bounds, reserves `bytes` of recovery (charged to
 * the node's budget); else says which bound refused it.
 */
function reserveRecovery(
  ctx: RecoveryContext<object>,
  client: SubscribingClient,
  bytes: number,
  publications: number,
  allowance: CommandAllowance,
): Extract<RecoveryRefusal, 'command_limit' | 'connection_limit'> | null {
  if (bytes === 0) return null;
  if (bytes > allowance.remaining) return 'command_limit';
  if (client.recoveryReserved + client.writer.burstBytes + bytes > ctx.opts.recovery.maxBytesPerConnection) return 'connection_limit';
  allowance.remaining -= bytes;
  client.recoveryReserved += bytes;
  ctx.recoveryBudget.charge(bytes, publications, client.user === '');
  return null;
}

/** Leaves the channel joined for a recovery that a bound refused; counted, with its code. */
function refuseRecovery<C extends SubscribingClient>(
  ctx: RecoveryContext<C>,
  client: C,
  channel: string,
  bound: RecoveryRefusal,
): ProtocolError {
  client.subs.delete(channel);
  ctx.hub.remove(channel, client);
  ctx.stats.recoveryRefusals[bound]++;
  if (bound === 'command_limit') {
    return protocolError(ErrorCode.LimitExceeded, 'recovery larger than one command may recover; subscribe it in another command');
  }
  return {
    ...protocolError(ErrorCode.TooManyRequests, REFUSAL_MESSAGES[bound], true),
    retryAfterMs: suggestDelayMs(ctx.opts.reconnect),
  };
}

/**
 * The `history` command of both protocols (Centrifugo's rules): only a channel this connection
 * is subscribed to (103), of a namespace that keeps history (108); `limit` -1 is all kept, 0
 * only the position, and never more than the namespace keeps. A read that returns
 * publications takes a slot of the node's concurrent recoveries, like one. Null: the
 * connection closed meanwhile (nothing to answer).
 */
export async function readHistory(
  ctx: RecoveryContext<object>,
  client: SubscribingClient,
  channel: string,
  limit: number,
  since: StreamPosition | undefined,
  reverse: boolean,
): Promise<HistoryResult | ProtocolError | null> {
  const sub = client.subs.get(channel);
  if (!sub) return protocolError(ErrorCode.PermissionDenied);
  if (sub.ns.historySize === 0) return protocolError(ErrorCode.NotAvailable);
  let release: SlotRelease | null = null;
  if (limit !== 0) {
    const slot = ctx.recoverySlots.acquire();
    if (slot === null) {
      ctx.stats.recoveryRefusals.queue_full++;
      return protocolError(ErrorCode.TooManyRequests, 'too many history reads in progress, retry later', true);
    }
    release = typeof slot === 'function' ? slot : await slot;
    if (client.state === STATE_CLOSED) {
      release();
      return null;
    }
  }
  try {
    const h = await ctx.broker.history(sub.source, {
      limit: limit === -1 ? sub.ns.historySize : Math.min(limit, sub.ns.historySize),
      ...(since !== undefined ? { since } : {}),
      reverse,
    });
    if (client.state === STATE_CLOSED) return null;
    // Under a cadence name, publications carry that name.
    return sub.source === channel ? h : { ...h, publications: h.publications.map((p) => ({ ...p, channel })) };
  } catch {
    return protocolError(ErrorCode.NotAvailable, undefined, true);
  } finally {
    release?.();
  }
}

/** Sends a reply that carries recovered publications: a large one is exempt from the slow rule. */
export function sendRecoveryReply(writer: Writer, frame: PreparedFrame): void {
  if (frame.byteLength > BURST_SLICE_BYTES) writer.enqueueExempt(frame);
  else writer.enqueue(frame);
}

/** Goes live: queues the recovered publications, then the held-back live ones after them. */
export function activate(ctx: RecoveryContext<object>, client: SubscribingClient, p: PreparedSubscription, encodeRecovered: boolean): void {
  const buffered = p.membership.buffer ?? [];
  p.membership.buffer = null;
  client.recoveryReserved -= p.recoveredBytes;
  if (client.state === STATE_CLOSED) return;
  if (client.subs.get(p.channel) === p)
    client.subs.set(p.channel, { channel: p.channel, source: p.source, ns: p.ns, membership: p.membership });
  const framer = ctx.hub.framer;
  const writer = client.writer;
  if (encodeRecovered && p.publications.length > 0) {
    // Odin pushes carry `prev`; shared encodings where the subscription's name is its channel (PushFramer.recoveredEncoder).
    const encode = framer.recoveredEncoder(client.protocol, p.since, p.publications[0]!, p.channel === p.source, ctx.recoveryFrames);
    // A large recovery is streamed in slices as the socket drains, encoded just before each slice (in order).
    if (p.recoveredBytes > BURST_SLICE_BYTES) writer.enqueueBurst(p.publications, encode, payloadBytes);
    else for (const pub of p.publications) writer.enqueue(encode(pub));
  }
  const m = p.membership;
  let last = p.position.offset;
  const lastRecovered = p.publications[p.publications.length - 1];
  // Where the client stands: its last recovered publication, else the position it was told.
  m.lastOffset = lastRecovered?.offset ?? p.position.offset;
  m.lastEpoch = lastRecovered?.epoch ?? p.position.epoch;
  // The reply (or the recovered pushes) carried it whole: the base of the next patch.
  if (lastRecovered !== undefined) m.base = lastRecovered;
  const rename = p.channel !== p.source;
  let newest: Publication | null = null;
  for (const pub of buffered) {
    if (m.filter !== null && !m.filter.passes(pub)) continue;
    // Offset 0: live only (skip_history), never in history: delivered as it came.
    if (pub.offset !== 0) {
      // Already in history (delivered as recovered, or before the client's start position).
      if (pub.epoch === p.position.epoch && pub.offset <= last) continue;
      last = pub.offset;
    }
    const named = rename ? { ...pub, channel: p.channel } : pub;
    // With a cadence, only the newest of those held back goes (through the group: at most one per interval).
    if (m.cadence !== null) newest = named;
    else writer.enqueue(framer.frameFor(m, new PubFrames(named)));
  }
  if (newest !== null) m.cadence!.offer(newest);
  if (p.ns.joinLeave) ctx.announceJoinLeave(p.channel, { client: client.id, user: client.user }, true);
}
