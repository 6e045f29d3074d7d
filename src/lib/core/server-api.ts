/**
 * The server API of one gateway node: publish, history, presence, the user commands, and what
 * the admin console lists and disconnects. The Gateway owns the state these read and delegates
 * to one `ServerApi`, so callers hold only the Gateway. No HTTP here: failures throw
 * `CodedError` with a protocol code; the server layer maps it to HTTP and Centrifugo's shapes.
 */
import {
  isControlPublisher,
  isEphemeralPublisher,
  type Broker,
  type HistoryResult,
  type PublishResult,
  type SourcePosition,
  type StreamPosition,
} from './broker.js';
import { publicationTags, type ChannelRules } from './channels.js';
import type { Clock } from './clock.js';
import type { Client } from './client.js';
import { encodeControl, type UserCommand } from './control.js';
import { brokerFailureError } from './errors.js';
import type { Hub } from './hub.js';
import type { PresenceInfo, PresenceStats, PresenceStore } from './presence.js';
import type { GatewayStats } from './stats.js';
import type { UserIndex } from './users.js';
import { CodedError, Disconnect, ErrorCode, type DisconnectReason } from '../protocol/codes.js';

/** What the server API reads and acts on: the Gateway's own state, handed over (it stays the owner). */
export interface ServerApiNode {
  readonly broker: Broker;
  readonly rules: ChannelRules;
  readonly presence: PresenceStore;
  readonly stats: GatewayStats;
  readonly hub: Hub<Client>;
  readonly nodeId: string;
  readonly version: string;
  /** When the node started, ms since the epoch (`clock.now()`). */
  readonly startedAt: number;
  readonly clock: Clock;
  /** Every connection on this node. */
  readonly clients: ReadonlySet<Client>;
  readonly users: UserIndex;
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
  /** Fencing for a replayed source (Broker guarantee 6; the Kafka ingest). */
  readonly source?: SourcePosition;
}

function tagsOf(tags: Readonly<Record<string, string>> | undefined): { tags?: Readonly<Record<string, string>> } {
  return tags !== undefined ? { tags } : {};
}

/** The server API's operations for one node; each Gateway method of the same name delegates here. */
export class ServerApi {
  constructor(private readonly node: ServerApiNode) {}

  async publish(req: PublishRequest): Promise<PublishResult> {
    const ns = this.node.rules.resolve(req.channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel); // "unknown channel", Centrifugo's words
    if (req.skipHistory) {
      if (!isEphemeralPublisher(this.node.broker))
        throw new CodedError(ErrorCode.NotAvailable, 'skip_history is not supported by this broker');
      if (req.idempotencyKey !== undefined)
        throw new CodedError(ErrorCode.BadRequest, 'idempotency_key cannot be combined with skip_history');
    }
    try {
      const opts = {
        historySize: ns.historySize,
        historyTtlMs: ns.historyTtlMs,
        ...(req.idempotencyKey !== undefined ? { idempotencyKey: req.idempotencyKey } : {}),
        ...tagsOf(publicationTags(ns, req.data, req.tags)),
        ...(req.source !== undefined ? { source: req.source } : {}),
      };
      const pos =
        req.skipHistory && isEphemeralPublisher(this.node.broker)
          ? await this.node.broker.publishEphemeral(req.channel, req.data, opts)
          : await this.node.broker.publish(req.channel, req.data, opts);
      this.node.stats.publications++;
      return pos;
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  /** Drops a channel's history (the server API's `history_remove`). */
  async removeHistory(channel: string): Promise<void> {
    const ns = this.node.rules.resolve(channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel);
    try {
      await this.node.broker.removeHistory(channel);
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
    if (cmd.op === 'subscribe' && !this.node.rules.resolve(cmd.channel)) throw new CodedError(ErrorCode.UnknownChannel);
    const b = this.node.broker;
    if (isControlPublisher(b)) {
      try {
        await b.publishControl(encodeControl(this.node.nodeId, cmd));
      } catch (err) {
        throw brokerFailureError(err);
      }
    }
    this.node.users.apply(cmd);
  }

  async history(channel: string, opts: { limit: number; since?: StreamPosition; reverse?: boolean }): Promise<HistoryResult> {
    const ns = this.node.rules.resolve(channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel);
    if (ns.historySize === 0) throw new CodedError(ErrorCode.NotAvailable, 'history not available for this channel');
    try {
      return await this.node.broker.history(channel, {
        limit: Math.min(opts.limit, ns.historySize),
        since: opts.since,
        reverse: opts.reverse,
      });
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  /** Who is subscribed to the channel on every node sharing the presence store. */
  async presenceOf(channel: string): Promise<Record<string, PresenceInfo>> {
    this.checkPresence(channel);
    try {
      return await this.node.presence.get(channel);
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  async presenceStatsOf(channel: string): Promise<PresenceStats> {
    this.checkPresence(channel);
    try {
      return await this.node.presence.stats(channel);
    } catch (err) {
      throw brokerFailureError(err);
    }
  }

  private checkPresence(channel: string): void {
    const ns = this.node.rules.resolve(channel);
    if (!ns) throw new CodedError(ErrorCode.UnknownChannel);
    if (!ns.presence) throw new CodedError(ErrorCode.NotAvailable, 'presence not available for this channel');
  }

  /** Disconnects a user's connections on this node (or one of them); returns how many (admin console). */
  disconnectUser(user: string, client?: string, reason: DisconnectReason = Disconnect.ForceNoReconnect): number {
    return this.node.users.apply({ op: 'disconnect', user, ...(client !== undefined ? { client } : {}), reason, whitelist: [] });
  }

  /** Connections of a user and/or with a client id, for the admin console (a scan: admin use only). */
  findClients(q: { user?: string; client?: string }, limit = 100): ClientSummary[] {
    const out: ClientSummary[] = [];
    const pool = q.user !== undefined && q.user !== '' ? this.node.users.of(q.user) : this.node.clients;
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
    for (const c of this.node.clients) {
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
          uid: this.node.nodeId,
          name: this.node.nodeId,
          version: this.node.version,
          num_clients: this.node.clients.size,
          num_users: this.node.users.size,
          num_channels: this.node.hub.channelCount,
          num_subs: this.node.stats.subscriptions,
          uptime: Math.floor((this.node.clock.now() - this.node.startedAt) / 1000),
        },
      ],
    };
  }

  channels(): Record<string, { num_clients: number }> {
    const out: Record<string, { num_clients: number }> = {};
    for (const ch of this.node.hub.channelNames()) out[ch] = { num_clients: this.node.hub.members(ch)?.size ?? 0 };
    return out;
  }
}
