/**
 * JetStreamBroker: the Broker seam on NATS JetStream, shared by any number of gateway
 * processes and nodes. See docs/architecture.md, "Brokers: memory and JetStream".
 *
 * Layout: one stream (default `ODIN_WS`) holds every channel, one subject per channel
 * (`odin-ws.pub.<channel>`). Per-channel limits are the stream's `max_msgs_per_subject` and
 * `max_age`, so one stream serves all channels; a stream per namespace would only add
 * streams to manage, and JetStream limits are per subject already.
 *
 * Offsets: every append carries `Odin-Offset` = previous offset + 1 and is made conditional
 * on the channel's previous stream sequence (`Nats-Expected-Last-Subject-Sequence`). JetStream
 * applies appends of one subject one at a time (the stream leader, in Raft order), so two
 * writers racing for the same offset cannot both win: the loser gets "wrong last sequence",
 * re-reads the head and retries. Offsets are therefore 1, 2, 3... on every node.
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
 */
import { createHash } from 'node:crypto';
import { connect, nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  BrokerError,
  type Broker,
  type BrokerEventHandler,
  type HistoryOptions,
  type HistoryResult,
  type Publication,
  type PublishOptions,
  type StreamPosition,
} from '../core/broker.js';
import { resolveJetStreamOptions, type JetStreamBrokerOptions, type ResolvedJetStreamOptions } from './options.js';
import { buildHeaders, newEpoch, readRecord, toPublication, type Head, type StoredRecord } from './records.js';
import { encodeChannel } from './subject.js';

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
/** JetStream error codes we act on. */
const ERR_WRONG_LAST_SEQ = 10071;
const ERR_STREAM_NOT_FOUND = 10059;
/** Live messages buffered per channel while it is being filled from the stream. */
const MAX_PENDING = 10_000;
/** Publish heads cached per process; beyond this the cache is cleared (reads refill it). */
const MAX_CACHED_HEADS = 100_000;

interface PubAck {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code?: number; description?: string };
}

/** A node's live state of one subscribed channel. */
class ChannelState {
  epoch = '';
  offset = 0;
  /** True while the channel is being (re)synchronised from the stream; live messages wait. */
  syncing = true;
  /** A sync is in flight. */
  syncRunning = false;
  /** Sync once more when the running one ends (buffer overflow, reconnect during a sync). */
  resync = false;
  /** The baseline position was read (subscribe done). */
  ready = false;
  pending: StoredRecord[] = [];
  sub: Subscription | null = null;
  constructor(
    readonly channel: string,
    readonly subject: string,
  ) {}
}

function nanos(ms: number): number {
  return ms * 1_000_000;
}

function errCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

export class JetStreamBroker implements Broker {
  private readonly o: ResolvedJetStreamOptions;
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;
  private handler: BrokerEventHandler | null = null;
  private connected = false;
  private closed = false;
  private readonly channels = new Map<string, ChannelState>();
  private readonly heads = new Map<string, Head>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private lastEnsure = 0;

  constructor(opts: JetStreamBrokerOptions) {
    this.o = resolveJetStreamOptions(opts);
  }

  /** Subject a channel is stored under (exported for tools and tests). */
  storeSubject(channel: string): string {
    return `${this.o.pubPrefix}.${encodeChannel(channel)}`;
  }

  async run(handler: BrokerEventHandler): Promise<void> {
    if (this.closed) throw new BrokerError('closed', 'broker is closed');
    this.handler = handler;
    const nc =
      this.o.connection ??
      (await connect({
        servers: [...this.o.servers],
        name: this.o.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.o.reconnectWaitMs,
        reconnectJitter: this.o.reconnectWaitMs,
        pingInterval: 5_000,
        maxPingOut: 2,
      }).catch((err: unknown) => {
        throw new BrokerError('unavailable', `cannot connect to NATS at ${this.o.servers.join(',')}`, { cause: err });
      }));
    this.nc = nc;
    this.js = jetstream(nc, { timeout: this.o.requestTimeoutMs });
    this.jsm = await jetstreamManager(nc, { timeout: this.o.requestTimeoutMs, checkAPI: false });
    this.connected = !nc.isClosed();
    void this.watchStatus(nc);
    await this.ensureStreamWithin(Math.max(this.o.publishTimeoutMs, 30_000));
  }

