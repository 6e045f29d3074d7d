import { randomBytes } from 'node:crypto';
import { TokenError, type TokenVerifier } from './auth.js';
import {
  isJoinLeavePublisher,
  isUserConnectionRegistry,
  type Broker,
  type UserConnectionRegistry,
  type BrokerEventHandler,
  type ClientInfo,
  type Publication,
} from './broker.js';
import { ChannelRules, resolveSubscription } from './channels.js';
import type { Clock, TimerHandle } from './clock.js';
import { Client, type ClientContext } from './client.js';
import { CentrifugeClient } from './client-centrifuge.js';
import { OdinClient } from './client-odin.js';
import { Hub, pushJoinLeave } from './hub.js';
import type { GatewayOptions } from './options.js';
import { MemoryPresence, type PresenceStore } from './presence.js';
import { decodeControl } from './control.js';
import { UserIndex } from './users.js';
import { ConnectionRate } from './connection-rate.js';
import type { AppProxy } from './proxy.js';
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
import { ServerApi } from './server-api.js';
import { RecoverySlots } from './recovery-slots.js';
import { RecoveryFrames } from './recovery-frames.js';
import { suggestRetryAfterSeconds } from './reconnect-hint.js';
import { FlushScheduler } from './writer.js';
import { Disconnect } from '../protocol/codes.js';
import { PROTO_ODIN } from '../protocol/push.js';

export const VERSION = 'odin-ws 0.1.0';

const NOT_WAITING: Waiting = Object.freeze({ total: 0, fromIp: 0 });

/** Subscription-token verifiers of their own: one for every namespace without its own set, and per namespace name. */
export interface SubscriptionVerifiers {
  readonly global: TokenVerifier | null;
  readonly byNamespace: ReadonlyMap<string, TokenVerifier>;
}

export interface GatewayDeps {
  readonly broker: Broker;
  readonly transport: FrameEncoder;
  /** Time and timers (src/lib/runtime/clock.ts in a process, a fake clock in unit tests). */
  readonly clock: Clock;
  readonly log?: Logger;
  /** Verifies connection tokens; none: tokens are refused (anonymous connections only, if allowed). */
  readonly verifier?: TokenVerifier | null;
  /**
   * Verifiers of subscription tokens apart from `verifier` (options' `subscriptionToken`, global
   * and per namespace name); a scope with none uses the global one, then `verifier`.
   */
  readonly subscriptionVerifiers?: SubscriptionVerifiers;
  /** Where presence is kept (the composition root picks it); default: this process's memory. */
  readonly presence?: PresenceStore;
  /** The application's backend, for the configured proxies (core/proxy.ts); none: nothing is proxied. */
  readonly proxy?: AppProxy | null;
}

/**
 * One gateway node: accepts connections from a transport, keeps clients, fans out what the
 * broker delivers; its server API is `gateway.api` (server-api.ts). No sockets, no HTTP, no environment
 * here: the server API methods throw `CodedError` with a protocol code; the server layer maps it to HTTP.
 */
export class Gateway implements ConnectionAcceptor, BrokerEventHandler, ClientContext {
  readonly hub: Hub<Client>;
  /** The transport's framing, for connections that write payloads another way (HTTP streams). */
  readonly frames: FrameEncoder;
  readonly flusher: FlushScheduler;
  readonly recoveryBudget: RecoveryBudget;
  readonly recoverySlots: RecoverySlots;
  readonly recoveryFrames = new RecoveryFrames();
  readonly rules: ChannelRules;
  readonly stats = new GatewayStats();
  readonly presence: PresenceStore;
  readonly verifier: TokenVerifier | null;
  private readonly subscriptionVerifiers: SubscriptionVerifiers;
  readonly proxy: AppProxy | null;
  readonly version = VERSION;
  readonly nodeId = randomBytes(4).toString('hex');
  readonly broker: Broker;
  readonly log: Logger;
  readonly clock: Clock;
  readonly startedAt: number;
  private readonly clients = new Set<Client>();
  private readonly perIp = new Map<string, number>();
  private readonly users = new UserIndex();
  /** Connections admitted under `maxConnectionsPerUser`, not yet authenticated: by client, and a count per user. */
  private readonly admitting = new Map<Client, string>();
  private readonly admittingPerUser = new Map<string, number>();
  /** Connections registered with the broker's user registry (cluster-wide count), with their user. */
  private readonly registered = new Map<Client, string>();
  /** The broker's cluster-wide count of connections per user, when it has one and a limit is set. */
  private readonly userRegistry: UserConnectionRegistry | null;
  /** New connections per address (connectionRatePerIp); null when off. */
  private readonly connectionRate: ConnectionRate | null;
  /** The server API (publish, history, presence, disconnect, info, …): the one place it lives. */
  readonly api: ServerApi;
  private pingTimer: TimerHandle | null = null;
  private pongTimer: TimerHandle | null = null;
  private draining = false;
  private closed: Promise<void> | null = null;

