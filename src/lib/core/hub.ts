import type { Broker, Publication } from './broker.js';
import type { Client } from './client.js';
import type { GatewayStats } from './stats.js';
import type { Logger } from './logger.js';
import type { FrameEncoder, PreparedFrame } from './transport.js';
import { encodeOdinPublication } from '../protocol/odin.js';
import { encodePublicationPush } from '../protocol/centrifuge.js';
import { PROTOBUF_CODEC } from '../protocol/centrifuge-codec.js';

/** Protocol ids index the per-publication frame cache. */
export const PROTO_ODIN = 0;
export const PROTO_CENTRIFUGE = 1;
export const PROTO_CENTRIFUGE_PROTOBUF = 2;
export type ProtocolId = typeof PROTO_ODIN | typeof PROTO_CENTRIFUGE | typeof PROTO_CENTRIFUGE_PROTOBUF;

/**
 * A client's membership in a channel. While `buffer` is non-null the subscription is being
 * set up (history is read); live publications wait there so none is lost or duplicated.
 */
export interface Membership {
  buffer: Publication[] | null;
}

class ChannelEntry {
  readonly members = new Map<Client, Membership>();
  ready: Promise<void> = Promise.resolve();
}

/** The Odin envelope type: the publication's `type` tag, else the event part of the channel. */
export function odinEventType(pub: Publication): string {
  const t = pub.tags?.type;
  if (t) return t;
  const ch = pub.channel;
  const parts = ch.split('.');
  return parts[1] ?? ch;
}

export function encodeForProtocol(proto: ProtocolId, pub: Publication): string | Uint8Array {
  if (proto === PROTO_CENTRIFUGE_PROTOBUF) return PROTOBUF_CODEC.publicationPush(pub.channel, pub);
  if (proto === PROTO_ODIN) {
    return encodeOdinPublication({
      type: odinEventType(pub),
      channel: pub.channel,
      offset: pub.offset,
      epoch: pub.epoch,
      ts: pub.time,
      data: pub.data,
    });
  }
  return encodePublicationPush(pub.channel, pub);
}

/**
 * Channel → members, and the fan-out: a publication is encoded once per protocol, framed once
 * by the transport, and the same bytes are queued for every member. Queues are flushed once
 * per event-loop turn, one socket write per connection.
 */
export class Hub {
  private readonly channels = new Map<string, ChannelEntry>();
  private dirty: Client[] = [];
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly broker: Broker,
    private readonly transport: FrameEncoder,
    private readonly stats: GatewayStats,
    private readonly log: Logger,
  ) {}

  get channelCount(): number {
    return this.channels.size;
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  members(channel: string): ReadonlyMap<Client, Membership> | undefined {
    return this.channels.get(channel)?.members;
  }

  /** Adds a member; resolves once the broker delivers the channel to this node. */
  async add(channel: string, client: Client, m: Membership): Promise<void> {
    let e = this.channels.get(channel);
    if (!e) {
      e = new ChannelEntry();
      this.channels.set(channel, e);
      e.ready = this.broker.subscribe(channel);
    }
    e.members.set(client, m);
    this.stats.subscriptions++;
    try {
      await e.ready;
    } catch (err) {
      this.remove(channel, client);
      throw err;
    }
  }

  remove(channel: string, client: Client): void {
    const e = this.channels.get(channel);
    if (!e || !e.members.delete(client)) return;
    this.stats.subscriptions--;
    if (e.members.size === 0) {
      this.channels.delete(channel);
      this.broker.unsubscribe(channel).catch((err: unknown) => this.log.warn({ err, channel }, 'broker unsubscribe failed'));
    }
  }

  /** Broker delivery: fan out to every member of the channel on this node. */
  onPublication(pub: Publication): void {
    const e = this.channels.get(pub.channel);
    if (!e) return;
    let odin: PreparedFrame | undefined;
    let cent: PreparedFrame | undefined;
    let centPb: PreparedFrame | undefined;
    for (const [client, m] of e.members) {
      if (m.buffer !== null) {
        m.buffer.push(pub);
        continue;
      }
      const proto = client.protocol;
      if (proto === PROTO_ODIN) {
        odin ??= this.prepare(PROTO_ODIN, pub);
        client.enqueue(odin);
      } else if (proto === PROTO_CENTRIFUGE) {
        cent ??= this.prepare(PROTO_CENTRIFUGE, pub);
        client.enqueue(cent);
      } else {
        centPb ??= this.prepare(PROTO_CENTRIFUGE_PROTOBUF, pub);
        client.enqueue(centPb);
      }
    }
    const cb = this.stats.onBroadcastLatency;
    if (cb !== null) cb(Math.max(0, Date.now() - pub.time) / 1000);
  }

  prepare(proto: ProtocolId, pub: Publication): PreparedFrame {
    const e = encodeForProtocol(proto, pub);
    return typeof e === 'string' ? this.transport.prepare(Buffer.from(e)) : this.transport.prepare(e, true);
  }

  /** Frames an encoded message: binary for protobuf connections, text otherwise. */
  prepareBytes(bytes: Uint8Array, binary: boolean): PreparedFrame {
    return this.transport.prepare(bytes, binary);
  }

  prepareText(text: string): PreparedFrame {
    return this.transport.prepare(Buffer.from(text));
  }

  /** A client has frames queued: flush it at the end of this event-loop turn. */
  markDirty(client: Client): void {
    this.dirty.push(client);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  flush(): void {
    this.flushScheduled = false;
    const list = this.dirty;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) list[i]!.flush();
  }
}
