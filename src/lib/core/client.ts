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
import { TokenError, type SubscriptionGrant, type TokenVerifier } from './auth.js';
import { brokerFailure } from './errors.js';
import type { AppProxy } from './proxy.js';
import {
  connectProxyRequest,
  readConnectProxyReply,
  readRefreshProxyReply,
  readSubscribeProxyReply,
  refreshProxyRequest,
  subscribeProxyRequest,
  type ConnectProxyResult,
  type ProxyClient,
  type ProxyDecision,
  type ProxyKind,
} from '../protocol/centrifuge-proxy.js';
import { BURST_SLICE_BYTES, Writer, type FlushScheduler, type WriterOwner } from './writer.js';
import {
  Disconnect,
  ErrorCode,
  isProtocolError,
  protocolError,
  Unsubscribe,
  type DisconnectReason,
  type ProtocolError,
} from '../protocol/codes.js';
import { PROTO_CENTRIFUGE_PROTOBUF, PROTO_ODIN, type ProtocolId } from '../protocol/push.js';
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
  /** Who verifies a subscription token for the channel (its namespace's keys, the global subscription keys, or `verifier`). */
  subscriptionVerifier(channel: string): TokenVerifier | null;
  /** The application's backend (proxies); null when none is configured. */
  readonly proxy: AppProxy | null;
  readonly clock: Clock;
  readonly version: string;
  readonly nodeId: string;
  clientClosed(client: Client): void;
  clientAuthenticated(client: Client): void;
  /**
   * Whether the connection may authenticate as `user` under `maxConnectionsPerUser` (on every
   * node with a broker that counts users cluster-wide); false: close it with 3504 (counted), or
   * it closed meanwhile. Followed by `clientAuthenticated` when true.
   */
  admitUser(client: Client, user: string): Promise<boolean>;
  /** Tells the channel's subscribers (on every node the broker reaches) of a join or leave. */
  announceJoinLeave(channel: string, info: ClientInfo, join: boolean): void;
}

// Connection states.
export const STATE_CONNECTING = 0;
export const STATE_CONNECTED = 1;
export const STATE_CLOSED = 2;

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

/** A subscribe the connection may make: what its name resolves to, and when its grant ends (s since epoch, 0 = never). */
export interface SubscribeAllowed extends ResolvedSubscription {
  readonly expireAt: number;
  /** JSON text of `data` for the subscribe result (a subscribe proxy's), or null. */
  readonly data?: string | null;
}

/** Centrifugo's answer when a proxy cannot be asked or answered nonsense: internal, temporary (fail closed). */
const PROXY_FAILED = protocolError(ErrorCode.Internal, 'the application could not be asked, retry later', true);
/** A refusal that closes the connection (a subscription token for another channel, user or client: 3500). */
export interface SubscribeDisconnect {
  readonly disconnect: DisconnectReason;
}
export type SubscribeCheck = SubscribeAllowed | ProtocolError | SubscribeDisconnect;

/** What a subscription token says for one channel of this connection. */
export type GrantCheck = SubscriptionGrant | ProtocolError | SubscribeDisconnect | 'invalid' | 'expired';

/** Seconds since the Unix epoch on `clock`. */
export const nowSeconds = (clock: Clock): number => Math.floor(clock.now() / 1000);

/** Which bound refused a recovery (`ws_recovery_refusals_total{reason}`). */
export type RecoveryRefusal = 'command_limit' | 'connection_limit' | 'node_budget' | 'queue_full';

const REFUSAL_MESSAGES: Record<Exclude<RecoveryRefusal, 'command_limit'>, string> = {
  connection_limit: 'too much recovery in flight on this connection, retry later',
  node_budget: 'recovery budget exhausted, retry later',
  queue_full: 'too many recoveries in progress, retry later',
};