  async publish(channel: string, data: string, opts?: PublishOptions): Promise<StreamPosition> {
    const subject = this.subjectOrThrow(channel);
    this.checkOpen();
    if (!this.connected) throw new BrokerError('unavailable', 'NATS is unreachable');
    const deadline = Date.now() + this.o.publishTimeoutMs;
    const msgId =
      opts?.idempotencyKey !== undefined
        ? 'k' + createHash('sha256').update(channel).update('\u0000').update(opts.idempotencyKey).digest('base64url')
        : 'r' + nuid.next();
    return this.serialized(channel, async () => {
      const r = await this.append(channel, subject, encoder.encode(data), msgId, opts, false, deadline);
      return { offset: r.offset, epoch: r.epoch };
    });
  }

  async subscribe(channel: string): Promise<void> {
    const liveSubject = `${this.o.livePrefix}.${this.tokens(channel)}`;
    this.checkOpen();
    if (this.channels.has(channel)) return;
    const nc = this.conn();
    const st = new ChannelState(channel, liveSubject);
    this.channels.set(channel, st);
    st.sub = nc.subscribe(liveSubject, { callback: (err, m) => this.onLive(st, err, m) });
    try {
      // The subscription must be registered before the baseline is read: anything stored
      // after the baseline then arrives live (or is filled from the stream on a gap).
      await nc.flush();
      const head = await this.readHead(channel);
      st.epoch = head.epoch;
      st.offset = head.offset;
      st.ready = true;
    } catch (err) {
      st.sub.unsubscribe();
      if (this.channels.get(channel) === st) this.channels.delete(channel);
      throw this.toBrokerError(err, 'subscribe');
    }
    this.drain(st);
  }

  async unsubscribe(channel: string): Promise<void> {
    const st = this.channels.get(channel);
    if (!st) return;
    this.channels.delete(channel);
    st.sub?.unsubscribe();
    st.pending = [];
  }

