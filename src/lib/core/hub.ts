import type { Broker, Publication, StreamPosition } from './broker.js';
import type { Clock } from './clock.js';
import type { GatewayStats } from './stats.js';
import type { Logger } from './logger.js';
import type { FrameEncoder, PreparedFrame } from './transport.js';
import type { Writer } from './writer.js';
import {
  PROTO_CENTRIFUGE,
  PROTO_CENTRIFUGE_PROTOBUF,
  PROTO_CENTRIFUGE_UNI,
  PROTO_ODIN,
  type ClientInfo,
  type ProtocolId,
} from '../protocol/push.js';
import { PubFrames, PushFramer, type Recipient } from './push-frames.js';
import { encodeOdinFresh, encodeOdinStale } from '../protocol/odin.js';
import { JSON_CODEC, UNI_JSON_CODEC } from '../protocol/centrifuge-codec.js';
import { protobufWire } from '../protocol/centrifuge-protobuf-load.js';
import { filterKey, matchTags, type FilterNode } from '../protocol/tags-filter.js';
import { CadenceGroup } from './cadence.js';

/**
 * A client's membership in a channel: everything the fan-out loop reads, in one object (so the
 * loop touches neither the client nor its class). While `buffer` is non-null the subscription is
 * being set up (history is read); live publications wait there so none is lost or duplicated.
 * What the frame choice reads and keeps (protocol, last given, delta base) is its `Recipient`
 * part (push-frames.ts).
 */
export interface Membership extends Recipient {
  buffer: Publication[] | null;
  readonly writer: Writer;
  /** Keep-latest conflation (the namespace's `conflation: latest`). */
  readonly conflate: boolean;
  /** The subscription's tags filter (shared with every subscriber of the same one), or null. */
  readonly filter: SharedFilter | null;
  /** The cadence group (set by the hub when the subscription has an interval), or null. */
  cadence: CadenceGroup<Membership> | null;
}

/**
 * A tags filter as subscribers share it: the hub keeps one per distinct filter (`filterKey`),
 * so a publication is evaluated once per filter, not once per subscriber: the verdict for the
 * last publication seen is kept here.
 */
export class SharedFilter {
  refs = 0;
  private last: Publication | null = null;
  private verdict = false;

  constructor(
    readonly key: string,
    readonly node: FilterNode,
  ) {}

  /** True when `pub` passes; evaluated once per publication. */
  passes(pub: Publication): boolean {
    if (this.last !== pub) {
      this.last = pub;
      this.verdict = matchTags(this.node, pub.tags);
    }
    return this.verdict;
  }
}

/** The node bound that refused a new channel (`ws_limit_refusals_total{limit}`). */
export type ChannelRefusal = 'channels' | 'anonymous_channels';

/** The subscribers of one subscription name. */
class ChannelEntry<M> {
  readonly members = new Map<M, Membership>();
  /** Cadence groups of this name, by interval and filter (CadenceGroup.key). */
  readonly cadences = new Map<string, CadenceGroup<Membership>>();
  constructor(
    readonly name: string,
    /** The broker channel its publications come from (`name` without a cadence suffix). */
    readonly source: string,
  ) {}
}

/** A broker channel this node receives, and the subscription names it feeds. */
interface SourceEntry {
  readonly names: Set<string>;
  readonly ready: Promise<void>;
  /** The newest position this node knows of the channel (its publications, subscriptions' reads). */
  head: StreamPosition;
  /** Staleness (the namespace's `staleAfterMs`; 0: not watched): when the last publication came, ms. */
  staleAfterMs: number;
  lastPubAt: number;
  /** No publication for `staleAfterMs`. */
  quiet: boolean;
  staleTimer: unknown;
  /** Ingests that handed this node a publication of the channel while it held it (noteFeed), or null. */
  feeds: string[] | null;
  /** How many of `feeds` are behind now (setFeedStale). The channel is stale while quiet or lagging. */
  lagging: number;
  /** When the current staleness began (the `since` of the notice), ms. */
  staleSince: number;
}

