import { TokenError } from './auth.js';
import { Client, commandAllowance, STATE_CLOSED, STATE_CONNECTED, STATE_CONNECTING, type ClientContext } from './client.js';
import { brokerFailure } from './errors.js';
import type { TransportConnection } from './transport.js';
import { Disconnect, ErrorCode, isProtocolError, protocolError, type ProtocolError } from '../protocol/codes.js';
import {
  CENTRIFUGE_PING,
  encodeErrorReply,
  encodeHistoryReply,
  encodeReply,
  encodeSubscribeReply,
  parseCentrifugeFrame,
  type CentrifugeCommand,
  type CentrifugeFrameItem,
} from '../protocol/centrifuge.js';
import {
  parseCentrifugeParams,
  type ChannelParams,
  type HistoryParams,
  type PublishParams,
  type SubscribeParams,
  type TokenParams,
} from '../protocol/centrifuge-params.js';
import { PROTO_CENTRIFUGE } from '../protocol/push.js';

/**
 * The Centrifugo client protocol (JSON): `connect` first (within the handshake deadline),
 * commands with ids, replies with the same id, `{}` pings answered by `{}` pongs.
 */
export class CentrifugeClient extends Client {
  readonly protocol = PROTO_CENTRIFUGE;
  private handshakeTimer: NodeJS.Timeout | null;
  /** Commands waiting for the one before them to finish. */
  private readonly queue: CentrifugeFrameItem[] = [];
  private running = false;

  constructor(ctx: ClientContext, conn: TransportConnection, ip: string) {
    super(ctx, conn, ip);
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      if (this.state === STATE_CONNECTING) this.disconnect(Disconnect.Stale);
    }, ctx.opts.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  ping(): void {
    if (this.state !== STATE_CONNECTED) return;
    this.awaitingPong = true;
    this.sendText(CENTRIFUGE_PING);
  }

  override onClose(code: number, reason: string): void {
    this.clearHandshake();
    super.onClose(code, reason);
  }

  private clearHandshake(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private replyError(id: number, err: ProtocolError): void {
    this.ctx.stats.countCommandError(err.code);
    if (id > 0) this.sendText(encodeErrorReply(id, err));
  }

  onMessage(data: Buffer, binary: boolean): void {
    if (this.state === STATE_CLOSED) return;
    this.ctx.stats.messagesIn++;
    this.ctx.stats.bytesIn += data.length;
    if (binary) {
      // The JSON protocol is text; binary frames mean a protobuf client or garbage.
      this.disconnect(Disconnect.BadRequest);
      return;
    }
    const items = parseCentrifugeFrame(data.toString('utf8'));
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
        this.sendText(encodeReply(cmd.id, 'unsubscribe', {}));
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
      case 'rpc':
      case 'sub_refresh':
        return this.replyError(cmd.id, protocolError(ErrorCode.MethodNotFound));
    }
  }

  private async authenticate(token: string | null): Promise<{ user: string; exp: number } | ProtocolError | 'invalid'> {
    if (token === null || token === '') {
      if (this.ctx.opts.allowAnonymous) return { user: '', exp: 0 };
      return protocolError(ErrorCode.Unauthorized);
    }
    if (!this.ctx.verifier) return 'invalid';
    try {
      const c = await this.ctx.verifier.verify(token);
      return { user: c.user, exp: c.exp };
    } catch (err) {
      if (err instanceof TokenError && err.code === 'expired') return protocolError(ErrorCode.TokenExpired);
      return 'invalid';
    }
  }

  private connectResult(): Record<string, unknown> {
    const r: Record<string, unknown> = {
      client: this.id,
      version: this.ctx.version,
      ping: Math.round(this.ctx.opts.pingIntervalMs / 1000),
      pong: true,
      node: this.ctx.nodeId,
    };
    if (this.exp > 0) {
      r.expires = true;
      r.ttl = Math.max(1, Math.floor(this.exp - Date.now() / 1000));
    }
    return r;
  }

