/**
 * Which frame a subscriber gets for a publication: its protocol's push, the Odin push with the
 * subscriber's `prev`, or (Fossil delta subscriptions) a patch against the last publication it
 * received or the whole payload; and the frames of its recovered publications. Each frame is
 * encoded and framed once and shared by every subscriber that needs the same bytes (PubFrames,
 * RecoveryFrames). The hub fans out what this chooses; this module keeps no channel state.
 */
import type { Publication, StreamPosition } from './broker.js';
import type { GatewayStats } from './stats.js';
import type { FrameEncoder, PreparedFrame } from './transport.js';
import type { RecoveryFrames } from './recovery-frames.js';
import { DeltaPatches, type Patch } from './delta.js';
import {
  encodeDeltaPush,
  encodeOdinPush,
  encodePush,
  PROTO_CENTRIFUGE,
  PROTO_CENTRIFUGE_PROTOBUF,
  PROTO_CENTRIFUGE_UNI,
  PROTO_ODIN,
  type ProtocolId,
} from '../protocol/push.js';

/** A subscriber as the frame choice sees it: its protocol, and what it was given last (the hub's Membership). */
export interface Recipient {
  readonly protocol: ProtocolId;
  /**
   * The last publication given to this subscriber in the channel (from its subscription's
   * position on): the `prev` of Odin pushes, and what a cadence group does not send again.
   */
  lastOffset: number;
  lastEpoch: string;
  /** Fossil delta negotiated (Centrifugo protocol): publications go as patches against `base`. */
  readonly delta: boolean;
  /** The last publication this subscriber received in the channel (delta subscriptions), or null. */
  base: Publication | null;
}

/**
 * One publication's frames, made on first use and shared by every member that needs the same
 * bytes: one per protocol, and for delta subscriptions the whole payload and one patch per base.
 */
export class PubFrames {
  /** The Odin frame for subscribers whose `prev` is `odinPrev` (nearly all share one). */
  odin: PreparedFrame | undefined;
  odinPrev = -1;
  /** Odin frames for other `prev` values. */
  odinByPrev: Map<number, PreparedFrame> | undefined;
  cent: PreparedFrame | undefined;
  centPb: PreparedFrame | undefined;
  /** Unidirectional Centrifugo (uni_*) push. */
  uni: PreparedFrame | undefined;
  /** JSON delta subscriptions' whole payload (as a string). */
  centFull: PreparedFrame | undefined;
  private patches: DeltaPatches | undefined;
  /** A patch's frame per protocol: JSON, protobuf. */
  private readonly patchFrames: [Map<Patch, PreparedFrame> | undefined, Map<Patch, PreparedFrame> | undefined] = [undefined, undefined];

  constructor(readonly pub: Publication) {}

  /** The patch from `base` to this publication (one per base), or null when not smaller. */
  patchFrom(base: Publication): Patch | null {
    return (this.patches ??= new DeltaPatches(this.pub)).from(base);
  }

  /** The frame of `patch` for JSON (`pb` false) or protobuf, made once by `make`. */
  patchFrame(patch: Patch, pb: boolean, make: () => PreparedFrame): PreparedFrame {
    const i = pb ? 1 : 0;
    const map = (this.patchFrames[i] ??= new Map());
    let f = map.get(patch);
    if (f === undefined) {
      f = make();
      map.set(patch, f);
    }
    return f;
  }
}

/** Encodes publications as push frames (once per protocol) and chooses each subscriber's. */
export class PushFramer {
  /** Unidirectional publication frames → their publication (publicationOf). */
  private readonly framePositions = new WeakMap<PreparedFrame, Publication>();

  constructor(
    private readonly transport: FrameEncoder,
    private readonly stats: GatewayStats,
  ) {}