function isStale(s: SourceEntry): boolean {
  return s.quiet || s.lagging > 0;
}

/**
 * Channel → members, and the fan-out: a publication is encoded once per protocol, framed once
 * by the transport, and the same bytes are queued on every member's writer.
 */
export class Hub<M extends object = object> {
  /** By subscription name (a channel, or a channel with a cadence suffix). */
  private readonly channels = new Map<string, ChannelEntry<M>>();
  /** By broker channel. */
  private readonly sources = new Map<string, SourceEntry>();
  private readonly sendCadenceBound = (g: CadenceGroup<Membership>, pub: Publication): void => this.sendCadence(g, pub);
  /** Distinct tags filters in use, by key; each is released with its last membership. */
  private readonly filters = new Map<string, SharedFilter>();
  /** Ingests behind now (setFeedStale) → since when, ms. */
  private readonly staleFeeds = new Map<string, number>();
  /** Which frame each member gets for a publication (push-frames.ts); the clients' recovered ones too. */
  readonly framer: PushFramer;

  constructor(
    private readonly broker: Broker,
    private readonly transport: FrameEncoder,
    private readonly stats: GatewayStats,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.framer = new PushFramer(transport, stats);
  }

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

  /**
   * Watches a channel for staleness: the timer fires once per `staleAfterMs` at most and only
   * re-arms while publications come (a publication costs no timer work); past the limit
   * without one, its Odin subscribers are told `stale`, and `fresh` with the next publication.
   */
  private armStale(source: string, s: SourceEntry, after: number): void {
    s.staleTimer = this.clock.setTimeout(
      () => {
        s.staleTimer = null;
        if (this.sources.get(source) !== s) return;
        const idle = this.clock.now() - s.lastPubAt;
        if (idle < s.staleAfterMs) return this.armStale(source, s, s.staleAfterMs - idle);
        s.quiet = true;
        // Stale already (its ingest is behind): told once.
        if (s.lagging === 0) this.becameStale(s, s.lastPubAt);
      },
      after,
      { background: true },
    );
  }

  /** The channel's `stale` notice, for a subscriber that joins while it is stale; null when fresh. */
  staleNotice(source: string, name: string): string | null {
    const s = this.sources.get(source);
    return s !== undefined && isStale(s) ? encodeOdinStale(name, s.staleSince) : null;
  }

  /**
   * An ingest (`feed`, its kind) hands a publication of the broker channel `source` to the
   * publish path: while this node holds the channel, it is fed by that ingest, and is stale
   * while the ingest is behind (setFeedStale). Channels this node does not hold are not kept,
   * so what is remembered is bounded by the hub's channels; a channel forgets its feeds when
   * its last subscriber leaves. Costs one map lookup per ingested publication.
   */
  noteFeed(feed: string, source: string): void {
    const s = this.sources.get(source);
    if (s === undefined) return;
    if (s.feeds === null) s.feeds = [feed];
    else if (s.feeds.includes(feed)) return;
    else s.feeds.push(feed);
    const since = this.staleFeeds.get(feed);
    if (since !== undefined) this.feedBehind(s, since);
  }

  /**
   * An ingest fell behind its backbone (`stale`; its publications from `since` on, ms, are not
   * delivered yet) or caught up: the channels it feeds on this node (noteFeed) tell their Odin
   * subscribers `stale` / `fresh`, once per change of the channel's state (a channel that is
   * quiet as well stays stale until both end).
   */
  setFeedStale(feed: string, stale: boolean, since: number = this.clock.now()): void {
    if (stale === this.staleFeeds.has(feed)) return;
    if (stale) this.staleFeeds.set(feed, since);
    else this.staleFeeds.delete(feed);
    for (const s of this.sources.values()) {
      if (s.feeds === null || !s.feeds.includes(feed)) continue;
      if (stale) this.feedBehind(s, since);
      else if (--s.lagging === 0 && !s.quiet) this.noticeToOdin(s, (name) => encodeOdinFresh(name));
    }
  }