  constructor(
    readonly opts: GatewayOptions,
    deps: GatewayDeps,
  ) {
    this.broker = deps.broker;
    this.userRegistry = isUserConnectionRegistry(this.broker) && this.opts.maxConnectionsPerUser > 0 ? this.broker : null;
    this.clock = deps.clock;
    this.startedAt = deps.clock.now();
    this.log = deps.log ?? silentLogger;
    this.presence = deps.presence ?? new MemoryPresence();
    this.rules = new ChannelRules(opts.namespaces);
    this.frames = deps.transport;
    this.hub = new Hub<Client>(this.broker, deps.transport, this.stats, this.log, this.clock);
    this.flusher = new FlushScheduler(opts.client.writeDelayMs, this.clock);
    this.recoveryBudget = new RecoveryBudget(opts.recovery, this.clock);
    this.recoverySlots = new RecoverySlots(opts.recovery);
    this.verifier = deps.verifier ?? null;
    this.subscriptionVerifiers = deps.subscriptionVerifiers ?? { global: null, byNamespace: new Map() };
    this.proxy = deps.proxy ?? null;
    this.connectionRate =
      opts.connectionRatePerIp > 0
        ? new ConnectionRate(opts.connectionRatePerIp, opts.connectionBurstPerIp, () => this.clock.monotonic())
        : null;
    this.api = new ServerApi({
      broker: this.broker,
      rules: this.rules,
      presence: this.presence,
      stats: this.stats,
      hub: this.hub,
      nodeId: this.nodeId,
      version: this.version,
      startedAt: this.startedAt,
      clock: this.clock,
      clients: this.clients,
      users: this.users,
    });
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
    this.schedulePing();
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
    const members = this.hub.membersOfSource(channel);
    if (members.length === 0) return;
    this.log.warn({ channel, clients: members.length }, 'stream reset: reconnecting subscribers');
    for (const c of members) c.disconnect(Disconnect.InsufficientState);
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
    // Last: only a connection otherwise admitted draws on its address's rate.
    const waitMs = this.connectionRate?.take(info.ip) ?? 0;
    if (waitMs > 0) {
      return this.reject('connection_rate', 429, 'too many new connections from this address', Math.max(1, Math.ceil(waitMs / 1000)));
    }
    return { ok: true };
  }

  /** Connections `user` holds on this process (anonymous ones are never counted); a query, counts nothing. */
  userConnections(user: string): number {
    return this.users.count(user);
  }

  /**
   * `maxConnectionsPerUser`: per process (connections being admitted hold their slot until
   * authenticated or closed), then, on a broker that counts users cluster-wide, on every node
   * (core/broker.ts `UserConnectionRegistry`). When that registry cannot be reached the
   * connection is admitted on the per-process count alone (fail open; counted and logged):
   * a backbone outage must not lock every user out.
   */
  async admitUser(client: Client, user: string): Promise<boolean> {
    const limit = this.opts.maxConnectionsPerUser;
    if (limit === 0 || user === '') return true;
    if (!this.clients.has(client)) return false; // closed while its credentials were checked
    if (this.users.count(user) + (this.admittingPerUser.get(user) ?? 0) >= limit) return this.overUserLimit();
    this.holdAdmission(client, user);
    const reg = this.userRegistry;
    if (reg === null) return true;
    const verdict = await reg.claimUserConnection(user, client.id, limit).catch(() => 'unavailable' as const);
    if (!this.clients.has(client) || verdict === 'over') {
      reg.releaseUserConnection(user, client.id);
      this.dropAdmission(client);
      return verdict === 'over' ? this.overUserLimit() : false;
    }
    if (verdict === 'unavailable') {
      this.stats.userLimitUnchecked++;
      this.log.warn({ client: client.id, user }, "per-user connection count unreachable: admitted on this node's count");
    }
    this.registered.set(client, user);
    return true;
  }

  private overUserLimit(): false {
    this.stats.rejected.max_connections_per_user++;
    return false;
  }

  private holdAdmission(client: Client, user: string): void {
    this.admitting.set(client, user);
    this.admittingPerUser.set(user, (this.admittingPerUser.get(user) ?? 0) + 1);
  }

  private dropAdmission(client: Client): void {
    const user = this.admitting.get(client);
    if (user === undefined) return;
    this.admitting.delete(client);
    const n = (this.admittingPerUser.get(user) ?? 1) - 1;
    if (n <= 0) this.admittingPerUser.delete(user);
    else this.admittingPerUser.set(user, n);
  }

  /** Who verifies a subscription token for `channel`: its namespace's key set, else the global one, else the connection keys. */
  subscriptionVerifier(channel: string): TokenVerifier | null {
    const sv = this.subscriptionVerifiers;
    const ns = resolveSubscription(this.rules, channel)?.ns.name;
    return (ns !== undefined ? sv.byNamespace.get(ns) : undefined) ?? sv.global ?? this.verifier;
  }

  /** An Origin the options allow (any when `allowedOrigins` is empty). */
  originAllowed(origin: string): boolean {
    const allowed = this.opts.allowedOrigins;
    return allowed.length === 0 || allowed.some((a) => sameOrigin(a, origin));
  }

