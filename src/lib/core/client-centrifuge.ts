import { publicationTags } from './channels.js';
import { TokenError } from './auth.js';
import { Client, type ClientContext } from './client.js';
import { STATE_CLOSED, STATE_CONNECTED, STATE_CONNECTING } from './client-state.js';
import { commandAllowance, type PreparedSubscription } from './subscription-recovery.js';
import { nowSeconds, type Clock, type TimerHandle } from './clock.js';
import { brokerFailure } from './errors.js';
import { resolveSubscription } from './channels.js';
import type { TransportConnection } from './transport.js';
import {
  Disconnect,
  ErrorCode,
  isProtocolError,
  protocolError,
  uniDisconnectOf,
  type DisconnectReason,
  type ProtocolError,
} from '../protocol/codes.js';
import { TAGS_FILTER_NOT_ALLOWED } from '../protocol/tags-filter.js';
import { encodePublicationObject, type CentrifugeCommand, type CentrifugeFrameItem } from '../protocol/centrifuge.js';
import type { Publication } from './broker.js';
import { KIND_CENTRIFUGE_JSON_OBJECT, type RecoveryFrames } from './recovery-frames.js';
import {
  JSON_CODEC,
  UNI_JSON_CODEC,
  type CentrifugeCodec,
  type ConnectFields,
  type SubscribeFields,
} from '../protocol/centrifuge-codec.js';
import { protobufWire } from '../protocol/centrifuge-protobuf-load.js';
import {
  parseCentrifugeParams,
  type ChannelParams,
  type HistoryParams,
  type PublishParams,
  type SubRefreshParams,
  type SubscribeParams,
  type TokenParams,
  type ConnectParams,
  type DeltaType,
  isDeltaType,
} from '../protocol/centrifuge-params.js';
import { PROTO_CENTRIFUGE, PROTO_CENTRIFUGE_PROTOBUF, PROTO_CENTRIFUGE_UNI, type ProtocolId } from '../protocol/push.js';
import { publishProxyRequest, readPublishProxyReply } from '../protocol/centrifuge-proxy.js';
import type { UniMode } from './transport.js';

/** SubscribeRequest.flag bits (centrifugal/protocol); channel compaction (1) is not offered, so ignored. */
const SUB_FLAG_REJECT_UNRECOVERED = 2;

interface Authenticated {
  user: string;
  exp: number;
  /** Server-side subscriptions from the token: channel → JSON text of data, or null. */
  subs: Map<string, string | null>;
}

/** A subscription made at connect, sent in the connect reply's `subs`. */
interface ReadyConnectSub {
  readonly p: PreparedSubscription;
  readonly data: string | null;
  /** When its subscription token's grant ends (s since epoch); 0 = never. */
  readonly expireAt: number;
}

/** Seconds left of a grant ending at `expireAt` (at least 1); 0 for none. */
const ttlOf = (expireAt: number, clock: Clock): number => (expireAt > 0 ? Math.max(1, expireAt - nowSeconds(clock)) : 0);

/** What a subscribe result says about a prepared subscription. */
function subscribeFields(p: PreparedSubscription, data: string | null, frames?: RecoveryFrames): SubscribeFields {
  return {
    // Recovered publications' JSON objects, encoded once for every reader of the same history
    // (not under a cadence name: those are copies, which the cache would only fill up with).
    ...(frames !== undefined && p.publications.length > 0 && p.channel === p.source && !p.membership.delta
      ? { publicationJson: (x) => frames.get(KIND_CENTRIFUGE_JSON_OBJECT, x as Publication, encodePublicationObject) }
      : {}),
    recoverable: p.recoverable,
    epoch: p.position.epoch,
    // Recovered: the offset the client sent, as Centrifugo answers (its recovered publications
    // then carry it to the top); otherwise the stream's top.
    offset: p.recovered && p.since !== null ? p.since.offset : p.position.offset,
    wasRecovering: p.wasRecovering,
    recovered: p.recovered,
    publications: p.publications,
    data,
    delta: p.membership.delta,
  };
}

/**
 * The Centrifugo client protocol, JSON or protobuf (chosen at upgrade by subprotocol):
 * `connect` first (within the handshake deadline), commands with ids, replies with the same id,
 * empty pings answered by empty pongs.
 */
