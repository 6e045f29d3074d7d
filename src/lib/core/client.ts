import { randomUUID } from 'node:crypto';
import { nowSeconds, type TimerHandle } from './clock.js';
import type { StreamPosition, HistoryResult } from './broker.js';
import type { ResolvedSubscription } from './channels.js';
import { resolveSubscription } from './channels.js';
import { removePresence } from './presence.js';
import type { PreparedFrame, TransportConnection, ConnectionHandler } from './transport.js';
import type { TokenVerifier } from './auth.js';
import { askProxy, proxyClient } from './proxy.js';
import {
  checkGrant,
  checkSubscribe,
  type AccessContext,
  type GrantCheck,
  type SubscribeCheck,
  type SubscribeDisconnect,
} from './subscribe-access.js';
import {
  activate,
  commandAllowance,
  prepareSubscription,
  readHistory,
  sendRecoveryReply,
  type ActiveSubscription,
  type CommandAllowance,
  type PreparedSubscription,
  type RecoveryContext,
  type SubscribeOptions,
} from './subscription-recovery.js';
import { STATE_CLOSED, STATE_CONNECTED, STATE_CONNECTING } from './client-state.js';
import {
  connectProxyRequest,
  readConnectProxyReply,
  readRefreshProxyReply,
  refreshProxyRequest,
  type ConnectProxyResult,
  type ProxyClient,
  type ProxyDecision,
  type ProxyKind,
} from '../protocol/centrifuge-proxy.js';
import { Writer, type FlushScheduler, type WriterOwner } from './writer.js';
import { Disconnect, isProtocolError, Unsubscribe, type DisconnectReason, type ProtocolError } from '../protocol/codes.js';
import type { ProtocolId } from '../protocol/push.js';

/**
 * What a client needs from the gateway that owns it: what the subscribe checks
 * (subscribe-access.ts) and a subscription's start with recovery (subscription-recovery.ts)
 * read, and the rest below.
 */
export interface ClientContext extends AccessContext, RecoveryContext<Client> {
  readonly flusher: FlushScheduler;
  readonly verifier: TokenVerifier | null;
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
}

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
  /** Recovered bytes decided and not yet handed to the writer (subscription-recovery.ts keeps it). */
  recoveryReserved = 0;
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
    return proxyClient(this);
  }

  /** One proxy request for this connection, counted; fail closed (proxy.ts). */
  protected askProxy<R>(
    kind: ProxyKind,
    body: string,
    read: (text: string) => ProxyDecision<R>,
  ): Promise<{ result: R } | ProtocolError | SubscribeDisconnect> {
    return askProxy(this.ctx, this, kind, body, read);
  }

  /** Whether this connection may subscribe to `channel`, and on what grant (subscribe-access.ts). */
  protected checkSubscribe(channel: string, token: string | null): Promise<SubscribeCheck> {
    return checkSubscribe(this.ctx, this, channel, token);
  }

  /** What a subscription token says for `channel` of this connection (subscribe-access.ts). */
  protected checkGrant(channel: string, token: string): Promise<GrantCheck> {
    return checkGrant(this.ctx, this, channel, token);
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
   * Joins the channel with live publications held back, reads history, and decides recovery
   * (subscription-recovery.ts). The caller sends its reply and then calls {@link activate}.
   */
  protected prepareSubscription(
    channel: string,
    target: ResolvedSubscription,
    since: StreamPosition | null,
    allowance: CommandAllowance,
    opts?: SubscribeOptions,
  ): Promise<PreparedSubscription | ProtocolError> {
    return prepareSubscription(this.ctx, this, channel, target, since, allowance, opts);
  }

  /** The `history` command of both protocols; null: the connection closed meanwhile (subscription-recovery.ts). */
  protected readHistory(
    channel: string,
    limit: number,
    since: StreamPosition | undefined,
    reverse: boolean,
  ): Promise<HistoryResult | ProtocolError | null> {
    return readHistory(this.ctx, this, channel, limit, since, reverse);
  }

  /** Sends a reply that carries recovered publications: a large one is exempt from the slow rule. */
  protected sendRecoveryReply(frame: PreparedFrame): void {
    sendRecoveryReply(this.writer, frame);
  }

  /** Goes live: queues the recovered publications, then the held-back live ones after them. */
  protected activate(p: PreparedSubscription, encodeRecovered: boolean): void {
    activate(this.ctx, this, p, encodeRecovered);
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
    if (p?.ns.presence) removePresence(this.ctx.presence, this.ctx.log, channel, this.id);
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
