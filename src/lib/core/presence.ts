/** Who is subscribed to a channel on this node (for channels with presence on). */
export interface PresenceInfo {
  readonly client: string;
  readonly user: string;
}

export class MemoryPresence {
  private readonly channels = new Map<string, Map<string, PresenceInfo>>();

  add(channel: string, info: PresenceInfo): void {
    let m = this.channels.get(channel);
    if (!m) {
      m = new Map();
      this.channels.set(channel, m);
    }
    m.set(info.client, info);
  }

  remove(channel: string, client: string): void {
    const m = this.channels.get(channel);
    if (!m) return;
    m.delete(client);
    if (m.size === 0) this.channels.delete(channel);
  }

  get(channel: string): Record<string, PresenceInfo> {
    return Object.fromEntries(this.channels.get(channel) ?? []);
  }

  stats(channel: string): { num_clients: number; num_users: number } {
    const m = this.channels.get(channel);
    if (!m) return { num_clients: 0, num_users: 0 };
    return { num_clients: m.size, num_users: new Set([...m.values()].map((i) => i.user)).size };
  }
}
