/**
 * Publication pushes of both protocols, from one shape. The hub encodes each publication once
 * per protocol with `encodePush` and fans out the same bytes to every member. Protobuf pushes
 * exist only once a protobuf client was accepted, so the protobuf wire is loaded by then
 * (centrifuge-protobuf-load.ts).
 */
import { encodeDeltaPublicationPush, encodePublicationPush, encodeUniPublicationPush } from './centrifuge.js';
import { protobufWire } from './centrifuge-protobuf-load.js';
import { encodeOdinPublication, type OdinPublicationFields } from './odin.js';
import { topLevelString } from './json-text.js';

/** Protocol ids (numbers: they index the per-publication frame cache on the hot path). */
export const PROTO_ODIN = 0;
export const PROTO_CENTRIFUGE = 1;
/** Centrifugo's protocol in protobuf (binary frames). */
export const PROTO_CENTRIFUGE_PROTOBUF = 2;
/** Centrifugo's unidirectional transports (uni_websocket, uni_sse, uni_http_stream), JSON: bare Push objects. */
export const PROTO_CENTRIFUGE_UNI = 3;
export type ProtocolId = typeof PROTO_ODIN | typeof PROTO_CENTRIFUGE | typeof PROTO_CENTRIFUGE_PROTOBUF | typeof PROTO_CENTRIFUGE_UNI;

/** Information about the publisher, when a client (not the server API) published. */
export interface ClientInfo {
  readonly client: string;
  readonly user: string;
}

/** A publication as the wire carries it; core's `Publication` is this type (one home). */
export interface WirePublication {
  readonly channel: string;
  readonly offset: number;
  readonly epoch: string;
  /** The payload as JSON text, exactly as published. Never re-serialized on the way out. */
  readonly data: string;
  /** Server time of acceptance, ms since the Unix epoch. */
  readonly time: number;
  /**
   * Short string metadata, present only when the publisher sent tags (or a namespace derives a
   * `type` tag, `typeTag`); `type` is used as the Odin envelope type when present.
   */
  readonly tags?: Readonly<Record<string, string>>;
  readonly info?: ClientInfo;
}

/**
 * The Odin envelope type: the publication's `type` tag, else the data's own top-level `type`
 * string (read from the text, nothing re-serialized), else the event part of the channel.
 */
export function odinEventType(pub: WirePublication): string {
  const t = pub.tags?.type ?? topLevelString(pub.data, 'type');
  if (t) return t;
  const ch = pub.channel;
  const dot = ch.indexOf('.');
  if (dot < 0) return ch;
  const next = ch.indexOf('.', dot + 1);
  return next < 0 ? ch.slice(dot + 1) : ch.slice(dot + 1, next);
}

/** The push of `pub` in protocol `proto`: text, or bytes for the binary (protobuf) protocol. */
export function encodePush(proto: ProtocolId, pub: WirePublication): string | Uint8Array {
  if (proto === PROTO_CENTRIFUGE_PROTOBUF) return protobufWire().pbPublicationPush(pub.channel, pub);
  if (proto === PROTO_ODIN) return encodeOdinPublication(odinPublicationFields(pub));
  if (proto === PROTO_CENTRIFUGE_UNI) return encodeUniPublicationPush(pub.channel, pub);
  return encodePublicationPush(pub.channel, pub);
}

/** The Odin push of `pub` to a connection that was last sent offset `prev` in the channel. */
export function encodeOdinPush(pub: WirePublication, prev: number): string {
  return encodeOdinPublication({ ...odinPublicationFields(pub), prev });
}

/** The Odin push envelope's fields of `pub` (pushes and `history` replies). */
export function odinPublicationFields(pub: WirePublication): OdinPublicationFields {
  return { type: odinEventType(pub), channel: pub.channel, offset: pub.offset, epoch: pub.epoch, ts: pub.time, data: pub.data };
}

/**
 * The push of `pub` to a Centrifugo-protocol subscription that negotiated Fossil delta: with
 * `patch`, the patch against the previous payload the connection received; without, the whole
 * payload (protobuf: as usual; JSON: the JSON text as a string, as the SDKs expect once delta is
 * negotiated). A JSON patch must be UTF-8 text (the caller sends the whole payload otherwise).
 */
export function encodeDeltaPush(
  proto: typeof PROTO_CENTRIFUGE | typeof PROTO_CENTRIFUGE_PROTOBUF,
  pub: WirePublication,
  patch: Uint8Array | null,
): string | Uint8Array {
  if (proto === PROTO_CENTRIFUGE_PROTOBUF) {
    const pb = protobufWire();
    return patch === null ? pb.pbPublicationPush(pub.channel, pub) : pb.pbDeltaPublicationPush(pub.channel, pub, patch);
  }
  return patch === null
    ? encodeDeltaPublicationPush(pub.channel, pub, pub.data, false)
    : encodeDeltaPublicationPush(pub.channel, pub, Buffer.from(patch).toString('utf8'), true);
}