  async history(channel: string, opts: HistoryOptions): Promise<HistoryResult> {
    const subject = this.subjectOrThrow(channel);
    this.checkOpen();
    const deadline = Date.now() + this.o.publishTimeoutMs;
    // Reads retry like publishes: a stream leader election makes them fail for a moment.
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      if (!this.connected) throw new BrokerError('unavailable', 'NATS is unreachable');
      try {
        return await this.readHistory(channel, subject, opts);
      } catch (err) {
        const e = this.toBrokerError(err, 'history');
        if (e.code !== 'unavailable' || Date.now() + wait > deadline) throw e;
        await new Promise<void>((r) => setTimeout(r, wait));
      }
    }
  }

  private async readHistory(channel: string, subject: string, opts: HistoryOptions): Promise<HistoryResult> {
    let head = await this.readHead(channel);
    if (head.seq === 0) head = await this.writeMarker(channel, subject);
    const position = { offset: head.offset, epoch: head.epoch };
    if (opts.limit <= 0) return { publications: [], position };
    const after = opts.since ? opts.since.offset : 0;
    if (head.offset <= after) return { publications: [], position };
    const recs = await this.readRange(channel, head, after);
    let pubs: Publication[] = recs.map((r) => toPublication(channel, r));
    if (opts.reverse) pubs.reverse();
    if (pubs.length > opts.limit) pubs = pubs.slice(0, opts.limit);
    return { publications: pubs, position };
  }

  async removeHistory(channel: string): Promise<void> {
    const subject = this.subjectOrThrow(channel);
    this.checkOpen();
    if (!this.connected) throw new BrokerError('unavailable', 'NATS is unreachable');
    await this.serialized(channel, async () => {
      try {
        await this.jsmOrThrow().streams.purge(this.o.stream, { filter: subject });
      } catch (err) {
        throw this.toBrokerError(err, 'removeHistory');
      }
      this.heads.delete(channel);
    });
  }

  isReady(): boolean {
    return this.connected && !this.closed && this.nc !== null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    this.handler = null;
    for (const st of this.channels.values()) st.sub?.unsubscribe();
    this.channels.clear();
    const nc = this.nc;
    this.nc = null;
    if (nc && !this.o.connection) {
      await nc.drain().catch(() => nc.close());
    }
  }

  // ---- publishing -------------------------------------------------------------------------

  /** Runs `fn` after the channel's earlier appends from this process (no self-conflicts). */
  private serialized<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(channel) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(channel, tail);
    void tail.then(() => {
      if (this.chains.get(channel) === tail) this.chains.delete(channel);
    });
    return run;
  }

  /**
   * Appends one message at the channel's next offset (compare-and-set on the channel's last
   * stream sequence), retrying on conflicts and on transient unavailability until `deadline`.
   * The same msgId is used on every attempt, so an attempt that was stored but whose ack was
   * lost is recognised by JetStream's dedup and never stored twice.
   */
  private async append(
    channel: string,
    subject: string,
    payload: Uint8Array,
    msgId: string,
    opts: PublishOptions | undefined,
    marker: boolean,
    deadline: number,
  ): Promise<Head> {
    let backoff = 25;
    for (let attempt = 0; ; attempt++) {
      this.checkOpen();
      if (!this.connected) throw new BrokerError('unavailable', 'NATS is unreachable');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new BrokerError('unavailable', `publish not acknowledged within ${this.o.publishTimeoutMs} ms`);
      let transient: unknown;
      try {
        const head = this.heads.get(channel) ?? (await this.readHead(channel));
        if (marker && head.seq !== 0) return head; // someone wrote first: use their epoch
        const offset = marker ? 0 : head.offset + 1;
        const epoch = head.seq === 0 ? newEpoch() : head.epoch;
        const h = buildHeaders(this.o.stream, msgId, head.seq, offset, epoch, Date.now(), opts);
        const timeout = Math.max(10, Math.min(this.o.requestTimeoutMs, remaining));
        const reply = await this.conn().request(subject, payload, { headers: h, timeout });
        const ack = reply.json<PubAck>();
        if (ack.error === undefined && typeof ack.seq === 'number') {
          if (ack.duplicate === true) {
            this.heads.delete(channel);
            return await this.recordAt(ack.seq);
          }
          const next = { seq: ack.seq, offset, epoch };
          this.cacheHead(channel, next);
          return next;
        }
        this.heads.delete(channel);
        const code = ack.error?.err_code;
        if (code === ERR_WRONG_LAST_SEQ) continue; // another writer won this offset: re-read
        if (ack.error?.code === 503 || code === ERR_STREAM_NOT_FOUND) {
          transient = new Error(ack.error?.description ?? 'stream unavailable');
        } else {
          throw new BrokerError('internal', `JetStream refused the publication: ${ack.error?.description ?? 'no ack'}`);
        }
      } catch (err) {
        if (err instanceof BrokerError) throw err;
        // Timeouts, no responders (leader election, stream missing) and connection loss are
        // transient: retry with the same msgId until the deadline.
        transient = err;
        this.heads.delete(channel);
      }
      if (transient !== undefined) {
        if (attempt >= 2) void this.ensureStreamSoon();
        const wait = Math.min(backoff, deadline - Date.now());
        if (wait <= 0) throw new BrokerError('unavailable', 'JetStream did not acknowledge the publication', { cause: transient });
        await new Promise<void>((r) => setTimeout(r, wait));
        backoff = Math.min(backoff * 2, 500);
      }
    }
  }

  private cacheHead(channel: string, head: Head): void {
    if (this.heads.size >= MAX_CACHED_HEADS) this.heads.clear();
    this.heads.set(channel, head);
  }

  /** Writes an epoch marker (offset 0) into an empty channel so its epoch exists before any publication. */
  private writeMarker(channel: string, subject: string): Promise<Head> {
    const deadline = Date.now() + this.o.publishTimeoutMs;
    return this.serialized(channel, () => this.append(channel, subject, EMPTY, 'm' + nuid.next(), undefined, true, deadline));
  }

  // ---- reading ----------------------------------------------------------------------------

  /**
   * The channel's last message, or seq 0 (epoch '') when it has none. Read with STREAM.MSG.GET,
   * answered by the stream leader, the server that also republishes: on one route our
   * subscription's interest reaches it before this request does.
   */
  private async readHead(channel: string): Promise<Head> {
    const m = await this.jsmOrThrow().streams.getMessage(this.o.stream, { last_by_subj: this.storeSubject(channel) });
    if (m === null) return { seq: 0, offset: 0, epoch: '' };
    const r = readRecord(m.seq, m.header, m.data);
    if (r === null) throw new BrokerError('internal', `foreign message at seq ${m.seq} on ${m.subject}`);
    return { seq: r.seq, offset: r.offset, epoch: r.epoch };
  }

  private async recordAt(seq: number): Promise<Head> {
    const m = await this.jsmOrThrow().streams.getMessage(this.o.stream, { seq });
    const r = m === null ? null : readRecord(m.seq, m.header, m.data);
    if (r === null) throw new BrokerError('internal', `duplicate publication at seq ${seq} is no longer readable`);
    return { seq: r.seq, offset: r.offset, epoch: r.epoch };
  }

  /**
   * Publications of the head's epoch with offset > after, oldest first, up to the head.
   * Short ranges walk back from the head along the per-message back pointers; long ones
   * read the channel through a short-lived filtered consumer.
   */
  private async readRange(channel: string, head: Head, after: number): Promise<StoredRecord[]> {
    const need = head.offset - after;
    if (need <= 0) return [];
    if (need <= this.o.walkBackMax) {
      const out: StoredRecord[] = [];
      let seq = head.seq;
      while (seq > 0 && out.length < need) {
        const m = await this.jsmOrThrow().streams.getMessage(this.o.stream, { seq });
        const r = m === null ? null : readRecord(m.seq, m.header, m.data);
        if (r === null || r.epoch !== head.epoch || r.offset <= after) break;
        out.push(r);
        seq = r.prevSeq;
      }
      out.reverse();
      return out.filter((r) => r.offset > 0);
    }
    const recs = await this.readChannel(channel, head.seq);
    return recs.filter((r) => r.epoch === head.epoch && r.offset > after && r.offset > 0);
  }

  /** Every kept message of the channel up to stream sequence `upTo`, oldest first. */
  private async readChannel(channel: string, upTo: number): Promise<StoredRecord[]> {
    const jsm = this.jsmOrThrow();
    const js = this.jsOrThrow();
    const name = `odinws_h_${nuid.next()}`;
    await jsm.consumers.add(this.o.stream, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.storeSubject(channel),
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    const out: StoredRecord[] = [];
    try {
      const c = await js.consumers.get(this.o.stream, name);
      const it = await c.fetch({ max_messages: this.o.historySize + 1, expires: this.o.requestTimeoutMs });
      for await (const m of it) {
        const r = readRecord(m.seq, m.headers, m.data);
        if (r !== null) out.push(r);
        if (m.seq >= upTo || m.info.pending === 0) break;
      }
    } finally {
      jsm.consumers.delete(this.o.stream, name).catch(() => undefined);
    }
    return out;
  }

  // ---- delivery ---------------------------------------------------------------------------

  private onLive(st: ChannelState, err: Error | null, m: Msg): void {
    if (err !== null || this.channels.get(st.channel) !== st) return;
    const seq = Number(m.headers?.get('Nats-Sequence') ?? '0');
    const r = readRecord(seq, m.headers, m.data);
    if (r === null) return;
    if (st.syncing) {
      if (st.pending.length < MAX_PENDING) st.pending.push(r);
      else st.resync = true; // they are in the stream: the next sync reads them
      return;
    }
    this.accept(st, r);
  }

  /** Applies one live record; starts a sync from the stream on a gap. */
  private accept(st: ChannelState, r: StoredRecord): void {
    if (r.epoch === st.epoch) {
      if (r.offset <= st.offset) return; // already delivered (or a marker)
      if (r.offset === st.offset + 1) {
        st.offset = r.offset;
        this.deliver(st, r);
        return;
      }
    } else if (r.offset <= 1) {
      // A new run of the channel (purge, expiry, recreation) starts here: nothing of it was
      // skipped. The hub sees the new epoch on the publication, as with the memory broker.
      st.epoch = r.epoch;
      st.offset = r.offset;
      if (r.offset === 1) this.deliver(st, r);
      return;
    }
    st.pending.push(r);
    this.requestSync(st);
  }

  private deliver(st: ChannelState, r: StoredRecord): void {
    this.handler?.onPublication(toPublication(st.channel, r));
  }

  /** Delivers buffered live records in order, once a sync has set the position. */
  private drain(st: ChannelState): void {
    st.syncing = false;
    const pending = st.pending;
    st.pending = [];
    for (let i = 0; i < pending.length; i++) {
      this.accept(st, pending[i]!);
      if (st.syncing) {
        // a gap inside the buffer: the rest waits behind the record that started the sync
        for (let j = i + 1; j < pending.length; j++) st.pending.push(pending[j]!);
        return;
      }
    }
  }

  /** Starts a sync of the channel unless one runs (then it runs once more afterwards). */
  private requestSync(st: ChannelState): void {
    st.syncing = true;
    if (st.syncRunning) {
      st.resync = true;
      return;
    }
    st.syncRunning = true;
    void this.runSync(st);
  }

  private async runSync(st: ChannelState): Promise<void> {
    const done = await this.syncOnce(st).finally(() => {
      st.syncRunning = false;
    });
    // Not done: unsubscribed, closed, or disconnected; the reconnect handler asks again.
    if (!done) return;
    if (st.resync) {
      st.resync = false;
      this.requestSync(st);
      return;
    }
    this.drain(st);
  }

  /**
   * Brings a channel from its delivered position up to the stream's head: delivers what is
   * missing in order, or, when the stream no longer holds it, tells the hub (onStreamReset)
   * and continues from the head. Retries while the broker is reachable.
   */
  private async syncOnce(st: ChannelState): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed || this.channels.get(st.channel) !== st || !this.connected) return false;
      try {
        const head = await this.readHead(st.channel);
        if (this.channels.get(st.channel) !== st) return false;
        if (head.seq === 0) {
          // The channel is empty now: its history was dropped; anything undelivered is gone.
          if (st.offset > 0) this.handler?.onStreamReset?.(st.channel);
          st.epoch = '';
          st.offset = 0;
          return true;
        }
        const after = head.epoch === st.epoch ? st.offset : 0;
        if (head.offset > after) {
          const recs = await this.readRange(st.channel, head, after);
          if (this.channels.get(st.channel) !== st) return false;
          const first = recs[0];
          const contiguous = recs.length === head.offset - after && first !== undefined && first.offset === after + 1;
          if (contiguous) {
            st.epoch = head.epoch;
            for (const r of recs) {
              st.offset = r.offset;
              this.deliver(st, r);
            }
          } else {
            this.handler?.onStreamReset?.(st.channel);
          }
        }
        st.epoch = head.epoch;
        if (head.offset > st.offset || after === 0) st.offset = head.offset;
        return true;
      } catch {
        await new Promise<void>((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1_000)));
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.closed) return;
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          break;
        case 'reconnect':
          this.connected = true;
          this.heads.clear();
          void this.ensureStreamSoon();
          // Anything published while we were away is in the stream: re-read every head.
          for (const st of this.channels.values()) if (st.ready) this.requestSync(st);
          break;
        case 'close':
          this.connected = false;
          return;
        default:
          break;
      }
    }
  }

  // ---- stream management ------------------------------------------------------------------

  private streamConfig(): Partial<StreamConfig> & { name: string } {
    return {
      name: this.o.stream,
      subjects: [`${this.o.pubPrefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: this.o.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: this.o.replicas,
      max_msgs_per_subject: this.o.historySize,
      max_age: nanos(this.o.historyTtlMs),
      max_msgs: this.o.maxMessages,
      max_bytes: this.o.maxBytes,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(this.o.duplicateWindowMs),
      allow_direct: true,
      republish: { src: `${this.o.pubPrefix}.>`, dest: `${this.o.livePrefix}.>` },
    };
  }

  /** Creates the stream, or brings an existing one's limits to the options. */
  private async ensureStream(): Promise<void> {
    const jsm = this.jsmOrThrow();
    const cfg = this.streamConfig();
    try {
      const info = await jsm.streams.info(this.o.stream);
      if (!this.o.updateStream) return;
      const cur = info.config;
      const same =
        cur.max_msgs_per_subject === cfg.max_msgs_per_subject &&
        cur.max_age === cfg.max_age &&
        cur.max_msgs === cfg.max_msgs &&
        cur.max_bytes === cfg.max_bytes &&
        cur.duplicate_window === cfg.duplicate_window &&
        cur.republish?.dest === cfg.republish?.dest;
      if (!same) await jsm.streams.update(this.o.stream, { ...cur, ...cfg });
    } catch (err) {
      if (errCode(err) !== ERR_STREAM_NOT_FOUND) throw err;
      await jsm.streams.add(cfg);
    }
  }

  private async ensureStreamWithin(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (let wait = 100; ; wait = Math.min(wait * 2, 1_000)) {
      try {
        await this.ensureStream();
        this.lastEnsure = Date.now();
        return;
      } catch (err) {
        if (Date.now() + wait > deadline) throw this.toBrokerError(err, 'create stream');
        await new Promise<void>((r) => setTimeout(r, wait));
      }
    }
  }

  /** Re-creates a deleted stream (at most once a second): a new stream means new epochs. */
  private async ensureStreamSoon(): Promise<void> {
    const now = Date.now();
    if (now - this.lastEnsure < 1_000 || this.closed) return;
    this.lastEnsure = now;
    await this.ensureStream().catch(() => undefined);
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
    if (this.nc === null) throw new BrokerError('closed', 'broker is not running (call run() first)');
  }

  private conn(): NatsConnection {
    if (this.nc === null) throw new BrokerError('closed', 'broker is not running');
    return this.nc;
  }

  private jsOrThrow(): JetStreamClient {
    if (this.js === null) throw new BrokerError('closed', 'broker is not running');
    return this.js;
  }

  private jsmOrThrow(): JetStreamManager {
    if (this.jsm === null) throw new BrokerError('closed', 'broker is not running');
    return this.jsm;
  }

  private toBrokerError(err: unknown, what: string): BrokerError {
    if (err instanceof BrokerError) return err;
    if (this.closed) return new BrokerError('closed', 'broker is closed', { cause: err });
    const code = errCode(err);
    if (code !== undefined && code !== 503 && code !== ERR_STREAM_NOT_FOUND) {
      return new BrokerError('internal', `${what} failed: ${(err as Error).message}`, { cause: err });
    }
    const why = err instanceof Error ? `: ${err.message}` : '';
    return new BrokerError('unavailable', `${what} failed: NATS/JetStream unavailable${why}`, { cause: err });
  }
}