export class CentrifugeClient extends Client {
  readonly protocol: ProtocolId;
  private readonly codec: CentrifugeCodec;
  private handshakeTimer: TimerHandle | null;
  /** Channels subscribed with a subscription token: the client refreshes those (`sub_refresh`); made at the first. */
  private tokenSubscriptions: Set<string> | null = null;
  /** Commands waiting for the one before them to finish. */
  private readonly queue: CentrifugeFrameItem[] = [];
  private running = false;

  /**
   * @param session an emulated connection's session id (ConnectionInfo.session), sent in the
   *   connect reply; undefined on a WebSocket.
   */
  /**
   * @param uni a unidirectional transport (ConnectionInfo.uni): the client's first message is
   *   its connect request, nothing after it is read, and the server only pushes.
   */
  constructor(
    ctx: ClientContext,
    conn: TransportConnection,
    ip: string,
    protobuf = false,
    private readonly session?: string,
    private readonly uni?: UniMode,
  ) {
    super(ctx, conn, ip);
    this.protocol = uni ? PROTO_CENTRIFUGE_UNI : protobuf ? PROTO_CENTRIFUGE_PROTOBUF : PROTO_CENTRIFUGE;
    this.codec = uni ? UNI_JSON_CODEC : protobuf ? protobufWire().PROTOBUF_CODEC : JSON_CODEC;
    this.handshakeTimer = ctx.clock.setTimeout(
      () => {
        this.handshakeTimer = null;
        if (this.state === STATE_CONNECTING) this.disconnect(Disconnect.Stale);
      },
      ctx.opts.handshakeTimeoutMs,
      { background: true },
    );
  }

  ping(): void {
    if (this.state !== STATE_CONNECTED) return;
    this.send(this.codec.ping);
    // A unidirectional client never answers `{}`: an HTTP stream's dead peer shows as a closed
    // socket or a full queue; a uni_websocket peer answers WebSocket pings.
    if (this.uni === undefined) this.awaitingPong = true;
    else if (this.uni === 'websocket') {
      this.awaitingPong = true;
      this.conn.ping();
    }
  }

  /** Queues an encoded reply or push. */
  private send(bytes: Uint8Array): void {
    this.sendBytes(bytes, this.codec.binary);
  }

  override onClose(code: number, reason: string): void {
    this.clearHandshake();
    super.onClose(code, reason);
  }

