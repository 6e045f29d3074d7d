import type { Broker, Publication } from './broker.js';
import type { Clock } from './clock.js';
import type { GatewayStats } from './stats.js';
import type { Logger } from './logger.js';
import type { FrameEncoder, PreparedFrame } from './transport.js';
import type { Writer } from './writer.js';
import {
  encodePush,
  PROTO_CENTRIFUGE,
  PROTO_CENTRIFUGE_PROTOBUF,
  PROTO_CENTRIFUGE_UNI,
  PROTO_ODIN,
  type ClientInfo,
  type ProtocolId,
} from '../protocol/push.js';
import { JSON_CODEC, PROTOBUF_CODEC, UNI_JSON_CODEC } from '../protocol/centrifuge-codec.js';

/**
 * A client's membership in a channel: everything the fan-out loop reads, in one object (so the
 * loop touches neither the client nor its class). While `buffer` is non-null the subscription is
 * being set up (history is read); live publications wait there so none is lost or duplicated.
 */
export interface Membership {
  buffer: Publication[] | null;
  readonly protocol: ProtocolId;
  readonly writer: Writer;
  /** Keep-latest conflation (the namespace's `conflation: latest`). */
  readonly conflate: boolean;
}

/** The node bound that refused a new channel (`ws_limit_refusals_total{limit}`). */
export type ChannelRefusal = 'channels' | 'anonymous_channels';

class ChannelEntry<M> {
  readonly members = new Map<M, Membership>();
  ready: Promise<void> = Promise.resolve();
}

/**
 * Channel → members, and the fan-out: a publication is encoded once per protocol, framed once
 * by the transport, and the same bytes are queued on every member's writer.
 */
export class Hub<M extends object = object> {
  private readonly channels = new Map<string, ChannelEntry<M>>();
  /** Unidirectional publication frames → their publication (publicationOf). */
  private readonly framePositions = new WeakMap<PreparedFrame, Publication>();

  constructor(
    private readonly broker: Broker,
    private readonly transport: FrameEncoder,
    private readonly stats: GatewayStats,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  get channelCount(): number {
    return this.channels.size;
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /**
   * Which node bound refuses opening `channel` on this node (limits.maxChannels, and the share
   * of it anonymous connections may open); null when it is open already or there is room.
   */
  newChannelRefusal(channel: string, anonymous: boolean, maxChannels: number, anonymousShare: number): ChannelRefusal | null {
    if (this.channels.has(channel)) return null;
    if (this.channels.size >= maxChannels) return 'channels';
    if (anonymous && this.channels.size >= Math.floor(maxChannels * anonymousShare)) return 'anonymous_channels';
    return null;
  }

  members(channel: string): ReadonlyMap<M, Membership> | undefined {
    return this.channels.get(channel)?.members;
  }

  /** Adds a member; resolves once the broker delivers the channel to this node. */
  async add(channel: string, member: M, m: Membership): Promise<void> {
    let e = this.channels.get(channel);
    if (!e) {
      e = new ChannelEntry<M>();
      this.channels.set(channel, e);
      e.ready = this.broker.subscribe(channel);
    }
    e.members.set(member, m);
    this.stats.subscriptions++;
    try {
      await e.ready;
    } catch (err) {
      this.remove(channel, member);
      throw err;
    }
  }

  remove(channel: string, member: M): void {
    const e = this.channels.get(channel);
    if (!e || !e.members.delete(member)) return;
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
    let uni: PreparedFrame | undefined;
    for (const m of e.members.values()) {
      if (m.buffer !== null) {
        m.buffer.push(pub);
        continue;
      }
      let frame: PreparedFrame;
      if (m.protocol === PROTO_ODIN) frame = odin ??= this.prepare(PROTO_ODIN, pub);
      else if (m.protocol === PROTO_CENTRIFUGE) frame = cent ??= this.prepare(PROTO_CENTRIFUGE, pub);
      else if (m.protocol === PROTO_CENTRIFUGE_PROTOBUF) frame = centPb ??= this.prepare(PROTO_CENTRIFUGE_PROTOBUF, pub);
      else frame = uni ??= this.prepare(PROTO_CENTRIFUGE_UNI, pub);
      if (m.conflate) m.writer.enqueueLatest(frame, pub.channel);
      else m.writer.enqueue(frame);
    }
    const cb = this.stats.onBroadcastLatency;
    if (cb !== null) cb(Math.max(0, this.clock.now() - pub.time) / 1000);
  }

  prepare(proto: ProtocolId, pub: Publication): PreparedFrame {
    const e = encodePush(proto, pub);
    const frame = typeof e === 'string' ? this.transport.prepare(Buffer.from(e)) : this.transport.prepare(e, true);
    if (proto === PROTO_CENTRIFUGE_UNI && pub.offset > 0) this.framePositions.set(frame, pub);
    return frame;
  }

  /**
   * The publication a unidirectional frame carries (its channel, offset and epoch), for the
   * uni_sse stream's event ids (`Last-Event-ID`); undefined for any other frame. Kept weakly:
   * gone with the frame.
   */
  publicationOf(frame: PreparedFrame): Publication | undefined {
    return this.framePositions.get(frame);
  }

  /** Frames an encoded message: binary for protobuf connections, text otherwise. */
  prepareBytes(bytes: Uint8Array, binary: boolean): PreparedFrame {
    return this.transport.prepare(bytes, binary);
  }

  /**
   * Queues a push built per protocol (join, leave) for the channel's active members of the
   * Centrifugo protocol; `encode` is called once per protocol. Odin has no such pushes.
   */
  pushToCentrifugeMembers(channel: string, encode: (proto: ProtocolId) => Uint8Array): void {
    const e = this.channels.get(channel);
    if (!e) return;
    let json: PreparedFrame | undefined;
    let pb: PreparedFrame | undefined;
    let uni: PreparedFrame | undefined;
    for (const m of e.members.values()) {
      if (m.buffer !== null || m.protocol === PROTO_ODIN) continue;
      if (m.protocol === PROTO_CENTRIFUGE) m.writer.enqueue((json ??= this.transport.prepare(encode(PROTO_CENTRIFUGE))));
      else if (m.protocol === PROTO_CENTRIFUGE_UNI) m.writer.enqueue((uni ??= this.transport.prepare(encode(PROTO_CENTRIFUGE_UNI))));
      else m.writer.enqueue((pb ??= this.transport.prepare(encode(PROTO_CENTRIFUGE_PROTOBUF), true)));
    }
  }

  prepareText(text: string): PreparedFrame {
    return this.transport.prepare(Buffer.from(text));
  }
}

/** Queues a join (or leave) push for the channel's Centrifugo-protocol members on this node. */
export function pushJoinLeave(hub: Hub, channel: string, info: ClientInfo, join: boolean): void {
  hub.pushToCentrifugeMembers(channel, (proto) => {
    const codec = proto === PROTO_CENTRIFUGE_PROTOBUF ? PROTOBUF_CODEC : proto === PROTO_CENTRIFUGE_UNI ? UNI_JSON_CODEC : JSON_CODEC;
    return join ? codec.joinPush(channel, info) : codec.leavePush(channel, info);
  });
}