  private feedBehind(s: SourceEntry, since: number): void {
    if (s.lagging++ === 0 && !s.quiet) this.becameStale(s, since);
  }

  private becameStale(s: SourceEntry, since: number): void {
    s.staleSince = since;
    this.noticeToOdin(s, (name) => encodeOdinStale(name, since));
  }

  /** Queues a notice (encoded once per subscription name) on the active Odin members fed by `s`. */
  private noticeToOdin(s: SourceEntry, encode: (name: string) => string): void {
    for (const name of s.names) {
      let frame: PreparedFrame | undefined;
      for (const m of this.channels.get(name)!.members.values()) {
        if (m.buffer !== null || m.protocol !== PROTO_ODIN) continue;
        m.writer.enqueue((frame ??= this.prepareText(encode(name))));
      }
    }
  }

  /** The newest position this node knows of a channel it receives (Odin pongs carry it), if any. */
  head(source: string): StreamPosition | undefined {
    const h = this.sources.get(source)?.head;
    return h === undefined || h.epoch === '' ? undefined : h;
  }

  /** A position read from the broker (a subscription's): the channel's head moves to it if newer. */
  noteHead(source: string, position: StreamPosition): void {
    const s = this.sources.get(source);
    if (s !== undefined && position.epoch !== '') advanceHead(s, position);
  }

  /** Every member fed by a broker channel, under any subscription name. */
  membersOfSource(source: string): M[] {
    const out: M[] = [];
    for (const name of this.sources.get(source)?.names ?? []) out.push(...this.channels.get(name)!.members.keys());
    return out;
  }

  /**
   * Adds a member under a subscription name fed by the broker channel `source`, with at most
   * one publication per `intervalMs` (0: all); resolves once the broker delivers `source` here.
   */
  async add(name: string, member: M, m: Membership, source: string = name, intervalMs = 0, staleAfterMs = 0): Promise<void> {
    let e = this.channels.get(name);
    if (!e) {
      e = new ChannelEntry<M>(name, source);
      this.channels.set(name, e);
      let s = this.sources.get(source);
      if (!s) {
        s = {
          names: new Set(),
          ready: this.broker.subscribe(source),
          head: { offset: 0, epoch: '' },
          staleAfterMs,
          lastPubAt: this.clock.now(),
          quiet: false,
          staleTimer: null,
          feeds: null,
          lagging: 0,
          staleSince: 0,
        };
        this.sources.set(source, s);
        if (staleAfterMs > 0) this.armStale(source, s, staleAfterMs);
      }
      s.names.add(name);
    }
    e.members.set(member, m);
    if (intervalMs > 0) {
      const key = intervalMs + '|' + (m.filter?.key ?? '');
      let g = e.cadences.get(key);
      if (!g) {
        g = new CadenceGroup<Membership>(name, intervalMs, key, this.clock, this.sendCadenceBound);
        e.cadences.set(key, g);
      }
      g.members.add(m);
      m.cadence = g;
    }
    this.stats.subscriptions++;
    try {
      await this.sources.get(source)!.ready;
    } catch (err) {
      this.remove(name, member);
      throw err;
    }
  }

  /** The shared instance of a tags filter, for a membership about to be added. */
  shareFilter(node: FilterNode): SharedFilter {
    const key = filterKey(node);
    let f = this.filters.get(key);
    if (f === undefined) {
      f = new SharedFilter(key, node);
      this.filters.set(key, f);
    }
    f.refs++;
    return f;
  }

  /** Distinct tags filters held by subscriptions on this node. */
  get filterCount(): number {
    return this.filters.size;
  }

  private releaseFilter(f: SharedFilter): void {
    if (--f.refs === 0) this.filters.delete(f.key);
  }