  /**
   * The frame of a publication for a member, from the publication's shared frames. A delta
   * subscription gets a patch against the last publication it received when that is smaller
   * (and, for JSON, text), else the whole payload; either way the publication becomes its base.
   */
  frameFor(m: Recipient, f: PubFrames): PreparedFrame {
    const pub = f.pub;
    let prev = 0;
    if (pub.offset > 0) {
      prev = m.lastEpoch === pub.epoch ? m.lastOffset : 0;
      m.lastOffset = pub.offset;
      m.lastEpoch = pub.epoch;
    }
    if (m.protocol === PROTO_ODIN) return this.odinFrame(f, prev);
    if (m.protocol === PROTO_CENTRIFUGE_UNI) return (f.uni ??= this.prepare(PROTO_CENTRIFUGE_UNI, f.pub));
    const pb = m.protocol === PROTO_CENTRIFUGE_PROTOBUF;
    if (m.delta) {
      const base = m.base;
      m.base = pub;
      const patch = base === null ? null : f.patchFrom(base);
      if (patch !== null && (pb || patch.text)) {
        this.stats.deltaPatches++;
        return f.patchFrame(patch, pb, () => this.prepareDelta(pb, pub, patch.bytes));
      }
      this.stats.deltaFull++;
      if (!pb) return (f.centFull ??= this.prepareDelta(false, pub, null));
    }
    if (pb) return (f.centPb ??= this.prepare(PROTO_CENTRIFUGE_PROTOBUF, pub));
    return (f.cent ??= this.prepare(PROTO_CENTRIFUGE, pub));
  }

  /**
   * The encoder of a subscriber's recovered publications (`first` the first of them), called
   * in their order. Odin pushes carry `prev`, from the position the client sent (`since`, same
   * epoch) on. Where it is the offset before (a stream recovery, the usual case), the encoding
   * is the one every reader of the same history shares (`cache`, recovery-frames.ts); otherwise
   * (a filter's gaps, the cache-mode newest, a cadence name: `shared` false) it is this client's own.
   */
  recoveredEncoder(
    proto: ProtocolId,
    since: StreamPosition | null,
    first: Publication,
    shared: boolean,
    cache: RecoveryFrames,
  ): (pub: Publication) => PreparedFrame {
    let prev = since !== null && since.epoch === first.epoch ? since.offset : 0;
    return (pub: Publication): PreparedFrame => {
      if (proto !== PROTO_ODIN) return shared ? cache.get(proto, pub, (x) => this.prepare(proto, x)) : this.prepare(proto, pub);
      const own = prev;
      prev = pub.offset;
      if (shared && own === pub.offset - 1) return cache.get(proto, pub, (x) => this.prepareOdin(x, x.offset - 1));
      return this.prepareOdin(pub, own);
    };
  }

  /** The Odin push carrying `prev`: one frame per distinct `prev` (usually one per publication). */
  private odinFrame(f: PubFrames, prev: number): PreparedFrame {
    if (f.odin === undefined) {
      f.odinPrev = prev;
      return (f.odin = this.prepareOdin(f.pub, prev));
    }
    if (f.odinPrev === prev) return f.odin;
    const map = (f.odinByPrev ??= new Map());
    let frame = map.get(prev);
    if (frame === undefined) map.set(prev, (frame = this.prepareOdin(f.pub, prev)));
    return frame;
  }

  /** An Odin push with `prev` (a connection's recovered publications, pushes from the fan-out). */
  private prepareOdin(pub: Publication, prev: number): PreparedFrame {
    return this.transport.prepare(Buffer.from(encodeOdinPush(pub, prev)));
  }

  private prepareDelta(pb: boolean, pub: Publication, patch: Uint8Array | null): PreparedFrame {
    const e = encodeDeltaPush(pb ? PROTO_CENTRIFUGE_PROTOBUF : PROTO_CENTRIFUGE, pub, patch);
    return typeof e === 'string' ? this.transport.prepare(Buffer.from(e)) : this.transport.prepare(e, true);
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
}
