/**
 * JetStreamBroker: the Broker seam on NATS JetStream, shared by any number of gateway
 * processes and nodes. See docs/architecture.md, "Brokers: memory and JetStream".
 *
 * Layout: one stream (default `ODIN_WS`) holds every channel, one subject per channel
 * (`odin-ws.pub.<channel>`). Per-channel limits are the stream's `max_msgs_per_subject` and
 * `max_age`, so one stream serves all channels; a stream per namespace would only add
 * streams to manage, and JetStream limits are per subject already.
 *
 * Offsets and group commit (appender.ts): a channel has at most one append in flight per
 * process; publications arriving meanwhile wait and are appended together, as ONE message
 * holding the group (records.ts), so one channel's throughput is a group per round trip, not
 * a publication per round trip. Guarantees:
 *  - contiguous: each append carries `Odin-Offset` = its last publication's offset and is made
 *    conditional on the channel's previous stream sequence (`Nats-Expected-Last-Subject-Sequence`).
 *    JetStream applies appends of one subject one at a time (the stream leader, in Raft
 *    order), so two writers racing for the same offsets cannot both win: the loser gets
 *    "wrong last sequence" (nothing of its group stored), re-reads the head and retries.
 *  - identical on every node: offsets live in the stored messages; every node reads them.
 *  - all-or-nothing: a group is one message, stored whole or not at all; retries after an
 *    unknown outcome reuse its `Nats-Msg-Id`, so it is never stored twice.
 *  - order: one process's publications to a channel get offsets in call order.
 *  - overload: at most `maxBacklog` publications wait per process; past it, or past the
 *    publish timeout, publish rejects 'unavailable' (counted: telemetry.rejected).
 *  - idempotency keys: honoured by JetStream's dedup on any node when the keyed publication is
 *    appended alone (no contention), and by this process's window inside a group.
 * History limits count messages (`max_msgs_per_subject`), so with groups the stream keeps at
 * least `historySize` publications per channel (at most `maxGroup` times more).
 *
 * Epoch: carried in `Odin-Epoch`. A channel's epoch is chosen when its subject is empty (the
 * first append of a run, or an epoch marker written by `history()` of an empty channel) and
 * copied by every later append, so it changes exactly when the channel's messages are all
 * gone: stream recreated, channel purged, or its history expired entirely.
 *
 * Delivery: the stream republishes each stored message to `odin-ws.live.<channel>`; a node
 * holds one core NATS subscription per channel its clients hold. Only stored messages are
 * republished (a rejected append is never seen), and every node checks offsets: a gap (slow
 * consumer, reconnect) is filled from the stream, and if the stream no longer has the
 * missing messages the hub is told (onStreamReset). After each reconnect every channel's head
 * is re-read, so a missed tail is not hidden until the next publication.
 *
 * Between nodes, outside the stream (core NATS, at most once): live-only publications
 * (`skip_history`) and join/leave events on the channel's live subject (side.ts), server API
 * commands on `<prefix>.control` (core/control.ts); presence in a KV bucket (presence-kv.ts).
 *
 * Files, one job each: connection.ts (connection watching), stream-admin.ts (the stream),
 * appender.ts (ordered appends), reader.ts (heads, ranges, history), live-channel.ts (live
 * delivery and its gap-fill state machine), side.ts (side messages), presence-kv.ts
 * (presence), errors.ts (JetStream failures → BrokerError).
 */
import type { Msg } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import {
  BrokerError,
  type Broker,
  type BrokerEventHandler,
  type BrokerTelemetry,
  type ClientInfo,
  type ControlPublisher,
  type EphemeralPublisher,
  type HistoryOptions,
  type HistoryResult,
  type JoinLeavePublisher,
  type PresenceProvider,
  type PublishOptions,
  type StreamPosition,
  type UserClaim,
  type UserConnectionRegistry,
} from '../core/broker.js';
import { resolveJetStreamOptions, type JetStreamBrokerOptions, type ResolvedJetStreamOptions } from './options.js';
import { readRecord, toPublications } from './records.js';
import { encodeChannel } from './subject.js';
import { ConnectionWatch } from './connection.js';
import { StreamAdmin } from './stream-admin.js';
import { StreamReader } from './reader.js';
import { Appender, type AppendStats } from './appender.js';
import { LiveChannel } from './live-channel.js';
import { sleep, toBrokerError, unreachable } from './errors.js';
import { KvPresence } from './presence-kv.js';
import { KvUserConnections } from './user-connections-kv.js';
import { H_SIDE, joinLeaveHeaders, pubSideHeaders, sideClientInfo, sidePublication } from './side.js';

