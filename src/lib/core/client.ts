import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from './clock.js';
import type { Broker, HistoryResult, Publication, StreamPosition } from './broker.js';
import type { ChannelRules, ResolvedNamespace, ResolvedSubscription } from './channels.js';
import { channelUser, resolveSubscription } from './channels.js';
import { PubFrames, type Hub, type Membership } from './hub.js';
import type { GatewayOptions } from './options.js';
import type { PresenceStore } from './presence.js';
import type { ClientInfo } from './broker.js';
import { decideLatest, decideRecovery, NOT_RECOVERED, type RecoveryOutcome } from './recovery.js';
import type { RecoveryBudget } from './recovery-budget.js';
import type { RecoverySlots, SlotRelease } from './recovery-slots.js';
import type { RecoveryFrames } from './recovery-frames.js';
import { suggestDelayMs } from './reconnect-hint.js';
import type { GatewayStats } from './stats.js';
import type { Logger } from './logger.js';
import type { PreparedFrame, TransportConnection, ConnectionHandler } from './transport.js';
import type { TokenVerifier } from './auth.js';
import { brokerFailure } from './errors.js';
import { BURST_SLICE_BYTES, Writer, type FlushScheduler, type WriterOwner } from './writer.js';
import { Disconnect, ErrorCode, isProtocolError, protocolError, type DisconnectReason, type ProtocolError } from '../protocol/codes.js';
import { PROTO_ODIN, type ProtocolId } from '../protocol/push.js';
import type { FilterNode } from '../protocol/tags-filter.js';

/** What a client needs from the gateway that owns it. */
export interface ClientContext {
  readonly opts: GatewayOptions;
  readonly hub: Hub<Client>;
  readonly flusher: FlushScheduler;
  readonly broker: Broker;
  readonly rules: ChannelRules;
  readonly stats: GatewayStats;
  readonly log: Logger;
  readonly presence: PresenceStore;
  readonly recoveryBudget: RecoveryBudget;
  readonly recoverySlots: RecoverySlots;
  /** Recovered publications' encodings, shared by every reader (recovery-frames.ts). */
  readonly recoveryFrames: RecoveryFrames;
  readonly verifier: TokenVerifier | null;
  readonly clock: Clock;
  readonly version: string;
  readonly nodeId: string;
  clientClosed(client: Client): void;
  clientAuthenticated(client: Client): void;
  /** Tells the channel's subscribers (on every node the broker reaches) of a join or leave. */
  announceJoinLeave(channel: string, info: ClientInfo, join: boolean): void;
}

// Connection states.
export const STATE_CONNECTING = 0;
export const STATE_CONNECTED = 1;
export const STATE_CLOSED = 2;

/** A subscription made ready (history read, live publications buffered), not yet active. */
export interface PreparedSubscription {
  /** The subscription's name: a channel, or a channel with a cadence suffix. */
  readonly channel: string;
  /** The broker channel its publications come from. */
  readonly source: string;
  readonly ns: ResolvedNamespace;
  readonly membership: Membership;
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
 * One connection: its state, subscriptions and limits; its bytes go out through its `writer`.
 * Protocol subclasses turn frames into calls of these methods and results into frames.
 */
export abstract class Client implements ConnectionHandler, WriterOwner {
  readonly id = randomUUID();
  abstract readonly protocol: ProtocolId;
  state: number = STATE_CONNECTING;
  user = '';
  /** Connection expiry, seconds since epoch; 0 = none. */
  exp = 0;
  /** Active and pending subscriptions. */
  readonly subs = new Map<string, PreparedSubscription | null>();
  /** True after a ping until the peer answers. */
  awaitingPong = false;
  readonly writer: Writer;
  private tokens: number;
  /** Recovered bytes decided and not yet handed to the writer. */
  private recoveryReserved = 0;
  private lastRefill: number;
  private expiryTimer: TimerHandle | null = null;

  constructor(
    protected readonly ctx: ClientContext,
    readonly conn: TransportConnection,
    readonly ip: string,
  ) {
    this.tokens = ctx.opts.commandBurst;
    this.lastRefill = ctx.clock.monotonic();
    this.writer = new Writer(conn, ctx.flusher, ctx.stats, ctx.opts.maxQueueBytes, this);
  }

