/**
 * A node's authenticated connections by user, and the server API commands aimed at them
 * (core/control.ts), applied to this node's connections only.
 */
import type { Client } from './client.js';
import type { UserCommand } from './control.js';
import { Disconnect } from '../protocol/codes.js';

export class UserIndex {
  private readonly byUser = new Map<string, Set<Client>>();

  /** Users with at least one connection here. */
  get size(): number {
    return this.byUser.size;
  }

  add(client: Client): void {
    if (client.user === '') return;
    let set = this.byUser.get(client.user);
    if (!set) {
      set = new Set();
      this.byUser.set(client.user, set);
    }
    set.add(client);
  }

  remove(client: Client): void {
    const set = this.byUser.get(client.user);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.byUser.delete(client.user);
  }

  /** How many connections the user has here. */
  count(user: string): number {
    return this.byUser.get(user)?.size ?? 0;
  }

  /** The user's connections here; with `client` (non-empty) only that one. */
  of(user: string, client?: string): Client[] {
    const set = this.byUser.get(user);
    if (!set) return [];
    return [...set].filter((c) => client === undefined || client === '' || c.id === client);
  }

  /** Applies a command to this node's connections; returns how many it reached. */
  apply(cmd: UserCommand): number {
    const targets = this.of(cmd.user, cmd.client);
    switch (cmd.op) {
      case 'subscribe':
        for (const c of targets) void c.serverSubscribe(cmd.channel, cmd.data ?? null, cmd.since ?? null);
        return targets.length;
      case 'unsubscribe':
        for (const c of targets) c.serverUnsubscribe(cmd.channel);
        return targets.length;
      case 'disconnect': {
        let n = 0;
        for (const c of targets) {
          if (cmd.whitelist.includes(c.id)) continue;
          c.disconnect(cmd.reason);
          n++;
        }
        return n;
      }
      case 'refresh':
        for (const c of targets) {
          if (cmd.expired) c.disconnect(Disconnect.Expired);
          else if (cmd.expireAt !== undefined) c.extendExpiry(cmd.expireAt);
        }
        return targets.length;
    }
  }
}
