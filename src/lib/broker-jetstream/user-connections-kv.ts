/**
 * `maxConnectionsPerUser` on every node sharing one NATS (core/broker.ts `UserConnectionRegistry`):
 * a KV bucket (default `<stream>_users`, memory storage) with one entry per authenticated
 * connection, key `<sha256(user), base64url>.<client id>`, kept alive by its node
 * (presence-kv.ts: refreshed every TTL/3, written again after a reconnect, expired by max_age
 * when its node stops refreshing: crash, network loss).
 *
 * A claim puts the entry (acknowledged: it gets its stream sequence), then reads the user's
 * entries up to a fence written after the read began, and counts those stamped earlier. Every
 * claim ranks against the same stream order, so of two nodes admitting the user's last slot at
 * once only the earlier put takes it: no overshoot. A refused claim's entry is deleted at once;
 * until then it still counts, so a later claim racing with it may be refused too (undershoot
 * for a few milliseconds, never overshoot). Entries of a crashed node count until they expire
 * (`jetstream.userTtlMs`, 30 s by default): that long, a user who held the limit there can be
 * refused elsewhere. Cost per authenticated connection: 2 puts, a short-lived consumer and a
 * delete (4-5 round trips) at connect, one unacknowledged publish per refresh interval, one delete
 * at close. The bucket is created at the first claim: a gateway without the limit writes nothing.
 */
import { createHash } from 'node:crypto';
import type { UserClaim } from '../core/broker.js';
import { KvPresence, type KvPresenceEnv } from './presence-kv.js';
import type { ResolvedJetStreamOptions } from './options.js';

export class KvUserConnections {
  private readonly store: KvPresence;
  private started: Promise<void> | null = null;

  constructor(o: ResolvedJetStreamOptions, env: KvPresenceEnv) {
    this.store = new KvPresence(o, env, {
      name: o.userBucket,
      ttlMs: o.userTtlMs,
      refreshMs: Math.max(100, Math.floor(o.userTtlMs / 3)),
      description: 'odin-ws connections per user: one entry per authenticated connection, refreshed by its node',
    });
  }

  /** The KV stream's name (tools and tests). */
  get streamName(): string {
    return this.store.streamName;
  }

  async claim(user: string, client: string, limit: number): Promise<UserClaim> {
    const group = userGroup(user);
    try {
      await this.start();
      const seq = await this.store.addRanked(group, { client, user });
      const entries = await this.store.ranked(group);
      let earlier = 0;
      for (const e of entries) if (e.client !== client && e.since < seq) earlier++;
      return earlier >= limit ? 'over' : 'admitted';
    } catch {
      // Unreachable (or the bucket could not be made): the entry stays and is written later.
      return 'unavailable';
    }
  }

  release(user: string, client: string): void {
    void this.store.remove(userGroup(user), client);
  }

  /** The connection is back: the bucket may be gone and entries may have expired meanwhile. */
  onReconnect(): void {
    if (this.started !== null) this.store.onReconnect();
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  private start(): Promise<void> {
    if (this.started === null) {
      const p = this.store.start();
      this.started = p;
      // A failed creation is tried again at the next claim.
      p.catch(() => {
        if (this.started === p) this.started = null;
      });
    }
    return this.started;
  }
}

/** One KV token per user id of any length or alphabet (base64url is KV-safe, never `=`-prefixed). */
function userGroup(user: string): string {
  return createHash('sha256').update(user).digest('base64url');
}