const encoder = new TextEncoder();

export class JetStreamBroker
  implements Broker, EphemeralPublisher, JoinLeavePublisher, ControlPublisher, PresenceProvider, UserConnectionRegistry
{
  /** Presence shared by every node on this NATS (KV bucket with TTL). */
  readonly presence: KvPresence;
  /** Each user's connections on every node (KV bucket with TTL; made at the first claim). */
  readonly userConnections: KvUserConnections;
  private readonly o: ResolvedJetStreamOptions;
  private readonly conn: ConnectionWatch;
  private readonly admin: StreamAdmin;
  private readonly reader: StreamReader;
  private readonly appender: Appender;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;
  private handler: BrokerEventHandler | null = null;
  private closed = false;
  private readonly channels = new Map<string, LiveChannel>();
  /** The live subscription of each subscribed channel. */
  private readonly subs = new Map<LiveChannel, { unsubscribe(): void }>();
  private control: { unsubscribe(): void } | null = null;

  constructor(opts: JetStreamBrokerOptions) {
    this.o = resolveJetStreamOptions(opts);
    const isClosed = (): boolean => this.closed;
    this.conn = new ConnectionWatch(this.o, () => this.onReconnect(), isClosed);
    this.admin = new StreamAdmin(this.o, () => this.jsmOrThrow(), isClosed);
    this.reader = new StreamReader(
      this.o,
      () => this.jsmOrThrow(),
      () => this.jsOrThrow(),
      (ch) => this.storeSubject(ch),
    );
    this.appender = new Appender(this.o, this.reader, {
      conn: () => this.natsOrThrow(),
      connected: () => this.conn.connected,
      checkOpen: () => this.checkOpen(),
      ensureStreamSoon: () => void this.admin.ensureSoon(),
    });
    const kvEnv = {
      nc: () => this.natsOrThrow(),
      js: () => this.jsOrThrow(),
      jsm: () => this.jsmOrThrow(),
      connected: () => this.conn.connected,
      isClosed,
    };
    this.presence = new KvPresence(this.o, kvEnv);
    this.userConnections = new KvUserConnections(this.o, kvEnv);
  }

  /** Backlog, overload refusals and append latency (see appender.ts). */
  get telemetry(): BrokerTelemetry & AppendStats {
    return this.appender.stats;
  }

  /** Subject a channel is stored under (exported for tools and tests). */
  storeSubject(channel: string): string {
    return `${this.o.pubPrefix}.${encodeChannel(channel)}`;
  }

  async run(handler: BrokerEventHandler): Promise<void> {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    this.handler = handler;
    const nc = await this.conn.open();
    this.js = jetstream(nc, { timeout: this.o.requestTimeoutMs });
    this.jsm = await jetstreamManager(nc, { timeout: this.o.requestTimeoutMs, checkAPI: false });
    await this.admin.ensureWithin(Math.max(this.o.publishTimeoutMs, 30_000));
    this.control = nc.subscribe(this.o.controlSubject, {
      callback: (err, m) => {
        if (err === null) this.handler?.onControl?.(m.string());
      },
    });
    await this.presence.start();
  }

  /** Live only: to the nodes holding the channel, outside the stream (side.ts). */
  async publishEphemeral(channel: string, data: string, opts?: PublishOptions): Promise<StreamPosition> {
    await this.sendSide(channel, encoder.encode(data), pubSideHeaders(opts, Date.now()), true);
    return { offset: 0, epoch: '' };
  }

  /** Cluster-wide `maxConnectionsPerUser` (user-connections-kv.ts). */
  claimUserConnection(user: string, client: string, limit: number): Promise<UserClaim> {
    return this.userConnections.claim(user, client, limit);
  }

  releaseUserConnection(user: string, client: string): void {
    this.userConnections.release(user, client);
  }

  publishJoin(channel: string, info: ClientInfo): Promise<void> {
    return this.sendSide(channel, encoder.encode(JSON.stringify(info)), joinLeaveHeaders('join'), false);
  }

  publishLeave(channel: string, info: ClientInfo): Promise<void> {
    return this.sendSide(channel, encoder.encode(JSON.stringify(info)), joinLeaveHeaders('leave'), false);
  }

  async publishControl(data: string): Promise<void> {
    this.checkOpen();
    if (!this.conn.connected) throw unreachable();
    const nc = this.natsOrThrow();
    const bytes = encoder.encode(data);
    this.checkPayload(bytes.length);
    try {
      nc.publish(this.o.controlSubject, bytes);
      await nc.flush();
    } catch (err) {
      throw toBrokerError(err, 'control', this.closed);
    }
  }

  /** One side message on the channel's live subject; `confirm`: resolves once NATS has it. */
  private async sendSide(channel: string, bytes: Uint8Array, h: ReturnType<typeof joinLeaveHeaders>, confirm: boolean): Promise<void> {
    const subject = `${this.o.livePrefix}.${this.tokens(channel)}`;
    this.checkOpen();
    if (!this.conn.connected) throw unreachable();
    const nc = this.natsOrThrow();
    this.checkPayload(bytes.length);
    try {
      nc.publish(subject, bytes, { headers: h });
      if (confirm) await nc.flush();
    } catch (err) {
      throw toBrokerError(err, 'publish', this.closed);
    }
  }

  /** NATS refuses messages over the server's max_payload (1 MiB by default): say so plainly. */
  private checkPayload(bytes: number): void {
    const max = this.conn.nc?.info?.max_payload ?? 0;
    if (max > 0 && bytes + 1024 > max) throw new BrokerError('bad_request', `message too large for NATS (max_payload ${max} bytes)`);
  }

  async publish(channel: string, data: string, opts?: PublishOptions): Promise<StreamPosition> {
    const subject = this.subjectOrThrow(channel);
    this.checkOpen();
    if (!this.conn.connected) throw unreachable();
    return this.appender.publish(channel, subject, data, opts);
  }

  async subscribe(channel: string): Promise<void> {
    const liveSubject = `${this.o.livePrefix}.${this.tokens(channel)}`;
    this.checkOpen();
    if (this.channels.has(channel)) return;
    const nc = this.natsOrThrow();
    const st: LiveChannel = new LiveChannel(
      channel,
      { head: () => this.reader.head(channel), range: (head, after) => this.reader.range(channel, head, after) },
      {
        deliver: (r, after) => {
          for (const p of toPublications(channel, r, after)) this.handler?.onPublication(p);
        },
        reset: () => this.handler?.onStreamReset?.(channel),
      },
      {
        active: () => !this.closed && this.channels.get(channel) === st,
        connected: () => this.conn.connected,
        retryWait: (attempt) => sleep(Math.min(50 * 2 ** attempt, 1_000)),
      },
    );
    this.channels.set(channel, st);
    const sub = nc.subscribe(liveSubject, { callback: (err, m) => this.onLive(st, err, m) });
    this.subs.set(st, sub);
    try {
      // The subscription must be registered before the baseline is read: anything stored
      // after the baseline then arrives live (or is filled from the stream on a gap).
      await nc.flush();
      const head = await this.reader.head(channel);
      st.start(head);
    } catch (err) {
      sub.unsubscribe();
      this.subs.delete(st);
      if (this.channels.get(channel) === st) this.channels.delete(channel);
      throw toBrokerError(err, 'subscribe', this.closed);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const st = this.channels.get(channel);
    if (!st) return;
    this.channels.delete(channel);
    this.subs.get(st)?.unsubscribe();
    this.subs.delete(st);
    st.stop();
  }

  async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    const subject = this.subjectOrThrow(channel);
    this.checkOpen();
    const deadline = Date.now() + this.o.publishTimeoutMs;
    // Reads retry like publishes: a stream leader election makes them fail for a moment.
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      if (!this.conn.connected) throw unreachable();
      try {
        let head = await this.reader.head(channel);
        if (head.seq === 0) head = await this.appender.writeMarker(channel, subject);
        return await this.reader.history(channel, head, opts);
      } catch (err) {
        const e = toBrokerError(err, 'history', this.closed);
        if (e.code !== 'unavailable' || Date.now() + wait > deadline) throw e;
        await sleep(wait);
      }
    }
  }

  async removeHistory(channel: string): Promise<void> {
    const subject = this.subjectOrThrow(channel);
    this.checkOpen();
    if (!this.conn.connected) throw unreachable();
    await this.appender.serialized(channel, subject, async () => {
      try {
        await this.admin.purgeSubject(subject);
      } catch (err) {
        throw toBrokerError(err, 'removeHistory', this.closed);
      }
      this.appender.forget(channel);
    });
  }

  isReady(): boolean {
    return this.conn.connected && !this.closed && this.conn.nc !== null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Queued presence removes (clients told to go) first, while the connection is up.
    await Promise.all([this.presence.close(), this.userConnections.close()]);
    this.closed = true;
    this.handler = null;
    this.control?.unsubscribe();
    this.control = null;
    for (const sub of this.subs.values()) sub.unsubscribe();
    this.subs.clear();
    this.channels.clear();
    await this.conn.close();
  }

  // ---- delivery ---------------------------------------------------------------------------

  private onLive(st: LiveChannel, err: Error | null, m: Msg): void {
    if (err !== null || this.channels.get(st.channel) !== st) return;
    const side = m.headers?.get(H_SIDE) ?? '';
    if (side !== '') {
      this.onSide(st, side, m);
      return;
    }
    const seq = Number(m.headers?.get('Nats-Sequence') ?? '0');
    const r = readRecord(seq, m.headers, m.data);
    if (r !== null) st.onLive(r);
  }

  private onSide(st: LiveChannel, kind: string, m: Msg): void {
    const h = this.handler;
    if (h === null || !st.ready) return;
    if (kind === 'pub') {
      h.onPublication(sidePublication(st.channel, st.epoch, m.headers!, m.data));
      return;
    }
    const info = sideClientInfo(m.data);
    if (info === null) return;
    if (kind === 'join') h.onJoin?.(st.channel, info);
    else if (kind === 'leave') h.onLeave?.(st.channel, info);
  }

  private onReconnect(): void {
    this.presence.onReconnect();
    this.userConnections.onReconnect();
    this.appender.clearHeads();
    void this.admin.ensureSoon();
    // Anything published while we were away is in the stream: re-read every head.
    for (const st of this.channels.values()) st.reconnect();
  }

  // ---- helpers ----------------------------------------------------------------------------

  private tokens(channel: string): string {
    try {
      return encodeChannel(channel);
    } catch (err) {
      throw new BrokerError('bad_request', `invalid channel name: ${JSON.stringify(channel)}`, { cause: err });
    }
  }

  private subjectOrThrow(channel: string): string {
    return `${this.o.pubPrefix}.${this.tokens(channel)}`;
  }

  private checkOpen(): void {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    if (this.conn.nc === null) throw new BrokerError('closed', 'broker is not running (call run() first)');
  }

  private natsOrThrow() {
    if (this.conn.nc === null) throw new BrokerError('closed', 'broker is not running');
    return this.conn.nc;
  }

  private jsOrThrow(): JetStreamClient {
    if (this.js === null) throw new BrokerError('closed', 'broker is not running');
    return this.js;
  }

  private jsmOrThrow(): JetStreamManager {
    if (this.jsm === null) throw new BrokerError('closed', 'broker is not running');
    return this.jsm;
  }
}