  remove(name: string, member: M): void {
    const e = this.channels.get(name);
    const m = e?.members.get(member);
    if (!e || m === undefined) return;
    e.members.delete(member);
    if (m.filter !== null) this.releaseFilter(m.filter);
    const g = m.cadence;
    if (g !== null) {
      g.members.delete(m);
      if (g.members.size === 0) {
        g.close();
        e.cadences.delete(g.key);
      }
    }
    this.stats.subscriptions--;
    if (e.members.size > 0) return;
    this.channels.delete(name);
    const s = this.sources.get(e.source);
    s?.names.delete(name);
    if (s === undefined || s.names.size > 0) return;
    const channel = e.source;
    this.sources.delete(channel);
    if (s.staleTimer !== null) this.clock.clearTimeout(s.staleTimer);
    this.broker.unsubscribe(channel).catch((err: unknown) => this.log.warn({ err, channel }, 'broker unsubscribe failed'));
  }

  /** Broker delivery: fan out to every member of every subscription name the channel feeds on this node. */
  onPublication(pub: Publication): void {
    const s = this.sources.get(pub.channel);
    if (!s) return;
    if (pub.offset > 0) advanceHead(s, pub);
    if (s.staleAfterMs > 0) {
      s.lastPubAt = this.clock.now();
      if (s.quiet) {
        // Fresh again (unless its ingest is behind): told before the publication that proves it.
        s.quiet = false;
        if (s.lagging === 0) this.noticeToOdin(s, (name) => encodeOdinFresh(name));
        this.armStale(pub.channel, s, s.staleAfterMs);
      }
    }
    for (const name of s.names) this.fanOut(this.channels.get(name)!, pub);
    const cb = this.stats.onBroadcastLatency;
    if (cb !== null) cb(Math.max(0, this.clock.now() - pub.time) / 1000);
  }

  private fanOut(e: ChannelEntry<M>, pub: Publication): void {
    // Under a cadence name (`BTC.price@1s`) pushes carry that name, so the client's subscription gets them.
    const named = e.name === pub.channel ? pub : { ...pub, channel: e.name };
    const frames = new PubFrames(named);
    const framer = this.framer;
    for (const m of e.members.values()) {
      if (m.buffer !== null) {
        m.buffer.push(pub);
        continue;
      }
      if (m.filter !== null && !m.filter.passes(pub)) continue;
      if (m.cadence !== null) {
        m.cadence.offer(named);
        continue;
      }
      const frame = framer.frameFor(m, frames);
      if (m.conflate) m.writer.enqueueLatest(frame, e.name);
      else m.writer.enqueue(frame);
    }
  }

  /** A cadence group's publication: encoded once per protocol, to members not given it already. */
  private sendCadence(g: CadenceGroup<Membership>, pub: Publication): void {
    const frames = new PubFrames(pub);
    for (const m of g.members) {
      if (m.buffer !== null) continue;
      // Given already (recovered, or released at activation).
      if (pub.offset > 0 && m.lastEpoch === pub.epoch && m.lastOffset >= pub.offset) continue;
      m.writer.enqueue(this.framer.frameFor(m, frames));
    }
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

/** Moves a channel's head to `p` when it is newer (or of another epoch: the stream started over). */
function advanceHead(s: SourceEntry, p: StreamPosition): void {
  if (p.epoch !== s.head.epoch || p.offset > s.head.offset) s.head = { offset: p.offset, epoch: p.epoch };
}

/** Queues a join (or leave) push for the channel's Centrifugo-protocol members on this node. */
export function pushJoinLeave(hub: Hub, channel: string, info: ClientInfo, join: boolean): void {
  hub.pushToCentrifugeMembers(channel, (proto) => {
    const codec =
      proto === PROTO_CENTRIFUGE_PROTOBUF ? protobufWire().PROTOBUF_CODEC : proto === PROTO_CENTRIFUGE_UNI ? UNI_JSON_CODEC : JSON_CODEC;
    return join ? codec.joinPush(channel, info) : codec.leavePush(channel, info);
  });
}
