import { randomBytes } from 'node:crypto';
import { JwtVerifier, TokenError, type TokenVerifier } from './auth.js';
import {
  isControlPublisher,
  isEphemeralPublisher,
  isJoinLeavePublisher,
  isPresenceProvider,
  type Broker,
  type BrokerEventHandler,
  type ClientInfo,
  type HistoryResult,
  type Publication,
  type StreamPosition,
} from './broker.js';
import { ChannelRules } from './channels.js';
import { Client, type ClientContext } from './client.js';
import { CentrifugeClient } from './client-centrifuge.js';
import { OdinClient } from './client-odin.js';
import { brokerFailureError } from './errors.js';
import { Hub, pushJoinLeave } from './hub.js';
import type { GatewayOptions } from './options.js';
import { MemoryPresence, type PresenceInfo, type PresenceStats, type PresenceStore } from './presence.js';
import { decodeControl, encodeControl, type UserCommand } from './control.js';
import { UserIndex } from './users.js';
import { silentLogger, type Logger } from './logger.js';
import { GatewayStats } from './stats.js';
import type {
  Admission,
  ConnectionAcceptor,
  ConnectionHandler,
  ConnectionInfo,
  FrameEncoder,
  ProtocolName,
  TransportConnection,
  Waiting,
} from './transport.js';
import { RecoveryBudget } from './recovery-budget.js';
import { RecoverySlots } from './recovery-slots.js';
import { suggestRetryAfterSeconds } from './reconnect-hint.js';
import { FlushScheduler } from './writer.js';
import { CodedError, Disconnect, ErrorCode, type DisconnectReason } from '../protocol/codes.js';
import { PROTO_ODIN } from '../protocol/push.js';

export const VERSION = 'odin-ws 0.1.0';

const NOT_WAITING: Waiting = Object.freeze({ total: 0, fromIp: 0 });

export interface GatewayDeps {
  readonly broker: Broker;
  readonly transport: FrameEncoder;
  readonly log?: Logger;
  /** Overrides the verifier built from the options' token keys. */
  readonly verifier?: TokenVerifier;
  /** Overrides the presence store: default the broker's (PresenceProvider), else in memory. */
  readonly presence?: PresenceStore;
}

/** One connection as the admin console shows it. */
export interface ClientSummary {
  readonly client: string;
  readonly user: string;
  readonly ip: string;
  readonly protocol: 'odin' | 'centrifuge';
  readonly channels: string[];
}

export interface PublishRequest {
  readonly channel: string;
  /** JSON text of the payload. */
  readonly data: string;
  readonly idempotencyKey?: string;
  readonly tags?: Record<string, string>;
  /** Deliver live only: not kept in history, no offset (Centrifugo's `skip_history`). */
  readonly skipHistory?: boolean;
}

/**
 * One gateway node: accepts connections from a transport, keeps clients, fans out what the
 * broker delivers, and serves the server API. No sockets, no HTTP, no environment here: the
 * server API methods throw `CodedError` with a protocol code; the server layer maps it to HTTP.
 */
export class Gateway implements ConnectionAcceptor, BrokerEventHandler, ClientContext {
  readonly hub: Hub<Client>;
  /** The transport's framing, for connections that write payloads another way (HTTP streams). */
  readonly frames: FrameEncoder;
  readonly flusher: FlushScheduler;
  readonly recoveryBudget: RecoveryBudget;
  readonly recoverySlots: RecoverySlots;
  readonly rules: ChannelRules;
  readonly stats = new GatewayStats();
  readonly presence: PresenceStore;
  readonly verifier: TokenVerifier | null;
  readonly version = VERSION;
  readonly nodeId = randomBytes(4).toString('hex');
  readonly broker: Broker;
  readonly log: Logger;
  readonly startedAt = Date.now();
  private readonly clients = new Set<Client>();
  private readonly perIp = new Map<string, number>();
  private readonly users = new UserIndex();
  private pingTimer: NodeJS.Timeout | null = null;
  private pongTimer: NodeJS.Timeout | null = null;
  private draining = false;
  private closed: Promise<void> | null = null;

