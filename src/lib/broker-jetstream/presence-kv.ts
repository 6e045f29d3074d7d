/**
 * Presence shared by every gateway node on one NATS: a KV bucket (default `<stream>_presence`)
 * whose max_age is the presence TTL. See core/presence.ts for the guarantees; here is how:
 *  - one entry per (channel, client): key `<channel tokens>.<client id>` (subject.ts,
 *    kvKeyOfChannel), value `{"client","user"}` JSON. `add` puts it (acknowledged by
 *    JetStream: read-your-writes on every node), `remove` deletes it.
 *  - each node keeps its own live entries in memory and puts them again every
 *    `presenceRefreshMs` (a third of the TTL by default), and at once after a reconnect (the
 *    bucket is created again if it is gone); a node that stops refreshing (crash, network
 *    loss) has its entries expire after `presenceTtlMs` (max_age).
 *  - writes of one key are serialized (a remove never overtakes an earlier put).
 *  - `get` reads the channel's last value per key through a short-lived filtered consumer
 *    (LastPerSubject on `$KV.<bucket>.<channel tokens>.*`; it delivers in stream order: the
 *    last message of each key at its creation, then every later one), then writes a fence entry
 *    of the channel (key `<channel tokens>.=`: no client id is empty) and reads up to it. So it
 *    sees every entry written before the query, and never waits on the consumer's pending count
 *    (which still counts entries that expired before delivery). The bucket keeps 2 messages per
 *    key, so a refresh landing mid-read does not remove the message the consumer is about to
 *    deliver (a key written twice within one query's read, a few ms, may be missed by that
 *    query). One channel's entries only, tombstones skipped; 4 round trips; nothing cached.
 *  - refreshes are plain publishes to the entry's subject (no acknowledgement: one message each,
 *    sent in batches with a flush between); they travel the same connection as the acknowledged
 *    puts and deletes, in order, and skip entries removed meanwhile, so they never bring a removed
 *    entry back.
 * Costs: one stored message per entry per refresh interval per node (60 s TTL: every 20 s).
 * The same class, on its own bucket, counts each user's connections on every node
 * (user-connections-kv.ts): `addRanked` stamps an entry with the stream sequence of its first
 * put (`since`, kept by refreshes), so `ranked` orders a group's entries by when they arrived.
 */
