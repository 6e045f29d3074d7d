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
 *    (LastPerSubject on `$KV.<bucket>.<channel tokens>.*`): one channel's entries only,
 *    tombstones skipped. A few round trips per query; nothing is cached.
 * Costs: one put per entry per refresh interval per node (60 s TTL: an entry every 20 s).
 */
import { AckPolicy, DeliverPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nuid } from '@nats-io/transport-node';
import { presenceStatsOf, type PresenceInfo, type PresenceStats, type PresenceStore } from '../core/presence.js';
import type { ResolvedJetStreamOptions } from './options.js';
import { kvKeyOfChannel, kvToken } from './subject.js';
import { nanos } from './stream-admin.js';
import { errCode, sleep, toBrokerError, unreachable } from './errors.js';

/** Entries put concurrently by one refresh round. */
const REFRESH_BATCH = 256;
/** Entries read per fetch of a presence query. */
const READ_BATCH = 1_000;
/** JetStream: the stream name is in use with another configuration (a racing creator). */
const ERR_STREAM_NAME_IN_USE = 10058;

export interface KvPresenceEnv {
  js(): JetStreamClient;
  jsm(): JetStreamManager;
  connected(): boolean;
  isClosed(): boolean;
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

  constructor(
    private readonly o: ResolvedJetStreamOptions,
    private readonly env: KvPresenceEnv,
  ) {}

  /** The KV stream's name (for tools and tests). */
  get streamName(): string {
    return `KV_${this.o.presenceBucket}`;
  }

  /** Creates (or adopts) the bucket and starts refreshing. Called by the broker's run(). */
  async start(): Promise<void> {
    await this.ensureBucket();
    this.timer = setInterval(() => void this.refreshAll(), this.o.presenceRefreshMs);
    this.timer.unref();
  }

  /** The connection is back: the bucket may be gone and entries may have expired meanwhile. */
  onReconnect(): void {
    if (this.closed) return;
    void this.ensureBucket()
      .catch(() => undefined)
      .then(() => this.refreshAll());
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
    await this.serial(key, () => this.putIfLive(key));
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
    let prefix: string;
    try {
      prefix = `$KV.${this.o.presenceBucket}.${kvKeyOfChannel(channel)}`;
    } catch {
      return {};
    }
    if (this.closed) throw toBrokerError(new Error('closed'), 'presence', true);
    if (!this.env.connected()) throw unreachable();
    try {
      return await this.read(prefix);
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

  private async putIfLive(key: string): Promise<void> {
    const value = this.local.get(key);
    if (value === undefined) return; // removed meanwhile
    const kv = this.kv;
    if (kv === null || this.closed) throw unreachable();
    if (!this.env.connected()) throw unreachable();
    try {
      await kv.put(key, value);
    } catch (err) {
      throw toBrokerError(err, 'presence add', this.env.isClosed());
    }
  }

  /** Puts every live entry again (bounded concurrency); a round that is running runs once more. */
  private async refreshAll(): Promise<void> {
    if (this.closed || this.kv === null) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.refreshAgain = false;
        const keys = [...this.local.keys()];
        for (let i = 0; i < keys.length; i += REFRESH_BATCH) {
          if (this.closed || !this.env.connected()) return; // the reconnect refreshes again
          await Promise.all(keys.slice(i, i + REFRESH_BATCH).map((k) => this.serial(k, () => this.putIfLive(k)).catch(() => undefined)));
        }
      } while (this.refreshAgain && !this.closed);
    } finally {
      this.refreshing = false;
    }
  }

  private async ensureBucket(): Promise<void> {
    const ttl = this.o.presenceTtlMs;
    const create = (): Promise<KV> =>
      new Kvm(this.env.js()).create(this.o.presenceBucket, {
        ttl,
        history: 1,
        storage: StorageType.Memory,
        replicas: this.o.replicas,
        description: 'odin-ws presence: one entry per (channel, client), refreshed by its node',
      });
    let kv: KV;
    try {
      kv = await create();
    } catch (err) {
      if (errCode(err) !== ERR_STREAM_NAME_IN_USE) throw err;
      kv = await create(); // another node created it a moment ago
    }
    const status = await kv.status();
    if (status.ttl !== ttl) {
      // Another deployment option: this node's TTL wins, as the stream's limits do (stream-admin.ts).
      const cfg = status.streamInfo.config;
      await this.env.jsm().streams.update(this.streamName, {
        ...cfg,
        max_age: nanos(ttl),
        duplicate_window: Math.min(cfg.duplicate_window, nanos(ttl)),
      });
    }
    this.kv = kv;
  }

  /** The last value of every key under `prefix` (one channel), tombstones skipped. */
  private async read(prefix: string): Promise<Record<string, PresenceInfo>> {
    const jsm = this.env.jsm();
    const name = `odinws_p_${nuid.next()}`;
    const ci = await jsm.consumers.add(this.streamName, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.LastPerSubject,
      filter_subject: `${prefix}.*`,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    const out: Record<string, PresenceInfo> = {};
    try {
      if (ci.num_pending === 0) return out;
      const c = await this.env.js().consumers.get(this.streamName, name);
      for (let done = false; !done;) {
        const it = await c.fetch({ max_messages: READ_BATCH, expires: this.o.requestTimeoutMs });
        let n = 0;
        for await (const m of it) {
          n++;
          const op = m.headers?.get('KV-Operation') ?? '';
          if (op === '') {
            const e = parseEntry(m.data);
            if (e !== null) out[e.client] = e;
          }
          if (m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (n === 0) throw new Error('presence read timed out');
      }
    } finally {
      jsm.consumers.delete(this.streamName, name).catch(() => undefined);
    }
    return out;
  }
}

const decoder = new TextDecoder();

/** An entry's value, or null when it is not one of ours. */
function parseEntry(data: Uint8Array): PresenceInfo | null {
  try {
    const v = JSON.parse(decoder.decode(data)) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { client, user } = v as Record<string, unknown>;
    return typeof client === 'string' && typeof user === 'string' ? { client, user } : null;
  } catch {
    return null;
  }
}