/** A client's request headers when no proxy asks for any: one shared empty object, not one per connection. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** `s` as one flat sequential string (a rope's pieces are kept as long as the rope is). */
function flatString(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

/**
 * One connection: its state, subscriptions and limits; its bytes go out through its `writer`.
 * Protocol subclasses turn frames into calls of these methods and results into frames.
 */
export abstract class Client implements ConnectionHandler, WriterOwner {
  /**
   * A flat copy of a random UUID: `randomUUID()` returns a rope of some 15 concatenated pieces
   * (~450 B of heap per connection, held as long as the connection), a flat one-byte string is 56 B.
   */
  readonly id = flatString(randomUUID());
  abstract readonly protocol: ProtocolId;
  state: number = STATE_CONNECTING;
  user = '';
  /** Connection expiry, seconds since epoch; 0 = none. */
  exp = 0;
  /**
   * Active and pending subscriptions: null while being made, the prepared one until it is
   * active, then only what an active one needs (its recovered publications, positions and the
   * rest of the prepared record were for the reply, and are not held for the subscription's life).
   */
  readonly subs = new Map<string, ActiveSubscription | null>();
  /** True after a ping until the peer answers. */
  awaitingPong = false;
  readonly writer: Writer;
  private tokens: number;
  /** Recovered bytes decided and not yet handed to the writer. */
  private recoveryReserved = 0;
  private lastRefill: number;
  private expiryTimer: TimerHandle | null = null;
  /** Subscriptions whose token grant ends: channel → the timer that ends them (at most one per subscription); made at the first. */
  private subExpiry: Map<string, TimerHandle> | null = null;
  /** Centrifugo's transport name (proxy requests). */
  transportName = 'websocket';
  /** The client's request headers the proxies pass on. */
  requestHeaders: Readonly<Record<string, string>> = NO_HEADERS;

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
        this.expiryTimer = this.ctx.clock.setTimeout(() => void this.expire(), ms, { background: true });
      }
    }
  }

  /** Whether the connect proxy authenticated this connection (its expiry then asks the refresh proxy). */
  protected proxiedConnect = false;

  /**
   * The connection's time is up: a connection the connect proxy let in asks the refresh proxy
   * (Centrifugo's server-side refresh) — a new `expire_at` extends it; `expired`, a refusal or a
   * proxy that fails ends it (3005, so the client reconnects and is asked again: fail closed).
   */
  private async expire(): Promise<void> {
    this.expiryTimer = null;
    if (this.state === STATE_CLOSED) return;
    if (!this.proxiedConnect || !this.ctx.proxy?.has('refresh')) return this.disconnect(Disconnect.Expired);
    const d = await this.askProxy('refresh', refreshProxyRequest(this.proxyClient()), readRefreshProxyReply);
    if (this.state === STATE_CLOSED) return;
    if ('disconnect' in d) return this.disconnect(d.disconnect);
    if (isProtocolError(d) || d.result.expired || d.result.expireAt <= nowSeconds(this.ctx.clock))
      return this.disconnect(Disconnect.Expired);
    this.setCredentials(this.user, d.result.expireAt);
  }

  /**
   * Whether this connection may subscribe to `channel`, in Centrifugo's order: unknown channel
   * 102, already subscribed 105, channel limit 106; then a subscription token if one is given
   * (it grants the channel in any namespace), else the namespace's rule (`token`: 103 without one).
   */
  protected async checkSubscribe(channel: string, token: string | null): Promise<SubscribeCheck> {
    // A channel, or one with a cadence suffix (`BTC.price@1s`): its namespace and source channel.
    const target = resolveSubscription(this.ctx.rules, channel);
    if (!target) return protocolError(ErrorCode.UnknownChannel);
    const ns = target.ns;
    const limits = this.checkRoom(channel);
    if (limits !== null) return limits;
    if (token === null && ns.proxySubscribe && this.ctx.proxy?.has('subscribe')) return this.proxySubscribe(channel, target);
    if (token === null) {
      if (ns.subscribe === 'token') return protocolError(ErrorCode.PermissionDenied);
      if (ns.subscribe === 'authenticated' && this.user === '') return protocolError(ErrorCode.PermissionDenied);
      if (ns.userChannel && channelUser(target.source) !== this.user) return protocolError(ErrorCode.PermissionDenied);
      return { ...target, expireAt: 0 };
    }
    // A token names the source channel: it grants its cadence names too.
    const grant = await this.checkGrant(target.source, token);
    if (grant === 'invalid') return protocolError(ErrorCode.PermissionDenied);
    if (grant === 'expired') return protocolError(ErrorCode.TokenExpired);
    if (isProtocolError(grant) || 'disconnect' in grant) return grant;
    if (this.state === STATE_CLOSED) return protocolError(ErrorCode.Expired, 'connection closed');
    // The verification awaited: the connection may have subscribed meanwhile (Odin commands overlap).
    const again = this.checkRoom(channel);
    if (again !== null) return again;
    // A grant that already ended (`expire_at` in the past, `exp` still ahead): Centrifugo's 110.
    if (grant.expireAt > 0 && grant.expireAt <= nowSeconds(this.ctx.clock)) return protocolError(ErrorCode.Expired);
    return { ...target, expireAt: grant.expireAt };
  }

  /**
   * Asks the application whether this connection may subscribe (Centrifugo's subscribe proxy;
   * the namespace's own rules do not apply then): its error or disconnect, or the grant.
   */
  private async proxySubscribe(channel: string, target: ResolvedSubscription): Promise<SubscribeCheck> {
    const d = await this.askProxy('subscribe', subscribeProxyRequest(this.proxyClient(), channel, null, null), readSubscribeProxyReply);
    if (this.state === STATE_CLOSED) return protocolError(ErrorCode.Expired, 'connection closed');
    if (!('result' in d)) return d;
    const again = this.checkRoom(channel);
    if (again !== null) return again;
    return { ...target, expireAt: d.result.expireAt, data: d.result.data };
  }

  /**
   * Asks the connect proxy who this connection is (a connect without a token, on either
   * protocol): its result (user, expiry, channels to subscribe server-side), error or disconnect;
   * a proxy that fails is PROXY_FAILED (fail closed, temporary). A result marks the connection
   * as the proxy's, so its expiry asks the refresh proxy.
   */
  protected async proxyConnect(
    data: string | null,
    name: string,
    version: string,
  ): Promise<{ result: ConnectProxyResult } | ProtocolError | SubscribeDisconnect> {
    const d = await this.askProxy('connect', connectProxyRequest(this.proxyClient(), data, name, version), readConnectProxyReply);
    if ('result' in d) this.proxiedConnect = true;
    return d;
  }

  /** Who this connection is, as proxy requests say it. */
  protected proxyClient(): ProxyClient {
    return {
      client: this.id,
      transport: this.transportName,
      protocol: this.protocol === PROTO_CENTRIFUGE_PROTOBUF ? 'protobuf' : 'json',
      user: this.user,
    };
  }

  /**
   * One proxy request: the application's decision (result, error, or disconnect), counted; a
   * failure or an unreadable reply is PROXY_FAILED (fail closed), counted as `failed`.
   */
  protected async askProxy<R>(
    kind: ProxyKind,
    body: string,
    read: (text: string) => ProxyDecision<R>,
  ): Promise<{ result: R } | ProtocolError | SubscribeDisconnect> {
    let d: ProxyDecision<R>;
    try {
      d = read(await this.ctx.proxy!.post(kind, body, this.requestHeaders));
    } catch (err) {
      d = { unreadable: (err as Error).message };
    }
    if ('unreadable' in d) {
      this.ctx.stats.countProxy(kind, 'failed');
      this.ctx.log.warn({ client: this.id, proxy: kind, reason: d.unreadable }, 'proxy failed; refused');
      return PROXY_FAILED;
    }
    this.ctx.stats.countProxy(kind, 'result' in d ? 'allowed' : 'refused');
    return 'error' in d ? d.error : d;
  }

  /** Already subscribed (105) or no room for another channel (106); null when there is room. */
  private checkRoom(channel: string): ProtocolError | null {
    if (this.subs.has(channel)) return protocolError(ErrorCode.AlreadySubscribed);
    if (this.subs.size >= this.ctx.opts.maxChannelsPerConnection) return protocolError(ErrorCode.LimitExceeded, 'channel limit exceeded');
    return null;
  }

  /**
   * Verifies a subscription token for `channel` of this connection (Centrifugo's checks, in its
   * order): a bad token is `invalid`, a good one past its time `expired`; a token for a channel no
   * namespace knows 102; for another channel, user or client the connection is closed (3500).
   */
  protected async checkGrant(channel: string, token: string): Promise<GrantCheck> {
    const refused = this.ctx.stats.tokenRefusals;
    const verifier = this.ctx.subscriptionVerifier(channel);
    if (!verifier) {
      refused.invalid++;
      return 'invalid';
    }
    let grant: SubscriptionGrant;
    try {
      grant = await verifier.verifySubscription(token);
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 'invalid';
      refused[code]++;
      this.ctx.log.info({ client: this.id, user: this.user, channel, reason: code, err }, 'subscription token refused');
      return code === 'expired' ? 'expired' : 'invalid';
    }
    if (!this.ctx.rules.resolve(grant.channel)) return protocolError(ErrorCode.UnknownChannel);
    if (grant.channel !== channel || grant.user !== this.user || (grant.client !== '' && grant.client !== this.id)) {
      refused.mismatch++;
      this.ctx.log.info(
        { client: this.id, user: this.user, channel, tokenChannel: grant.channel },
        'subscription token for another channel or user',
      );
      return { disconnect: Disconnect.InvalidToken };
    }
    return grant;
  }

  /**
   * Ends the subscription when its grant runs out, plus `client.expiredSubCloseDelayMs` for a
   * refresh to arrive; `expireAt` 0 clears it (the grant never ends). Replaces any earlier timer.
   */
  protected armSubscriptionExpiry(channel: string, expireAt: number): void {
    this.clearSubscriptionExpiry(channel);
    if (expireAt <= 0 || this.state === STATE_CLOSED || !this.subs.has(channel)) return;
    const ms = Math.max(0, expireAt * 1000 + this.ctx.opts.client.expiredSubCloseDelayMs - this.ctx.clock.now());
    // Beyond setTimeout's range the grant outlives any process; no timer needed.
    if (ms >= 2 ** 31 - 1) return;
    const timer = this.ctx.clock.setTimeout(() => this.expireSubscription(channel), ms, { background: true });
    (this.subExpiry ??= new Map()).set(channel, timer);
  }

  private clearSubscriptionExpiry(channel: string): void {
    const timer = this.subExpiry?.get(channel);
    if (timer === undefined) return;
    this.ctx.clock.clearTimeout(timer);
    this.subExpiry!.delete(channel);
  }

  /** The grant ran out unrefreshed: unsubscribed with 2501, which makes an SDK subscribe again with a new token. */
  private expireSubscription(channel: string): void {
    this.subExpiry?.delete(channel);
    if (this.state === STATE_CLOSED || !this.unsubscribeChannel(channel)) return;
    this.ctx.stats.subscriptionsExpired++;
    this.sendUnsubscribeNotice(channel, Unsubscribe.Expired);
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
    if (this.subs.get(p.channel) === p)
      this.subs.set(p.channel, { channel: p.channel, source: p.source, ns: p.ns, membership: p.membership });
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
    this.sendUnsubscribeNotice(channel, Unsubscribe.Server);
  }

  /** The server API's `refresh` with `expire_at`: the connection now expires then (seconds). */
  extendExpiry(exp: number): void {
    if (this.state === STATE_CONNECTED) this.setCredentials(this.user, exp);
  }

  /** Sends the protocol's message telling the client of a server-side subscription. */
  protected abstract sendSubscribeNotice(p: PreparedSubscription, data: string | null): void;
  /** Sends the protocol's message telling the client the server unsubscribed it, and why. */
  protected abstract sendUnsubscribeNotice(channel: string, why: DisconnectReason): void;

  /** Leaves a channel; false when not subscribed. */
  protected unsubscribeChannel(channel: string): boolean {
    const p = this.subs.get(channel);
    if (p === undefined) return false;
    this.subs.delete(channel);
    this.clearSubscriptionExpiry(channel);
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