import { AckPolicy, DeliverPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { presenceStatsOf, type PresenceInfo, type PresenceStats, type PresenceStore } from '../core/presence.js';
import type { ResolvedJetStreamOptions } from './options.js';
import { kvKeyOfChannel, kvToken } from './subject.js';
import { nanos } from './stream-admin.js';
import { errCode, sleep, toBrokerError, unreachable } from './errors.js';

/** Entries a refresh round publishes between two flushes. */
const REFRESH_BATCH = 1_000;
/** The fence key's last token (kvToken('')): never a client's (client ids are not empty). */
const FENCE = '=';
const EMPTY = new Uint8Array(0);
/** Messages kept per key (see the file comment on `get`). */
const KEY_HISTORY = 2;
/** Entries read per fetch of a presence query. */
const READ_BATCH = 1_000;
/** JetStream: the stream name is in use with another configuration (a racing creator). */
const ERR_STREAM_NAME_IN_USE = 10058;

export interface KvPresenceEnv {
  nc(): NatsConnection;
  js(): JetStreamClient;
  jsm(): JetStreamManager;
  connected(): boolean;
  isClosed(): boolean;
}

/** One bucket of per-client entries: its name, max_age and how often its node rewrites them. */
export interface KvEntryBucket {
  readonly name: string;
  readonly ttlMs: number;
  readonly refreshMs: number;
  readonly description: string;
}

/** The presence bucket of these options. */
export function presenceBucketOf(o: ResolvedJetStreamOptions): KvEntryBucket {
  return {
    name: o.presenceBucket,
    ttlMs: o.presenceTtlMs,
    refreshMs: o.presenceRefreshMs,
    description: 'odin-ws presence: one entry per (channel, client), refreshed by its node',
  };
}

/** An entry with the stream sequence of its first put (its place in arrival order). */
export interface RankedEntry extends PresenceInfo {
  readonly since: number;
}

export class KvPresence implements PresenceStore {
  private kv: KV | null = null;
  /** This node's live entries: key → value. */
  private readonly local = new Map<string, string>();
  /** The last write queued per key (writes of a key run one after another). */
  private readonly tails = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing = false;
  private refreshAgain = false;
  private closed = false;

  /** When the bucket's stream was created (a new one restarts sequences: stamps are dropped). */
  private created = '';

  constructor(
    private readonly o: ResolvedJetStreamOptions,
    private readonly env: KvPresenceEnv,
    private readonly b: KvEntryBucket = presenceBucketOf(o),
  ) {}

  /** The KV stream's name (for tools and tests). */
  get streamName(): string {
    return `KV_${this.b.name}`;
  }

  /** Creates (or adopts) the bucket and starts refreshing. Called by the broker's run(). */
  async start(): Promise<void> {
    await this.ensureBucket();
    this.timer = setInterval(() => void this.refresh(), this.b.refreshMs);
    this.timer.unref();
  }

  /** The connection is back: the bucket may be gone and entries may have expired meanwhile. */
  onReconnect(): void {
    if (this.closed) return;
    void this.ensureBucket()
      .catch(() => undefined)
      .then(() => this.refresh());
  }

  /** Stops refreshing; waits (at most one request timeout) for queued writes (removes at shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.race([Promise.all([...this.tails.values()]), sleep(this.o.requestTimeoutMs)]);
  }

  async add(channel: string, info: PresenceInfo): Promise<void> {
    const key = this.keyOf(channel, info.client);
    this.local.set(key, JSON.stringify({ client: info.client, user: info.user }));
    await this.serial(key, async () => void (await this.putIfLive(key)));
  }

  /**
   * `add`, then stamps the entry with the stream sequence of that put (kept by refreshes);
   * resolves with it. Rejects as `add` does (the entry is kept and written later, unstamped).
   */
  async addRanked(group: string, info: PresenceInfo): Promise<number> {
    const key = this.keyOf(group, info.client);
    this.local.set(key, JSON.stringify({ client: info.client, user: info.user }));
    let seq = 0;
    await this.serial(key, async () => {
      seq = await this.putIfLive(key);
      if (seq > 0 && this.local.has(key)) this.local.set(key, JSON.stringify({ client: info.client, user: info.user, since: seq }));
    });
    return seq;
  }

  /** A group's entries on every node with their first-put sequence, read as `get` reads. */
  async ranked(group: string): Promise<RankedEntry[]> {
    if (this.closed) throw toBrokerError(new Error('closed'), 'presence', true);
    if (!this.env.connected()) throw unreachable();
    try {
      return [...(await this.read(kvKeyOfChannel(group))).values()];
    } catch (err) {
      throw toBrokerError(err, 'presence', this.env.isClosed());
    }
  }

  async remove(channel: string, client: string): Promise<void> {
    let key: string;
    try {
      key = this.keyOf(channel, client);
    } catch {
      return;
    }
    if (!this.local.delete(key)) return;
    await this.serial(key, async () => {
      if (this.local.has(key)) return; // added again meanwhile: its put follows
      const kv = this.kv;
      if (kv === null || !this.env.connected()) return; // expires by TTL
      await kv.delete(key);
    }).catch(() => undefined);
  }

  async get(channel: string): Promise<Record<string, PresenceInfo>> {
    let chanKey: string;
    try {
      chanKey = kvKeyOfChannel(channel);
    } catch {
      return {};
    }
    if (this.closed) throw toBrokerError(new Error('closed'), 'presence', true);
    if (!this.env.connected()) throw unreachable();
    try {
      const out: Record<string, PresenceInfo> = {};
      for (const e of (await this.read(chanKey)).values()) out[e.client] = { client: e.client, user: e.user };
      return out;
    } catch (err) {
      throw toBrokerError(err, 'presence', this.env.isClosed());
    }
  }

  async stats(channel: string): Promise<PresenceStats> {
    return presenceStatsOf(Object.values(await this.get(channel)));
  }

  // ---- internals ----------------------------------------------------------------------------

  private keyOf(channel: string, client: string): string {
    return `${kvKeyOfChannel(channel)}.${kvToken(client)}`;
  }

  /** Runs `op` after every earlier write of `key`; resolves or rejects with `op`. */
  private serial(key: string, op: () => Promise<void>): Promise<void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(op);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** The put's stream sequence; 0 when the entry was removed meanwhile. */
  private async putIfLive(key: string): Promise<number> {
    const value = this.local.get(key);
    if (value === undefined) return 0; // removed meanwhile
    const kv = this.kv;
    if (kv === null || this.closed) throw unreachable();
    if (!this.env.connected()) throw unreachable();
    try {
      return await kv.put(key, value);
    } catch (err) {
      throw toBrokerError(err, 'presence add', this.env.isClosed());
    }
  }

  /**
   * Writes every live entry again (the timer's job; public for tools and benchmarks); a round
   * that is running runs once more. An entry is read from `local` when it is sent, so one
   * removed meanwhile is skipped (see the file comment).
   */
  async refresh(): Promise<void> {
    if (this.closed || this.kv === null) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    const prefix = `$KV.${this.b.name}.`;
    try {
      do {
        this.refreshAgain = false;
        const keys = [...this.local.keys()];
        for (let i = 0; i < keys.length; i += REFRESH_BATCH) {
          if (this.closed || !this.env.connected()) return; // the reconnect refreshes again
          const nc = this.env.nc();
          for (const k of keys.slice(i, i + REFRESH_BATCH)) {
            const v = this.local.get(k);
            if (v !== undefined) nc.publish(prefix + k, v);
          }
          await nc.flush();
        }
      } while (this.refreshAgain && !this.closed);
    } catch {
      // Disconnected or closed mid-round: the reconnect (or the next tick) refreshes again.
    } finally {
      this.refreshing = false;
    }
  }

  private async ensureBucket(): Promise<void> {
    const ttl = this.b.ttlMs;
    const create = (): Promise<KV> =>
      new Kvm(this.env.js()).create(this.b.name, {
        ttl,
        history: KEY_HISTORY,
        storage: StorageType.Memory,
        replicas: this.o.replicas,
        description: this.b.description,
      });
    let kv: KV;
    try {
      kv = await create();
    } catch (err) {
      if (errCode(err) !== ERR_STREAM_NAME_IN_USE) throw err;
      kv = await create(); // another node created it a moment ago
    }
    const status = await kv.status();
    if (status.ttl !== ttl || status.history !== KEY_HISTORY) {
      // Another deployment option: this node's TTL wins, as the stream's limits do (stream-admin.ts).
      const cfg = status.streamInfo.config;
      await this.env.jsm().streams.update(this.streamName, {
        ...cfg,
        max_age: nanos(ttl),
        max_msgs_per_subject: KEY_HISTORY,
        duplicate_window: Math.min(cfg.duplicate_window, nanos(ttl)),
      });
    }
    this.restamp(status.streamInfo.created);
    this.kv = kv;
  }

  /**
   * A bucket created anew (NATS lost it) numbers from 1 again: stamps from the old one would
   * rank wrongly, so entries are rewritten unstamped (ranked by their next put from then on).
   */
  private restamp(created: string): void {
    if (this.created !== '' && created !== this.created) {
      for (const [k, v] of this.local) {
        const e = parseEntry(encoder.encode(v));
        if (e !== null) this.local.set(k, JSON.stringify({ client: e.client, user: e.user }));
      }
    }
    this.created = created;
  }

  /** The last value of every key of one channel written before this call, tombstones skipped. */
  private async read(chanKey: string): Promise<Map<string, RankedEntry>> {
    const kv = this.kv;
    if (kv === null) throw unreachable();
    const prefix = `$KV.${this.b.name}.${chanKey}`;
    const jsm = this.env.jsm();
    const name = `odinws_p_${nuid.next()}`;
    await jsm.consumers.add(this.streamName, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.LastPerSubject,
      filter_subject: `${prefix}.*`,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    // By key: a key may come twice (its last message at the consumer's creation, then a newer
    // one), and a delete after a value removes it.
    const byKey = new Map<string, RankedEntry>();
    try {
      // Written after the consumer exists: it is delivered after everything older.
      const fence = await kv.put(`${chanKey}.${FENCE}`, EMPTY);
      const c = await this.env.js().consumers.get(this.streamName, name);
      for (let done = false; !done;) {
        const it = await c.fetch({ max_messages: READ_BATCH, expires: this.o.requestTimeoutMs });
        let n = 0;
        for await (const m of it) {
          n++;
          const op = m.headers?.get('KV-Operation') ?? '';
          const e = op === '' ? parseEntry(m.data, m.seq) : null;
          if (e !== null) byKey.set(m.subject, e);
          else byKey.delete(m.subject);
          if (m.seq >= fence) {
            done = true;
            break;
          }
        }
        if (n === 0) throw new Error('presence read timed out');
      }
    } finally {
      jsm.consumers.delete(this.streamName, name).catch(() => undefined);
    }
    return byKey;
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** An entry's value (unstamped: ranked by `seq`, the message's own sequence), or null when it is not one of ours. */
function parseEntry(data: Uint8Array, seq = 0): RankedEntry | null {
  try {
    const v = JSON.parse(decoder.decode(data)) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { client, user, since } = v as Record<string, unknown>;
    if (typeof client !== 'string' || typeof user !== 'string') return null;
    return { client, user, since: typeof since === 'number' && Number.isSafeInteger(since) ? since : seq };
  } catch {
    return null;
  }
}