  constructor(
    readonly opts: GatewayOptions,
    deps: GatewayDeps,
  ) {
    this.broker = deps.broker;
    this.log = deps.log ?? silentLogger;
    this.presence = deps.presence ?? (isPresenceProvider(deps.broker) ? deps.broker.presence : new MemoryPresence());
    this.rules = new ChannelRules(opts.namespaces);
    this.frames = deps.transport;
    this.hub = new Hub<Client>(this.broker, deps.transport, this.stats, this.log);
    this.flusher = new FlushScheduler(opts.client.writeDelayMs);
    this.recoveryBudget = new RecoveryBudget(opts.recovery);
    this.recoverySlots = new RecoverySlots(opts.recovery);
    if (deps.verifier) this.verifier = deps.verifier;
    else {
      const v = new JwtVerifier({ hmacSecret: opts.tokenHmacSecret, publicKeyPem: opts.tokenPublicKey });
      this.verifier = v.configured ? v : null;
    }
  }

  get connectionCount(): number {
    return this.clients.size;
  }

  /** Open connections by client address (read-only view, for stats). */
  get connectionsByIp(): ReadonlyMap<string, number> {
    return this.perIp;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async start(): Promise<void> {
    await this.broker.run(this);
    this.pingTimer = setInterval(() => this.pingAll(), this.opts.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** Ready for traffic: not draining and the broker accepts publications. */
  isReady(): boolean {
    return !this.draining && this.closed === null && this.broker.isReady();
  }

  // ---- Broker events ----

  onPublication(pub: Publication): void {
    this.hub.onPublication(pub);
  }

  onStreamReset(channel: string): void {
    // Publications may have been skipped: every member must re-subscribe and recover (or be
    // told it cannot), so nothing is lost silently.
    const members = this.hub.members(channel);
    if (!members) return;
    this.log.warn({ channel, clients: members.size }, 'stream reset: reconnecting subscribers');
    for (const c of [...members.keys()]) c.disconnect(Disconnect.InsufficientState);
  }

  onJoin(channel: string, info: ClientInfo): void {
    pushJoinLeave(this.hub, channel, info, true);
  }

  onLeave(channel: string, info: ClientInfo): void {
    pushJoinLeave(this.hub, channel, info, false);
  }

  /** A server API command published by another node: applied to this node's connections. */
  onControl(data: string): void {
    const m = decodeControl(data);
    if (m === null) {
      this.log.warn({ bytes: data.length }, 'control message not understood; dropped');
      return;
    }
    if (m.from === this.nodeId) return; // applied before it was published
    this.users.apply(m.cmd);
  }

  /**
   * Tells the channel's subscribers on every node that a client joined or left: through the
   * broker when it delivers join/leave between nodes, else to this node's subscribers.
   */
  announceJoinLeave(channel: string, info: ClientInfo, join: boolean): void {
    const b = this.broker;
    if (!isJoinLeavePublisher(b)) {
      pushJoinLeave(this.hub, channel, info, join);
      return;
    }
    (join ? b.publishJoin(channel, info) : b.publishLeave(channel, info)).catch((err: unknown) =>
      this.log.warn({ err, channel, join }, 'join/leave not published'),
    );
  }

  // ---- Transport side ----

  admit(info: ConnectionInfo, waiting: Waiting = NOT_WAITING): Admission {
    const o = this.opts;
    if (this.draining || this.closed !== null) return this.reject('draining', 503, 'server is shutting down');
    // Half-sent handshakes hold a slot too, so they cannot exhaust sockets outside the limits.
    if (this.clients.size + waiting.total >= o.maxConnections) return this.reject('max_connections', 503, 'connection limit reached');
    if (o.maxConnectionsPerIp > 0 && (this.perIp.get(info.ip) ?? 0) + waiting.fromIp >= o.maxConnectionsPerIp) {
      return this.reject('max_connections_per_ip', 429, 'too many connections from this address');
    }
    if (info.origin === undefined) {
      if (!o.allowMissingOrigin) return this.reject('origin', 403, 'Origin header required');
    } else if (!this.originAllowed(info.origin)) {
      return this.reject('origin', 403, 'origin not allowed');
    }
    return { ok: true };
  }

  /** An Origin the options allow (any when `allowedOrigins` is empty). */
  originAllowed(origin: string): boolean {
    const allowed = this.opts.allowedOrigins;
    return allowed.length === 0 || allowed.some((a) => sameOrigin(a, origin));
  }

  private reject(reason: keyof GatewayStats['rejected'], status: number, message: string): Admission {
    this.stats.rejected[reason]++;
    // Over capacity or draining: when to try again, jittered so refused clients spread out.
    if (status === 503 || status === 429)
      return { ok: false, status, reason: message, retryAfterSeconds: suggestRetryAfterSeconds(this.opts.reconnect) };
    return { ok: false, status, reason: message };
  }

  accept(conn: TransportConnection, info: ConnectionInfo): ConnectionHandler {
    if (info.protocol === 'centrifuge') {
      const client = new CentrifugeClient(this, conn, info.ip, info.binary === true, info.session);
      this.register(client, info.ip, 'centrifuge');
      return client;
    }
    const client = new OdinClient(this, conn, info.ip);
    this.register(client, info.ip, 'odin');
    if (info.token !== undefined) this.authenticateOdin(client, info.token);
    else if (this.opts.allowAnonymous) client.start('', 0);
    else client.disconnect(Disconnect.InvalidToken);
    return client;
  }

  private register(client: Client, ip: string, protocol: ProtocolName): void {
    this.clients.add(client);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.stats.connections[protocol]++;
    this.stats.connectionsTotal[protocol]++;
  }

  /** The Odin protocol authenticates at upgrade; commands wait until the token is checked. */
  private authenticateOdin(client: OdinClient, token: string): void {
    if (!this.verifier) {
      client.disconnect(Disconnect.InvalidToken);
      return;
    }
    this.verifier.verify(token).then(
      (c) => client.start(c.user, c.exp),
      (err: unknown) =>
        // Terminal either way: retrying with the same token cannot succeed (no refresh in Odin).
        client.disconnect(err instanceof TokenError && err.code === 'expired' ? Disconnect.TokenExpired : Disconnect.InvalidToken),
    );
  }

  clientAuthenticated(client: Client): void {
    this.users.add(client);
  }

  clientClosed(client: Client): void {
    if (!this.clients.delete(client)) return;
    const n = (this.perIp.get(client.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(client.ip);
    else this.perIp.set(client.ip, n);
    this.stats.connections[client.protocol === PROTO_ODIN ? 'odin' : 'centrifuge']--;
    this.users.remove(client);
  }

  /** Pings everyone; whoever has not answered the previous ping by the pong timeout goes. */
  private pingAll(): void {
    for (const c of this.clients) c.ping();
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      for (const c of [...this.clients]) if (c.awaitingPong) c.disconnect(Disconnect.NoPong);
    }, this.opts.pongTimeoutMs);
    this.pongTimer.unref();
  }

  // ---- Server API (the HTTP layer maps these to Centrifugo's shapes) ----

  async publish(req: PublishRequest): Promise<StreamPosition> {
    const ns = this.rules.resolve(req.channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel, `unknown channel "${req.channel.slice(0, 255)}"`);
    if (req.skipHistory) {
      if (!isEphemeralPublisher(this.broker)) throw new CodedError(ErrorCode.NotAvailable, 'skip_history is not supported by this broker');
      if (req.idempotencyKey !== undefined)
        throw new CodedError(ErrorCode.BadRequest, 'idempotency_key cannot be combined with skip_history');
    }
    try {
      const opts = {
        historySize: ns.historySize,
        historyTtlMs: ns.historyTtlMs,
        ...(req.idempotencyKey !== undefined ? { idempotencyKey: req.idempotencyKey } : {}),
        ...(req.tags !== undefined ? { tags: req.tags } : {}),
      };
      const pos =
        req.skipHistory && isEphemeralPublisher(this.broker)
          ? await this.broker.publishEphemeral(req.channel, req.data, opts)
          : await this.broker.publish(req.channel, req.data, opts);
      this.stats.publications++;
      return pos;
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  /** Drops a channel's history (the server API's `history_remove`). */
  async removeHistory(channel: string): Promise<void> {
    const ns = this.rules.resolve(channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel);
    try {
      await this.broker.removeHistory(channel);
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  /**
   * A server API command for a user's connections (`subscribe`, `unsubscribe`, `disconnect`,
   * `refresh`): applied here, and sent to the other nodes when the broker connects them
   * (ControlPublisher), as Centrifugo does through its control channel. Resolves once sent;
   * the other nodes apply it when it arrives. Nothing is applied when it cannot be sent (108).
   */
  async userCommand(cmd: UserCommand): Promise<void> {
    if (cmd.op === 'subscribe' && !this.rules.resolve(cmd.channel)) throw new CodedError(ErrorCode.UnknownChannel);
    const b = this.broker;
    if (isControlPublisher(b)) {
      try {
        await b.publishControl(encodeControl(this.nodeId, cmd));
      } catch (err) {
        throw brokerFailureError(err);
      }
    }
    this.users.apply(cmd);
  }

  async history(channel: string, opts: { limit: number; since?: StreamPosition; reverse?: boolean }): Promise<HistoryResult> {
    const ns = this.rules.resolve(channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel);
    if (ns.historySize === 0) throw new CodedError(ErrorCode.NotAvailable, 'history not available for this channel');
    try {
      return await this.broker.history(channel, { limit: Math.min(opts.limit, ns.historySize), since: opts.since, reverse: opts.reverse });
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  /** Who is subscribed to the channel on every node sharing the presence store. */
  async presenceOf(channel: string): Promise<Record<string, PresenceInfo>> {
    this.checkPresence(channel);
    try {
      return await this.presence.get(channel);
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  async presenceStatsOf(channel: string): Promise<PresenceStats> {
    this.checkPresence(channel);
    try {
      return await this.presence.stats(channel);
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  private checkPresence(channel: string): void {
    const ns = this.rules.resolve(channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel);
    if (!ns.presence) throw new CodedError(ErrorCode.NotAvailable, 'presence not available for this channel');
  }

  /** Disconnects a user's connections on this node (or one of them); returns how many (admin console). */
  disconnectUser(user: string, client?: string, reason: DisconnectReason = Disconnect.ForceNoReconnect): number {
    return this.users.apply({ op: 'disconnect', user, ...(client !== undefined ? { client } : {}), reason, whitelist: [] });
  }

  /** Connections of a user and/or with a client id, for the admin console (a scan: admin use only). */
  findClients(q: { user?: string; client?: string }, limit = 100): ClientSummary[] {
    const out: ClientSummary[] = [];
    const pool = q.user !== undefined && q.user !== '' ? this.users.of(q.user) : this.clients;
    for (const c of pool) {
      if (q.client !== undefined && q.client !== '' && c.id !== q.client) continue;
      if (q.user === '' && c.user !== '') continue;
      out.push({ client: c.id, user: c.user, ip: c.ip, protocol: c.protocol === 0 ? 'odin' : 'centrifuge', channels: [...c.subs.keys()] });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Disconnects one connection by client id (anonymous ones included); false when there is none. */
  disconnectClient(id: string, reason: DisconnectReason = Disconnect.ForceNoReconnect): boolean {
    for (const c of this.clients) {
      if (c.id !== id) continue;
      c.disconnect(reason);
      return true;
    }
    return false;
  }

  info(): Record<string, unknown> {
    return {
      nodes: [
        {
          uid: this.nodeId,
          name: this.nodeId,
          version: this.version,
          num_clients: this.clients.size,
          num_users: this.users.size,
          num_channels: this.hub.channelCount,
          num_subs: this.stats.subscriptions,
          uptime: Math.floor((Date.now() - this.startedAt) / 1000),
        },
      ],
    };
  }

  channels(): Record<string, { num_clients: number }> {
    const out: Record<string, { num_clients: number }> = {};
    for (const ch of this.hub.channelNames()) out[ch] = { num_clients: this.hub.members(ch)?.size ?? 0 };
    return out;
  }

  // ---- Shutdown ----

  /**
   * Not ready at once; every client told to reconnect with the shutdown code, in batches;
   * then the broker closes. Resolves within `shutdownTimeoutMs`; calling it twice is harmless.
   */
  shutdown(): Promise<void> {
    this.closed ??= this.doShutdown();
    return this.closed;
  }

  private async doShutdown(): Promise<void> {
    this.draining = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    const deadline = Date.now() + this.opts.shutdownTimeoutMs;
    const all = [...this.clients];
    for (let i = 0; i < all.length; i += this.opts.shutdownBatch) {
      for (const c of all.slice(i, i + this.opts.shutdownBatch)) c.disconnect(Disconnect.Shutdown);
      if (Date.now() > deadline) break;
      await new Promise<void>((r) => setImmediate(r));
    }
    for (const c of [...this.clients]) c.disconnect(Disconnect.Shutdown);
    this.flusher.close();
    await this.broker.close();
  }
}

function sameOrigin(allowed: string, origin: string): boolean {
  try {
    return new URL(allowed).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}