  /** `retryAfterSeconds`: when the refusal itself knows (the address's rate); else a jittered hint for 503/429. */
  private reject(reason: keyof GatewayStats['rejected'], status: number, message: string, retryAfterSeconds?: number): Admission {
    this.stats.rejected[reason]++;
    if (retryAfterSeconds !== undefined) return { ok: false, status, reason: message, retryAfterSeconds };
    // Over capacity or draining: when to try again, jittered so refused clients spread out.
    if (status === 503 || status === 429)
      return { ok: false, status, reason: message, retryAfterSeconds: suggestRetryAfterSeconds(this.opts.reconnect) };
    return { ok: false, status, reason: message };
  }

  accept(conn: TransportConnection, info: ConnectionInfo): ConnectionHandler {
    if (info.protocol === 'centrifuge') {
      const client = new CentrifugeClient(this, conn, info.ip, info.binary === true, info.session, info.uni);
      client.transportName = info.transport ?? 'websocket';
      if (info.headers) client.requestHeaders = info.headers;
      if (info.connectRequest !== undefined) client.onMessage(Buffer.from(info.connectRequest), false);
      this.register(client, info.ip, 'centrifuge');
      return client;
    }
    const client = new OdinClient(this, conn, info.ip);
    client.transportName = 'odin';
    if (info.headers) client.requestHeaders = info.headers;
    this.register(client, info.ip, 'odin');
    if (info.token !== undefined) this.authenticateOdin(client, info.token);
    // No token: the application decides, when a connect proxy is configured (as Centrifugo).
    else if (this.proxy?.has('connect')) void this.connectOdinByProxy(client);
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
      (c) => void this.startOdin(client, c.user, c.exp),
      (err: unknown) => {
        const code = err instanceof TokenError ? err.code : 'invalid';
        this.stats.tokenRefusals[code]++;
        this.log.info({ client: client.id, reason: code, err }, 'connection token refused');
        // Terminal either way: retrying with the same token cannot succeed (no refresh in Odin).
        client.disconnect(code === 'expired' ? Disconnect.TokenExpired : Disconnect.InvalidToken);
      },
    );
  }

  /** An Odin connection the connect proxy let in: started as its user, then subscribed to its channels. */
  private async connectOdinByProxy(client: OdinClient): Promise<void> {
    const r = await client.connectByProxy();
    if (r === null || !(await this.startOdin(client, r.user, r.exp))) return;
    for (const channel of r.channels) void client.serverSubscribe(channel, null, null);
  }

  /** An Odin connection whose credentials are checked: admitted under the per-user limit, or closed with 3504. */
  private async startOdin(client: OdinClient, user: string, exp: number): Promise<boolean> {
    if (!(await this.admitUser(client, user))) {
      client.disconnect(Disconnect.ConnectionLimit);
      return false;
    }
    client.start(user, exp);
    return true;
  }

  clientAuthenticated(client: Client): void {
    this.dropAdmission(client);
    this.users.add(client);
  }

  clientClosed(client: Client): void {
    if (!this.clients.delete(client)) return;
    const n = (this.perIp.get(client.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(client.ip);
    else this.perIp.set(client.ip, n);
    this.stats.connections[client.protocol === PROTO_ODIN ? 'odin' : 'centrifuge']--;
    this.users.remove(client);
    this.dropAdmission(client);
    const user = this.registered.get(client);
    if (user !== undefined) {
      this.registered.delete(client);
      this.userRegistry?.releaseUserConnection(user, client.id);
    }
  }

  /** The heartbeat: every `pingIntervalMs` until shutdown. */
  private schedulePing(): void {
    this.pingTimer = this.clock.setTimeout(
      () => {
        this.pingAll();
        if (!this.draining) this.schedulePing();
      },
      this.opts.pingIntervalMs,
      { background: true },
    );
  }

  /** Pings everyone; whoever has not answered the previous ping by the pong timeout goes. */
  private pingAll(): void {
    for (const c of this.clients) c.ping();
    if (this.pongTimer) this.clock.clearTimeout(this.pongTimer);
    this.pongTimer = this.clock.setTimeout(
      () => {
        this.pongTimer = null;
        for (const c of [...this.clients]) if (c.awaitingPong) c.disconnect(Disconnect.NoPong);
      },
      this.opts.pongTimeoutMs,
      { background: true },
    );
  }

  // ---- Shutdown ----

  /**
   * Not ready from now on: /ready and new upgrades answer 503 while the clients stay connected
   * (the composition root stops its feeds before `shutdown`). Idempotent; `shutdown` implies it.
   */
  drain(): void {
    this.draining = true;
  }

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
    if (this.pingTimer) this.clock.clearTimeout(this.pingTimer);
    if (this.pongTimer) this.clock.clearTimeout(this.pongTimer);
    const deadline = this.clock.monotonic() + this.opts.shutdownTimeoutMs;
    const all = [...this.clients];
    for (let i = 0; i < all.length; i += this.opts.shutdownBatch) {
      for (const c of all.slice(i, i + this.opts.shutdownBatch)) c.disconnect(Disconnect.Shutdown);
      if (this.clock.monotonic() > deadline) break;
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
