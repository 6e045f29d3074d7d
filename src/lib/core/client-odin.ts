import { Client, type ClientContext } from './client.js';
import { STATE_CONNECTED, STATE_CLOSED } from './client-state.js';
import { commandAllowance, type PreparedSubscription, type SubscribeOptions } from './subscription-recovery.js';
import { TAGS_FILTER_NOT_ALLOWED } from '../protocol/tags-filter.js';
import type { TransportConnection } from './transport.js';
import {
  Disconnect,
  ErrorCode,
  isProtocolError,
  protocolError,
  shouldReconnect,
  Unsubscribe,
  type DisconnectReason,
  type ProtocolError,
} from '../protocol/codes.js';
import type { StreamPosition } from '../protocol/position.js';
import { odinPublicationFields, PROTO_ODIN } from '../protocol/push.js';
import {
  encodeOdinDisconnect,
  encodeOdinError,
  encodeOdinHistory,
  encodeOdinPong,
  encodeOdinWelcome,
  encodeSubscriptionAck,
  encodeUnsubscriptionAck,
  odinChannelError,
  parseOdinCommand,
  type OdinChannelError,
  type OdinHistoryParams,
  type OdinSubscribeResult,
} from '../protocol/odin.js';
import { suggestDelayMs } from './reconnect-hint.js';

/**
 * The Odin JSON protocol: connected at upgrade (anonymous, or a token given at upgrade),
 * subscribe/unsubscribe lists of channels, heartbeat → pong, WebSocket pings for liveness.
 * Bad input gets an `error` message with a code; the connection stays open.
 */
export class OdinClient extends Client {
  readonly protocol = PROTO_ODIN;

  /** Messages that arrived while the upgrade's token was being verified. */
  private held: Buffer[] | null = [];

  constructor(ctx: ClientContext, conn: TransportConnection, ip: string) {
    super(ctx, conn, ip);
  }

  /** Authenticated (or anonymous): serves what arrived meanwhile. Sends nothing unasked. */
  start(user: string, exp: number): void {
    if (this.state === STATE_CLOSED) return;
    this.state = STATE_CONNECTED;
    this.setCredentials(user, exp);
    this.ctx.clientAuthenticated(this);
    const held = this.held ?? [];
    this.held = null;
    for (const m of held) this.onMessage(m, false);
  }

  /**
   * An upgrade without a token while a connect proxy is configured: the application decides,
   * with Centrifugo's connect proxy request and reply. Resolves with its user, expiry and
   * channels (server-side subscriptions), or null when refused: its error is sent as an Odin
   * `error` and the connection closed — 3000 (come back later) when the error is temporary, as
   * a proxy that failed, timed out or answered garbage (100, fail closed), else 3500; its
   * disconnect as it says. Commands sent meanwhile wait (at most `commandBurst` of them).
   */
  async connectByProxy(): Promise<{ user: string; exp: number; channels: readonly string[] } | null> {
    const d = await this.proxyConnect(null, '', '');
    if (this.state === STATE_CLOSED) return null;
    if ('result' in d) return { user: d.result.user, exp: d.result.expireAt, channels: d.result.channels };
    if (isProtocolError(d)) {
      this.error(d.code, d.message);
      this.disconnect(d.temporary === true ? Disconnect.ConnectionClosed : Disconnect.InvalidToken);
    } else this.disconnect(d.disconnect);
    return null;
  }

  ping(): void {
    this.awaitingPong = true;
    this.conn.ping();
  }

  protected override disconnectNotice(reason: DisconnectReason): string {
    const reconnect = shouldReconnect(reason.code);
    return encodeOdinDisconnect(reason.code, reason.reason, reconnect, reconnect ? suggestDelayMs(this.ctx.opts.reconnect) : undefined);
  }

  protected sendSubscribeNotice(p: PreparedSubscription): void {
    this.sendText(encodeSubscriptionAck([this.ackOf(p)], this.subs.size, []));
  }

  protected sendUnsubscribeNotice(channel: string, why: DisconnectReason): void {
    // A server unsubscribe keeps the message Odin clients always had; other reasons say why.
    this.sendText(encodeUnsubscriptionAck([channel], this.subs.size, why.code === Unsubscribe.Server.code ? undefined : why));
  }

  private ackOf(p: PreparedSubscription): OdinSubscribeResult {
    const a: OdinSubscribeResult = { channel: p.channel, offset: p.position.offset, epoch: p.position.epoch, recoverable: p.recoverable };
    if (p.wasRecovering) {
      a.recovered = p.recovered;
      a.publications = p.publications.length;
    }
    return a;
  }

  private error(code: number, message: string, extra?: { command?: string; channel?: string }): void {
    this.ctx.stats.countCommandError(code);
    this.sendText(encodeOdinError(code, message, extra));
  }