  private async connect(id: number, p: TokenParams): Promise<void> {
    this.clearHandshake();
    const auth = await this.authenticate(p.token);
    if (this.state === STATE_CLOSED) return;
    if (auth === 'invalid') return this.disconnect(Disconnect.InvalidToken);
    if (isProtocolError(auth)) {
      this.replyError(id, auth);
      this.flush();
      // Centrifugo closes after a refused connect; 109 lets the SDK fetch a new token first.
      return this.disconnect(auth.code === ErrorCode.TokenExpired ? Disconnect.ConnectionClosed : Disconnect.InvalidToken);
    }
    this.state = STATE_CONNECTED;
    this.setCredentials(auth.user, auth.exp);
    this.ctx.clientAuthenticated(this);
    this.sendText(encodeReply(id, 'connect', this.connectResult()));
  }

  private async refresh(id: number, p: TokenParams): Promise<void> {
    const auth = await this.authenticate(p.token);
    if (this.state === STATE_CLOSED) return;
    if (auth === 'invalid') return this.disconnect(Disconnect.InvalidToken);
    if (isProtocolError(auth)) return this.replyError(id, auth);
    if (auth.user !== this.user) return this.disconnect(Disconnect.InvalidToken);
    this.setCredentials(auth.user, auth.exp);
    const r = this.connectResult();
    this.sendText(encodeReply(id, 'refresh', { client: this.id, version: this.ctx.version, expires: r.expires === true, ttl: r.ttl }));
  }

  private async subscribe(id: number, params: SubscribeParams): Promise<void> {
    const { channel, since } = params;
    const check = this.checkSubscribe(channel);
    if (isProtocolError(check)) return this.replyError(id, check);
    const p = await this.prepareSubscription(channel, check.ns, since, commandAllowance(this.ctx.opts.recovery.maxBytesPerCommand));
    if (this.state === STATE_CLOSED) return;
    if (isProtocolError(p)) return this.replyError(id, p);
    this.sendRecoveryReply(
      encodeSubscribeReply(id, {
        ...(p.recoverable ? { position: p.position } : {}),
        ...(p.wasRecovering ? { recovered: p.recovered } : {}),
        publications: p.publications,
      }),
    );
    this.activate(p, false);
  }

  private async publish(id: number, p: PublishParams): Promise<void> {
    const ns = this.ctx.rules.resolve(p.channel);
    if (!ns) return this.replyError(id, protocolError(ErrorCode.UnknownChannel));
    if (!ns.publish) return this.replyError(id, protocolError(ErrorCode.PermissionDenied));
    try {
      await this.ctx.broker.publish(p.channel, p.data, {
        historySize: ns.historySize,
        historyTtlMs: ns.historyTtlMs,
        info: { client: this.id, user: this.user },
      });
      this.ctx.stats.publications++;
      this.sendText(encodeReply(id, 'publish', {}));
    } catch (err) {
      this.replyError(id, brokerFailure(err));
    }
  }

  private async history(id: number, p: HistoryParams): Promise<void> {
    const sub = this.subs.get(p.channel);
    if (!sub) return this.replyError(id, protocolError(ErrorCode.PermissionDenied));
    if (sub.ns.historySize === 0) return this.replyError(id, protocolError(ErrorCode.NotAvailable));
    try {
      const h = await this.ctx.broker.history(p.channel, {
        limit: p.limit === -1 ? sub.ns.historySize : Math.min(p.limit, sub.ns.historySize),
        since: p.since,
        reverse: p.reverse,
      });
      if (this.state === STATE_CLOSED) return;
      this.sendText(encodeHistoryReply(id, h.publications, h.position));
    } catch {
      this.replyError(id, protocolError(ErrorCode.NotAvailable, undefined, true));
    }
  }

  private presence(id: number, method: 'presence' | 'presence_stats', p: ChannelParams): void {
    const sub = this.subs.get(p.channel);
    if (!sub) return this.replyError(id, protocolError(ErrorCode.PermissionDenied));
    if (!sub.ns.presence) return this.replyError(id, protocolError(ErrorCode.NotAvailable));
    if (method === 'presence') this.sendText(encodeReply(id, 'presence', { presence: this.ctx.presence.get(p.channel) }));
    else this.sendText(encodeReply(id, 'presence_stats', this.ctx.presence.stats(p.channel)));
  }
}