  abstract onMessage(data: Buffer, binary: boolean): void;
  /** Heartbeat tick: send a ping (protocol's own kind). */
  abstract ping(): void;
  /** Encodes the protocol's disconnect notice, if it has one, sent before the close frame. */
  protected disconnectNotice(_reason: DisconnectReason): string | null {
    return null;
  }

  onPong(): void {
    this.awaitingPong = false;
  }

  /** Token bucket; false means the command must be refused (error 111). */
  protected allowCommand(): boolean {
    const now = this.ctx.clock.monotonic();
    const { commandRatePerSecond, commandBurst } = this.ctx.opts;
    this.tokens = Math.min(commandBurst, this.tokens + ((now - this.lastRefill) * commandRatePerSecond) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Queues a prepared frame; written at the end of the flush window. */
  enqueue(frame: PreparedFrame): void {
    this.writer.enqueue(frame);
  }

  /** Queues a reply or push of the client's own: written at the end of the turn (never held for a window). */
  sendText(text: string): void {
    this.writer.enqueue(this.ctx.hub.prepareText(text), true);
  }

  /** `sendText` for an encoded frame (binary when the codec is). */
  sendBytes(bytes: Uint8Array, binary: boolean): void {
    this.writer.enqueue(this.ctx.hub.prepareBytes(bytes, binary), true);
  }

  /** Writes what is queued now (a reply that must precede a close). */
  flush(): void {
    this.writer.flush();
  }

  onSlow(): void {
    this.disconnect(Disconnect.Slow);
  }

  /** Marks the connection authenticated and arms its expiry. */
  protected setCredentials(user: string, exp: number): void {
    this.user = user;
    this.exp = exp;
    if (this.expiryTimer) this.ctx.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (exp > 0) {
      const ms = Math.max(0, exp * 1000 - this.ctx.clock.now());
      // Beyond setTimeout's range the token outlives any process; no timer needed.
      if (ms < 2 ** 31 - 1) {
        this.expiryTimer = this.ctx.clock.setTimeout(() => this.disconnect(Disconnect.Expired), ms, { background: true });
      }
    }
  }

  /**
   * Checks whether this connection may subscribe to `channel` (a channel, or one with a cadence
   * suffix): what it resolves to, or the refusal.
   */
  protected checkSubscribe(channel: string): ResolvedSubscription | ProtocolError {
    const target = resolveSubscription(this.ctx.rules, channel);
    if (!target) return protocolError(ErrorCode.UnknownChannel);
    const ns = target.ns;
    if (ns.subscribe === 'authenticated' && this.user === '') return protocolError(ErrorCode.PermissionDenied);
    if (ns.userChannel && channelUser(target.source) !== this.user) return protocolError(ErrorCode.PermissionDenied);
    if (this.subs.has(channel)) return protocolError(ErrorCode.AlreadySubscribed);
    if (this.subs.size >= this.ctx.opts.maxChannelsPerConnection) return protocolError(ErrorCode.LimitExceeded, 'channel limit exceeded');
    return target;
  }

  /**
   * Joins the channel with live publications held back, reads history, and decides recovery.
   * The caller sends its reply and then calls {@link activate}: that order keeps the reply
   * before any publication, and loses or repeats none.
   */
  protected async prepareSubscription(
    channel: string,
    target: ResolvedSubscription,
    since: StreamPosition | null,
    allowance: CommandAllowance,
    opts: SubscribeOptions = NO_OPTIONS,
  ): Promise<PreparedSubscription | ProtocolError> {
    const { ns, source } = target;
    const limits = this.ctx.opts.limits;
    // Checked and joined in one synchronous step, so concurrent subscribes cannot pass the bound together.
    const full = this.ctx.hub.newChannelRefusal(channel, this.user === '', limits.maxChannels, limits.anonymousChannelShare);
    if (full !== null) {
      this.ctx.stats.limitRefusals[full]++;
      return protocolError(
        ErrorCode.LimitExceeded,
        full === 'channels' ? 'node channel limit reached' : 'node channel limit for anonymous connections reached',
      );
    }
    const snapshot = opts.snapshot === true;
    const filter = opts.filter ? this.ctx.hub.shareFilter(opts.filter) : null;
    const membership: Membership = {
      buffer: [],
      protocol: this.protocol,
      writer: this.writer,
      // A patch replaced in the queue would leave the client without its base: delta is never conflated.
      conflate: ns.conflation === 'latest' && opts.delta !== true,
      filter,
      cadence: null,
      lastOffset: 0,
      lastEpoch: '',
      delta: opts.delta === true,
      base: null,
    };
    this.subs.set(channel, null);
    try {
      await this.ctx.hub.add(channel, this, membership, source, target.intervalMs, ns.staleAfterMs);
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
          if (allowance.remaining <= 0) return this.refuseRecovery(channel, 'command_limit');
          // One slot of the node's concurrent recoveries for the read (a command holds at most one).
          const slot = this.ctx.recoverySlots.acquire();
          if (slot === null) return this.refuseRecovery(channel, 'queue_full');
          release = typeof slot === 'function' ? slot : await slot;
          if (this.state === STATE_CLOSED) return protocolError(ErrorCode.Expired, 'connection closed');
          if (!this.ctx.recoveryBudget.admits(this.user === '')) return this.refuseRecovery(channel, 'node_budget');
          let r: RecoveryOutcome = NOT_RECOVERED;
          if (recover) {
            const hist = await this.ctx.broker.history(source, { since: since!, limit: ns.recoveryMax });
            position = hist.position;
            r = decideRecovery(since!, hist, ns.recoveryMax);
          }
          if (latest && !r.recovered) {
            // With a filter, the newest publication that passes it (within recoveryMax).
            const newest = await this.ctx.broker.history(source, { limit: filter ? ns.recoveryMax : 1, reverse: true });
            position = newest.position;
            r = decideLatest(since, newest, filter ? (p) => filter.passes(p) : undefined);
          } else if (filter && r.publications.length > 0) {
            // Recovery decides on every publication; the client gets those its filter passes.
            r = { recovered: r.recovered, publications: r.publications.filter((p) => filter.passes(p)) };
          }
          release();
          for (const pub of r.publications) recoveredBytes += payloadBytes(pub);
          const refusal = this.reserveRecovery(recoveredBytes, r.publications.length, allowance);
          if (refusal !== null) return this.refuseRecovery(channel, refusal);
          recovered = r.recovered;
          // Under a cadence name, pushes carry that name.
          publications = source === channel ? r.publications : r.publications.map((p) => ({ ...p, channel }));
          if (recovered) this.ctx.stats.recoveries.recovered++;
          else this.ctx.stats.recoveries.not_recovered++;
        } finally {
          release?.();
          done();
        }
      } else if (useHistory) {
        position = (await this.ctx.broker.history(source, { limit: 0 })).position;
      }
      if (useHistory) this.ctx.hub.noteHead(source, position);
      if (ns.presence) await this.addPresence(channel);
      if (this.state === STATE_CLOSED || !this.subs.has(channel)) {
        this.recoveryReserved -= recoveredBytes;
        this.ctx.hub.remove(channel, this);
        if (ns.presence) this.removePresence(channel);
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
      this.subs.set(channel, prepared);
      return prepared;
    } catch (err) {
      this.subs.delete(channel);
      this.ctx.hub.remove(channel, this);
      this.ctx.log.warn({ err, channel, client: this.id }, 'subscribe failed');
      return brokerFailure(err);
    }
  }

  /**
   * Within the per-command and per-connection bounds, reserves `bytes` of recovery (charged to
   * the node's budget); else says which bound refused it.
   */
  private reserveRecovery(
    bytes: number,
    publications: number,
    allowance: CommandAllowance,
  ): Extract<RecoveryRefusal, 'command_limit' | 'connection_limit'> | null {
    if (bytes === 0) return null;
    if (bytes > allowance.remaining) return 'command_limit';
    if (this.recoveryReserved + this.writer.burstBytes + bytes > this.ctx.opts.recovery.maxBytesPerConnection) return 'connection_limit';
    allowance.remaining -= bytes;
    this.recoveryReserved += bytes;
    this.ctx.recoveryBudget.charge(bytes, publications, this.user === '');
    return null;
  }

  /** Leaves the channel joined for a recovery that a bound refused; counted, with its code. */
  private refuseRecovery(channel: string, bound: RecoveryRefusal): ProtocolError {
    this.subs.delete(channel);
    this.ctx.hub.remove(channel, this);
    this.ctx.stats.recoveryRefusals[bound]++;
    if (bound === 'command_limit') {
      return protocolError(ErrorCode.LimitExceeded, 'recovery larger than one command may recover; subscribe it in another command');
    }
    return {
      ...protocolError(ErrorCode.TooManyRequests, REFUSAL_MESSAGES[bound], true),
      retryAfterMs: suggestDelayMs(this.ctx.opts.reconnect),
    };
  }

  /**
   * The `history` command of both protocols (Centrifugo's rules): only a channel this connection
   * is subscribed to (103), of a namespace that keeps history (108); `limit` -1 is all kept, 0
   * only the position, and never more than the namespace keeps. A read that returns
   * publications takes a slot of the node's concurrent recoveries, like one. Null: the
   * connection closed meanwhile (nothing to answer).
   */
  protected async readHistory(
    channel: string,
    limit: number,
    since: StreamPosition | undefined,
    reverse: boolean,
  ): Promise<HistoryResult | ProtocolError | null> {
    const sub = this.subs.get(channel);
    if (!sub) return protocolError(ErrorCode.PermissionDenied);
    if (sub.ns.historySize === 0) return protocolError(ErrorCode.NotAvailable);
    let release: SlotRelease | null = null;
    if (limit !== 0) {
      const slot = this.ctx.recoverySlots.acquire();
      if (slot === null) {
        this.ctx.stats.recoveryRefusals.queue_full++;
        return protocolError(ErrorCode.TooManyRequests, 'too many history reads in progress, retry later', true);
      }
      release = typeof slot === 'function' ? slot : await slot;
      if (this.state === STATE_CLOSED) {
        release();
        return null;
      }
    }
    try {
      const h = await this.ctx.broker.history(sub.source, {
        limit: limit === -1 ? sub.ns.historySize : Math.min(limit, sub.ns.historySize),
        ...(since !== undefined ? { since } : {}),
        reverse,
      });
      if (this.state === STATE_CLOSED) return null;
      // Under a cadence name, publications carry that name.
      return sub.source === channel ? h : { ...h, publications: h.publications.map((p) => ({ ...p, channel })) };
    } catch {
      return protocolError(ErrorCode.NotAvailable, undefined, true);
    } finally {
      release?.();
    }
  }

  /** Sends a reply that carries recovered publications: a large one is exempt from the slow rule. */
  protected sendRecoveryReply(frame: PreparedFrame): void {
    if (frame.byteLength > BURST_SLICE_BYTES) this.writer.enqueueExempt(frame);
    else this.writer.enqueue(frame);
  }

  /** Goes live: queues the recovered publications, then the held-back live ones after them. */
  protected activate(p: PreparedSubscription, encodeRecovered: boolean): void {
    const buffered = p.membership.buffer ?? [];
    p.membership.buffer = null;
    this.recoveryReserved -= p.recoveredBytes;
    if (this.state === STATE_CLOSED) return;
    const hub = this.ctx.hub;
    if (encodeRecovered && p.publications.length > 0) {
      // Odin pushes carry `prev`, from the position the client sent (same epoch) on. Where it is
      // the offset before (a stream recovery, the usual case), the encoding is the one every
      // reader of the same history shares (recovery-frames.ts); otherwise (a filter's gaps, the
      // cache-mode newest, a cadence name) it is this client's own.
      let prev = p.since !== null && p.since.epoch === p.publications[0]!.epoch ? p.since.offset : 0;
      const proto = this.protocol;
      const frames = this.ctx.recoveryFrames;
      const shared = p.channel === p.source;
      const encode = (pub: Publication): PreparedFrame => {
        if (proto !== PROTO_ODIN) return shared ? frames.get(proto, pub, (x) => hub.prepare(proto, x)) : hub.prepare(proto, pub);
        const own = prev;
        prev = pub.offset;
        if (shared && own === pub.offset - 1) return frames.get(proto, pub, (x) => hub.prepareOdin(x, x.offset - 1));
        return hub.prepareOdin(pub, own);
      };
      // A large recovery is streamed in slices as the socket drains, encoded just before each slice (in order).
      if (p.recoveredBytes > BURST_SLICE_BYTES) this.writer.enqueueBurst(p.publications, encode, payloadBytes);
      else for (const pub of p.publications) this.enqueue(encode(pub));
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
      else this.enqueue(hub.frameFor(m, new PubFrames(named)));
    }
    if (newest !== null) m.cadence!.offer(newest);
    if (p.ns.joinLeave) this.ctx.announceJoinLeave(p.channel, { client: this.id, user: this.user }, true);
  }

  /**
   * Enters the channel's presence before the subscribe reply, so the client sees itself in it.
   * A store that cannot write now keeps the entry and retries (core/presence.ts, guarantee 4):
   * the subscription goes on.
   */
  private async addPresence(channel: string): Promise<void> {
    try {
      await this.ctx.presence.add(channel, { client: this.id, user: this.user });
    } catch (err) {
      this.ctx.log.warn({ err, channel, client: this.id }, 'presence not stored yet; the store retries');
    }
  }

  private removePresence(channel: string): void {
    this.ctx.presence.remove(channel, this.id).catch((err: unknown) => this.ctx.log.warn({ err, channel }, 'presence remove failed'));
  }

  /**
   * A subscription the server makes (server API `subscribe`, a token's `channels`/`subs`):
   * the client is told with the protocol's notice, then gets the channel's publications.
   */
  async serverSubscribe(channel: string, data: string | null, since: StreamPosition | null): Promise<void> {
    if (this.state !== STATE_CONNECTED || this.subs.has(channel)) return;
    const target = resolveSubscription(this.ctx.rules, channel);
    if (!target) return;
    const p = await this.prepareSubscription(channel, target, since, commandAllowance(this.ctx.opts.recovery.maxBytesPerCommand));
    if (isProtocolError(p) || (this.state as number) === STATE_CLOSED) return;
    this.sendSubscribeNotice(p, data);
    this.activate(p, true);
  }

  /** The server ends a subscription (server API `unsubscribe`); the client is told. */
  serverUnsubscribe(channel: string): void {
    if (this.state === STATE_CLOSED || !this.unsubscribeChannel(channel)) return;
    this.sendUnsubscribeNotice(channel);
  }

  /** The server API's `refresh` with `expire_at`: the connection now expires then (seconds). */
  extendExpiry(exp: number): void {
    if (this.state === STATE_CONNECTED) this.setCredentials(this.user, exp);
  }

  /** Sends the protocol's message telling the client of a server-side subscription. */
  protected abstract sendSubscribeNotice(p: PreparedSubscription, data: string | null): void;
  /** Sends the protocol's message telling the client the server unsubscribed it. */
  protected abstract sendUnsubscribeNotice(channel: string): void;

  /** Leaves a channel; false when not subscribed. */
  protected unsubscribeChannel(channel: string): boolean {
    const p = this.subs.get(channel);
    if (p === undefined) return false;
    this.subs.delete(channel);
    this.ctx.hub.remove(channel, this);
    if (p?.ns.presence) this.removePresence(channel);
    // Join went to everyone, this client included, once active; leave goes to those who stay.
    if (p?.ns.joinLeave) this.ctx.announceJoinLeave(channel, { client: this.id, user: this.user }, false);
    return true;
  }

  /** Closes with a protocol disconnect code (sent after queued frames). Idempotent. */
  disconnect(reason: DisconnectReason): void {
    if (this.state === STATE_CLOSED) return;
    const notice = this.disconnectNotice(reason);
    if (notice !== null) {
      // Past the queue check on purpose: the notice is small and says why the close comes.
      this.writer.writeLast(this.ctx.hub.prepareText(notice));
    }
    this.ctx.stats.countDisconnect(reason.code);
    this.release();
    this.conn.close(reason.code, reason.reason);
  }

  onClose(code: number, _reason: string): void {
    if (this.state !== STATE_CLOSED) this.ctx.stats.countDisconnect(code);
    this.release();
  }

  /** Releases every per-connection resource exactly once. */
  private release(): void {
    if (this.state === STATE_CLOSED) return;
    this.state = STATE_CLOSED;
    for (const channel of [...this.subs.keys()]) this.unsubscribeChannel(channel);
    if (this.expiryTimer) this.ctx.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.writer.close();
    this.ctx.clientClosed(this);
  }
}