  onMessage(data: Buffer, binary: boolean): void {
    if (this.state === STATE_CLOSED) return;
    if (this.held !== null) {
      if (this.held.length >= this.ctx.opts.commandBurst) return this.disconnect(Disconnect.TooManyRequests);
      if (binary) return this.error(ErrorCode.BadRequest, 'binary frames are not supported; send JSON text');
      this.held.push(data);
      return;
    }
    this.ctx.stats.messagesIn++;
    this.ctx.stats.bytesIn += data.length;
    // Any message proves the peer alive.
    this.awaitingPong = false;
    if (binary) {
      this.error(ErrorCode.BadRequest, 'binary frames are not supported; send JSON text');
      return;
    }
    if (!this.allowCommand()) {
      this.error(ErrorCode.TooManyRequests, 'too many requests');
      return;
    }
    const r = parseOdinCommand(data.toString('utf8'));
    if (!r.ok) {
      this.ctx.log.debug({ client: this.id, code: r.code, type: r.type }, r.message);
      this.error(r.code, r.message, r.type !== undefined ? { command: r.type.slice(0, 64) } : undefined);
      return;
    }
    const cmd = r.command;
    switch (cmd.type) {
      case 'heartbeat':
        this.sendText(encodeOdinPong(this.ctx.clock.now(), this.heads()));
        return;
      case 'hello':
        this.sendText(encodeOdinWelcome(this.id, this.ctx.version, this.ctx.opts.pingIntervalMs, this.user));
        return;
      case 'unsubscribe': {
        const done = cmd.channels.filter((c) => this.unsubscribeChannel(c));
        this.sendText(encodeUnsubscriptionAck(done, this.subs.size));
        return;
      }
      case 'subscribe':
        void this.subscribe(cmd.channels, cmd.positions, { snapshot: cmd.snapshot, filter: cmd.filter }, cmd.tokens);
        return;
      case 'history':
        void this.history(cmd.params);
        return;
    }
  }

  /** The head of each subscribed channel that keeps history, for the pong; undefined when none. */
  private heads(): Record<string, StreamPosition> | undefined {
    let heads: Record<string, StreamPosition> | undefined;
    for (const [name, p] of this.subs) {
      if (p === null || p.ns.historySize === 0) continue;
      const h = this.ctx.hub.head(p.source);
      if (h !== undefined) (heads ??= Object.create(null) as Record<string, StreamPosition>)[name] = h;
    }
    return heads;
  }

  private async history(p: OdinHistoryParams): Promise<void> {
    const h = await this.readHistory(p.channel, p.limit, p.since, p.reverse);
    if (h === null) return;
    const channel = p.channel.slice(0, 255);
    if (isProtocolError(h)) return this.error(h.code, h.message, { command: 'history', channel });
    this.sendText(encodeOdinHistory(p.channel, h.position, h.publications.map(odinPublicationFields)));
  }

  private async subscribe(
    channels: string[],
    positions: Record<string, StreamPosition>,
    opts: SubscribeOptions,
    tokens: Record<string, string>,
  ): Promise<void> {
    const errors: OdinChannelError[] = [];
    const unique = [...new Set(channels)];
    const jobs: Promise<PreparedSubscription | ProtocolError>[] = [];
    const names: string[] = [];
    const expiries = new Map<string, number>();
    // One allowance for the whole command: its channels together recover at most this much.
    const allowance = commandAllowance(this.ctx.opts.recovery.maxBytesPerCommand);
    for (const channel of unique) {
      // Checked one after another: each prepared subscription counts against the channel limit of the next.
      const check = await this.checkSubscribe(channel, tokens[channel] ?? null);
      if (this.state === STATE_CLOSED) return;
      // A token for another channel or user: Centrifugo closes the connection (3500), so do we.
      if ('disconnect' in check) return this.disconnect(check.disconnect);
      if (isProtocolError(check)) {
        errors.push(odinChannelError(channel.slice(0, 255), check));
        continue;
      }
      if (opts.filter && !check.ns.allowTagsFilter) {
        errors.push(odinChannelError(channel, protocolError(ErrorCode.BadRequest, TAGS_FILTER_NOT_ALLOWED)));
        continue;
      }
      names.push(channel);
      expiries.set(channel, check.expireAt);
      jobs.push(this.prepareSubscription(channel, check, positions[channel] ?? null, allowance, opts));
    }
    const results = await Promise.all(jobs);
    if (this.state === STATE_CLOSED) return;
    const ok: PreparedSubscription[] = [];
    results.forEach((r, i) => {
      if (isProtocolError(r)) errors.push(odinChannelError(names[i]!, r));
      else ok.push(r);
    });
    for (const e of errors) this.ctx.stats.countCommandError(e.code);
    const acks = ok.map((p) => this.ackOf(p));
    this.sendText(encodeSubscriptionAck(acks, this.subs.size, errors));
    for (const p of ok) {
      this.activate(p, true);
      // Subscribed while its source is quiet: told at once, as the others were.
      const stale = this.ctx.hub.staleNotice(p.source, p.channel);
      if (stale !== null) this.sendText(stale);
      this.armSubscriptionExpiry(p.channel, expiries.get(p.channel) ?? 0);
    }
  }
}
