/**
 * The presence seam: who is subscribed to a channel (for namespaces with `presence: true`).
 *
 * Core calls `add` when a subscription becomes ready and `remove` when it ends; it never
 * refreshes entries itself. Guarantees every implementation gives:
 *  1. Scope: `get`/`stats` answer for every node that shares the store (the memory store: one
 *     process; a shared store such as NATS KV: every gateway process and node on it).
 *  2. Read-your-writes: once `add` has resolved, `get` on any node sharing the store lists the
 *     entry; once `remove` has resolved, no longer lists it.
 *  3. Liveness: an entry whose node stops (crash, network loss) without removing it disappears
 *     within the store's TTL; the node keeps its own live entries alive meanwhile (a shared
 *     store refreshes them, and writes them again after a reconnect, by itself).
 *  4. Failures: `add` rejects when the entry could not be stored now; the store still keeps it
 *     and retries until `remove` (so a subscription is never refused over presence). `remove`
 *     never rejects: an entry it could not delete expires (3). `get`/`stats` reject with a
 *     `BrokerError` ('unavailable' when the store is unreachable: callers answer "try again").
 *  5. Order: for one (channel, client), operations apply in call order (a quick
 *     remove-then-add leaves the entry present).
 * Entries are keyed by client id: the same user on two connections is two entries, one user.
 */
import type { Logger } from './logger.js';

/** Who is subscribed (Centrifugo's `ClientInfo` without conn/chan info). */
export interface PresenceInfo {
  readonly client: string;
  readonly user: string;
}

export interface PresenceStats {
  readonly num_clients: number;
  readonly num_users: number;
}

export interface PresenceStore {
  add(channel: string, info: PresenceInfo): Promise<void>;
  remove(channel: string, client: string): Promise<void>;
  /** Client id → info, for every node sharing the store. */
  get(channel: string): Promise<Record<string, PresenceInfo>>;
  stats(channel: string): Promise<PresenceStats>;
}

/** Counts clients and distinct users of a presence listing. */
export function presenceStatsOf(entries: Iterable<PresenceInfo>): PresenceStats {
  let clients = 0;
  const users = new Set<string>();
  for (const e of entries) {
    clients++;
    users.add(e.user);
  }
  return { num_clients: clients, num_users: users.size };
}

/**
 * Enters the channel's presence before the subscribe reply, so the client sees itself in it.
 * A store that cannot write now keeps the entry and retries (guarantee 4): the subscription goes on.
 */
export async function addPresence(store: PresenceStore, log: Logger, channel: string, info: PresenceInfo): Promise<void> {
  try {
    await store.add(channel, info);
  } catch (err) {
    log.warn({ err, channel, client: info.client }, 'presence not stored yet; the store retries');
  }
}

/** Leaves the channel's presence; a rejection is logged, never thrown. */
export function removePresence(store: PresenceStore, log: Logger, channel: string, client: string): void {
  store.remove(channel, client).catch((err: unknown) => log.warn({ err, channel }, 'presence remove failed'));
}

/** The store of one process: used with the memory broker (which is one process too). */
export class MemoryPresence implements PresenceStore {
  private readonly channels = new Map<string, Map<string, PresenceInfo>>();

  async add(channel: string, info: PresenceInfo): Promise<void> {
    let m = this.channels.get(channel);
    if (!m) {
      m = new Map();
      this.channels.set(channel, m);
    }
    m.set(info.client, info);
  }

  async remove(channel: string, client: string): Promise<void> {
    const m = this.channels.get(channel);
    if (!m) return;
    m.delete(client);
    if (m.size === 0) this.channels.delete(channel);
  }

  async get(channel: string): Promise<Record<string, PresenceInfo>> {
    return Object.fromEntries(this.channels.get(channel) ?? []);
  }

  async stats(channel: string): Promise<PresenceStats> {
    return presenceStatsOf(this.channels.get(channel)?.values() ?? []);
  }
}