  private clearHandshake(): void {
    if (this.handshakeTimer) this.ctx.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private replyError(id: number, err: ProtocolError): void {
    this.ctx.stats.countCommandError(err.code);
    if (id > 0) this.send(this.codec.error(id, err));
  }

  onMessage(data: Buffer, binary: boolean): void {
    if (this.state === STATE_CLOSED) return;
    if (this.uni !== undefined) return this.onUniMessage(data, binary);
    this.ctx.stats.messagesIn++;
    this.ctx.stats.bytesIn += data.length;
    const items = this.codec.parse(data, binary);
    if (items === 'wrong_frame_type') {
      // JSON is text and protobuf binary, as negotiated at upgrade: anything else is garbage.
      this.disconnect(Disconnect.BadRequest);
      return;
    }
    for (const item of items) {
      // A pong never waits behind commands.
      if (item.kind === 'pong') this.awaitingPong = false;
      else this.queue.push(item);
    }
    // Commands arriving faster than they can be served: the client floods.
    if (this.queue.length > this.ctx.opts.commandBurst) return this.disconnect(Disconnect.TooManyRequests);
    if (!this.running && this.queue.length > 0) void this.drain();
  }

  /**
   * A unidirectional client's message: the first is its connect request (a ConnectRequest
   * object, as Centrifugo reads it); every later one is read and dropped, as Centrifugo does.
   */
  private onUniMessage(data: Buffer, binary: boolean): void {
    if (this.running || this.state !== STATE_CONNECTING) return;
    this.ctx.stats.messagesIn++;
    this.ctx.stats.bytesIn += data.length;
    let req: unknown;
    try {
      req = binary ? undefined : (JSON.parse(data.toString('utf8')) as unknown);
    } catch {
      req = undefined;
    }
    // `null` is an empty request, as in Centrifugo.
    if (req === null) req = {};
    if (typeof req !== 'object' || Array.isArray(req)) return this.disconnect(Disconnect.BadRequest);
    this.queue.push({ kind: 'command', command: { id: 1, method: 'connect', params: req as Record<string, unknown> } });
    void this.drain();
  }

  /**
   * Serves commands one at a time, in arrival order, as Centrifugo does: replies keep the
   * order of commands, and a command sees the effect of the ones before it.
   */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && this.state !== STATE_CLOSED) {
        const item = this.queue.shift()!;
        switch (item.kind) {
          case 'bad':
            this.ctx.log.debug({ client: this.id, reason: item.message }, 'bad command');
            this.disconnect(Disconnect.BadRequest);
            return;
          case 'unknown':
            this.replyError(item.id, protocolError(ErrorCode.MethodNotFound));
            break;
          case 'command':
            await this.dispatch(item.command);
            break;
          case 'pong':
            break;
        }
      }
    } catch (err) {
      this.ctx.log.error({ err, client: this.id }, 'command failed');
      this.disconnect(Disconnect.ServerError);
    } finally {
      this.running = false;
    }
  }

  private async dispatch(raw: CentrifugeCommand): Promise<void> {
    if (this.state === STATE_CONNECTING && raw.method !== 'connect') return this.disconnect(Disconnect.BadRequest);
    if (this.state !== STATE_CONNECTING && !this.allowCommand()) return this.replyError(raw.id, protocolError(ErrorCode.TooManyRequests));
    const cmd = parseCentrifugeParams(raw);
    if (isProtocolError(cmd)) return this.replyError(raw.id, cmd);
    switch (cmd.method) {
      case 'connect':
        if (this.state !== STATE_CONNECTING) return this.disconnect(Disconnect.BadRequest);
        return this.connect(cmd.id, cmd.params);
      case 'subscribe':
        return this.subscribe(cmd.id, cmd.params);
      case 'unsubscribe':
        this.unsubscribeChannel(cmd.params.channel);
        this.send(this.codec.empty(cmd.id, 'unsubscribe'));
        return;
      case 'publish':
        return this.publish(cmd.id, cmd.params);
      case 'history':
        return this.history(cmd.id, cmd.params);
      case 'presence':
      case 'presence_stats':
        return this.presence(cmd.id, cmd.method, cmd.params);
      case 'refresh':
        return this.refresh(cmd.id, cmd.params);
      case 'send':
        return; // Async messages need an application handler; there is none, as in Centrifugo without one.
      case 'sub_refresh':
        return this.subRefresh(cmd.id, cmd.params);
      case 'rpc':
        // No RPC handler: 108, as Centrifugo answers without an RPC proxy.
        return this.replyError(cmd.id, protocolError(ErrorCode.NotAvailable));
    }
  }

  private async authenticate(token: string | null): Promise<Authenticated | ProtocolError | 'invalid'> {
    if (token === null || token === '') {
      if (this.ctx.opts.allowAnonymous) return { user: '', exp: 0, subs: new Map() };
      return protocolError(ErrorCode.Unauthorized);
    }
    if (!this.ctx.verifier) return 'invalid';
    try {
      const c = await this.ctx.verifier.verify(token);
      const subs = new Map<string, string | null>(c.channels.map((ch) => [ch, null]));
      for (const [ch, data] of Object.entries(c.subs)) subs.set(ch, data);
      return { user: c.user, exp: c.exp, subs };
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 'invalid';
      this.ctx.stats.tokenRefusals[code]++;
      if (code === 'expired') return protocolError(ErrorCode.TokenExpired);
      this.ctx.log.info({ client: this.id, reason: code, err }, 'connection token refused');
      return 'invalid';
    }
  }

  /** The connect proxy's answer as credentials (its `channels` become server-side subscriptions). */
  private async connectByProxy(p: ConnectParams): Promise<Authenticated | ProtocolError | { disconnect: DisconnectReason }> {
    const d = await this.proxyConnect(p.data, p.name, p.version);
    if (!('result' in d)) return d;
    return { user: d.result.user, exp: d.result.expireAt, subs: new Map(d.result.channels.map((ch) => [ch, null])) };
  }

  private connectFields(subs: ReadonlyMap<string, SubscribeFields>): ConnectFields {
    return {
      client: this.id,
      version: this.ctx.version,
      ping: Math.round(this.ctx.opts.pingIntervalMs / 1000),
      pong: true,
      // The node (for routing /emulation) and the session go to emulated connections only, as Centrifugo's.
      ...(this.session !== undefined ? { session: this.session, node: this.ctx.nodeId } : {}),
      expires: this.exp > 0,
      ttl: this.exp > 0 ? Math.max(1, Math.floor(this.exp - this.ctx.clock.now() / 1000)) : 0,
      subs,
    };
  }

  private async connect(id: number, p: ConnectParams): Promise<void> {
    this.clearHandshake();
    // No token: the application decides, when a connect proxy is configured (as Centrifugo).
    const auth = p.token === null && this.ctx.proxy?.has('connect') ? await this.connectByProxy(p) : await this.authenticate(p.token);
    if (auth !== 'invalid' && !isProtocolError(auth) && 'disconnect' in auth) return this.disconnect(auth.disconnect);
    if (this.state === STATE_CLOSED) return;
    if (auth === 'invalid') return this.disconnect(Disconnect.InvalidToken);
    if (isProtocolError(auth) && this.uni !== undefined) return this.disconnect(uniDisconnectOf(auth));
    if (isProtocolError(auth)) {
      this.replyError(id, auth);
      this.flush();
      // Centrifugo closes after a refused connect; 109 lets the SDK fetch a new token first, and
      // a temporary refusal (a proxy that failed) lets it come back later.
      const retry = auth.code === ErrorCode.TokenExpired || auth.temporary === true;
      return this.disconnect(retry ? Disconnect.ConnectionClosed : Disconnect.InvalidToken);
    }
    // Centrifugo's client.user_connection_limit: the connection over it is closed, 3504.
    if (!(await this.ctx.admitUser(this, auth.user))) return this.disconnect(Disconnect.ConnectionLimit);
    if (this.state === STATE_CLOSED) return;
    this.state = STATE_CONNECTED;
    this.setCredentials(auth.user, auth.exp);
    this.ctx.clientAuthenticated(this);
    // Server-side subscriptions from the token: prepared before the reply, which carries their
    // results (with recovered publications when the client sent positions in its `subs`).
    const ready: ReadyConnectSub[] = [];
    const allowance = commandAllowance(this.ctx.opts.recovery.maxBytesPerCommand);
    for (const [channel, data] of auth.subs) {
      const target = resolveSubscription(this.ctx.rules, channel);
      if (!target || this.subs.has(channel)) continue;
      const prepared = await this.prepareSubscription(channel, target, p.subs[channel] ?? null, allowance);
      if (this.state === STATE_CLOSED) return;
      if (!isProtocolError(prepared)) ready.push({ p: prepared, data, expireAt: 0 });
    }
    if (this.uni !== undefined && !(await this.uniSubscriptions(p, allowance, ready))) return;
    const subs = new Map(
      ready.map((r) => [r.p.channel, { ...subscribeFields(r.p, r.data, this.ctx.recoveryFrames), ttl: ttlOf(r.expireAt, this.ctx.clock) }]),
    );
    this.sendRecoveryReply(this.ctx.hub.prepareBytes(this.codec.connect(id, this.connectFields(subs)), this.codec.binary));
    for (const r of ready) {
      this.activate(r.p, false);
      this.armSubscriptionExpiry(r.p.channel, r.expireAt);
    }
  }

  /**
   * A unidirectional client cannot send `subscribe`: the channels in its connect request's
   * `subs` (beyond the token's) are subscribed here, each only if the connection may subscribe
   * to it itself (namespace rules, or the entry's subscription `token`), recovering from its
   * position. A refused channel refuses the connect with the disconnect its code maps to (no
   * reply can carry an error). False when the connection was closed.
   */
  private async uniSubscriptions(
    p: ConnectParams,
    allowance: ReturnType<typeof commandAllowance>,
    ready: ReadyConnectSub[],
  ): Promise<boolean> {
    for (const [channel, req] of Object.entries(p.requested)) {
      if (this.subs.has(channel)) continue;
      const check = await this.checkSubscribe(channel, req.token);
      if (this.state === STATE_CLOSED) return false;
      if ('disconnect' in check) {
        this.disconnect(check.disconnect);
        return false;
      }
      if (isProtocolError(check)) {
        this.disconnect(uniDisconnectOf(check));
        return false;
      }
      const prepared = await this.prepareSubscription(channel, check, req.since, allowance);
      if (this.state === STATE_CLOSED) return false;
      if (isProtocolError(prepared)) {
        this.disconnect(uniDisconnectOf(prepared));
        return false;
      }
      ready.push({ p: prepared, data: null, expireAt: check.expireAt });
    }
    return true;
  }

  protected sendSubscribeNotice(p: PreparedSubscription, data: string | null): void {
    this.send(this.codec.subscribePush(p.channel, subscribeFields(p, data)));
  }

  protected override unsubscribeChannel(channel: string): boolean {
    this.tokenSubscriptions?.delete(channel);
    return super.unsubscribeChannel(channel);
  }

  protected sendUnsubscribeNotice(channel: string, why: DisconnectReason): void {
    this.send(this.codec.unsubscribePush(channel, why.code, why.reason));
  }

  private async refresh(id: number, p: TokenParams): Promise<void> {
    const auth = await this.authenticate(p.token);
    if (this.state === STATE_CLOSED) return;
    if (auth === 'invalid') return this.disconnect(Disconnect.InvalidToken);
    if (isProtocolError(auth)) return this.replyError(id, auth);
    if (auth.user !== this.user) return this.disconnect(Disconnect.InvalidToken);
    this.setCredentials(auth.user, auth.exp);
    const r = this.connectFields(new Map());
    this.send(this.codec.refresh(id, { expires: r.expires, ttl: r.ttl }));
  }

  private async subscribe(id: number, params: SubscribeParams): Promise<void> {
    const { channel, since } = params;
    // An unknown delta type closes the connection (Centrifugo's answer: a client bug).
    if (params.delta !== '' && !isDeltaType(params.delta)) return this.disconnect(Disconnect.BadRequest);
    const check = await this.checkSubscribe(channel, params.token);
    if (this.state === STATE_CLOSED) return;
    if ('disconnect' in check) return this.disconnect(check.disconnect);
    if (isProtocolError(check)) return this.replyError(id, check);
    // Centrifugo answers a filter the namespace does not allow with 107.
    if (params.tagsFilter && !check.ns.allowTagsFilter)
      return this.replyError(id, protocolError(ErrorCode.BadRequest, TAGS_FILTER_NOT_ALLOWED));
    const p = await this.prepareSubscription(channel, check, since, commandAllowance(this.ctx.opts.recovery.maxBytesPerCommand), {
      filter: params.tagsFilter,
      // Asked for and allowed: negotiated (`delta: true` in the reply); asked for and not allowed: plain publications.
      delta: params.delta !== '' && check.ns.allowedDeltaTypes.includes(params.delta as DeltaType),
    });
    if (this.state === STATE_CLOSED) return;
    if (isProtocolError(p)) return this.replyError(id, p);
    if ((params.flag & SUB_FLAG_REJECT_UNRECOVERED) !== 0 && p.wasRecovering && !p.recovered && !p.latest) {
      // The get_state flow: the client reloads its state and subscribes again.
      this.unsubscribeChannel(channel);
      return this.replyError(id, protocolError(ErrorCode.UnrecoverablePosition));
    }
    const ttl = ttlOf(check.expireAt, this.ctx.clock);
    const fields = { ...subscribeFields(p, check.data ?? null, this.ctx.recoveryFrames), ttl };
    this.sendRecoveryReply(this.ctx.hub.prepareBytes(this.codec.subscribe(id, fields), this.codec.binary));
    this.activate(p, false);
    this.armSubscriptionExpiry(channel, check.expireAt);
    if (params.token !== null) (this.tokenSubscriptions ??= new Set()).add(channel);
  }

  /**
   * `sub_refresh`: a new subscription token extends (or ends the expiry of) a subscription, as
   * Centrifugo answers it — empty channel: disconnect 3501; not subscribed 103; no token 107; a
   * bad token, or one for another channel or user: disconnect 3500; a grant already over 110.
   * One deviation: an expired token is refused with 109 (Centrifugo v6.9.1 answers it with a
   * success that lifts the expiry); the subscription then ends on schedule unless refreshed.
   */
  private async subRefresh(id: number, p: SubRefreshParams): Promise<void> {
    if (p.channel === '') return this.disconnect(Disconnect.BadRequest);
    if (!this.subs.get(p.channel)) return this.replyError(id, protocolError(ErrorCode.PermissionDenied));
    // Only a subscription made with a subscription token is refreshed by the client (Centrifugo's
    // client-side refresh); the server refreshes the others, so a client refresh is a bad request.
    if (this.tokenSubscriptions?.has(p.channel) !== true) return this.disconnect(Disconnect.BadRequest);
    if (p.token === '') return this.replyError(id, protocolError(ErrorCode.BadRequest, 'token required'));
    const grant = await this.checkGrant(p.channel, p.token);
    if (this.state === STATE_CLOSED) return;
    if (grant === 'invalid') return this.disconnect(Disconnect.InvalidToken);
    if (grant === 'expired') return this.replyError(id, protocolError(ErrorCode.TokenExpired));
    if ('disconnect' in grant) return this.disconnect(grant.disconnect);
    if (isProtocolError(grant)) return this.replyError(id, grant);
    const now = nowSeconds(this.ctx.clock);
    if (grant.expireAt > 0 && grant.expireAt < now) return this.replyError(id, protocolError(ErrorCode.Expired));
    this.armSubscriptionExpiry(p.channel, grant.expireAt);
    this.send(
      this.codec.subRefresh(
        id,
        grant.expireAt > 0 ? { expires: true, ttl: Math.max(1, grant.expireAt - now) } : { expires: false, ttl: 0 },
      ),
    );
  }

  private async publish(id: number, p: PublishParams): Promise<void> {
    const ns = this.ctx.rules.resolve(p.channel);
    if (!ns) return this.replyError(id, protocolError(ErrorCode.UnknownChannel));
    let data = p.data;
    let skipHistory = false;
    if (ns.proxyPublish && this.ctx.proxy?.has('publish')) {
      // The application decides instead of the namespace's `publish`, and may rewrite the data.
      const d = await this.askProxy('publish', publishProxyRequest(this.proxyClient(), p.channel, p.data), readPublishProxyReply);
      if (this.state === STATE_CLOSED) return;
      if ('disconnect' in d) return this.disconnect(d.disconnect);
      if (isProtocolError(d)) return this.replyError(id, d);
      data = d.result.data ?? data;
      skipHistory = d.result.skipHistory;
    } else if (!ns.publish) return this.replyError(id, protocolError(ErrorCode.PermissionDenied));
    try {
      const tags = publicationTags(ns, data, undefined);
      await this.ctx.broker.publish(p.channel, data, {
        historySize: skipHistory ? 0 : ns.historySize,
        historyTtlMs: ns.historyTtlMs,
        info: { client: this.id, user: this.user },
        ...(tags !== undefined ? { tags } : {}),
      });
      this.ctx.stats.publications++;
      this.send(this.codec.empty(id, 'publish'));
    } catch (err) {
      this.replyError(id, brokerFailure(err));
    }
  }

  private async history(id: number, p: HistoryParams): Promise<void> {
    const h = await this.readHistory(p.channel, p.limit, p.since, p.reverse);
    if (h === null) return;
    if (isProtocolError(h)) return this.replyError(id, h);
    this.send(this.codec.history(id, h.publications, h.position.epoch, h.position.offset));
  }

  private async presence(id: number, method: 'presence' | 'presence_stats', p: ChannelParams): Promise<void> {
    const sub = this.subs.get(p.channel);
    if (!sub) return this.replyError(id, protocolError(ErrorCode.PermissionDenied));
    if (!sub.ns.presence) return this.replyError(id, protocolError(ErrorCode.NotAvailable));
    try {
      const reply =
        method === 'presence'
          ? this.codec.presence(id, await this.ctx.presence.get(p.channel))
          : this.codec.presenceStats(id, await this.ctx.presence.stats(p.channel));
      if (this.state === STATE_CLOSED) return;
      this.send(reply);
    } catch (err) {
      if (this.state !== STATE_CLOSED) this.replyError(id, brokerFailure(err));
    }
  }
}
