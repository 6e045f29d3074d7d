/**
 * The two encodings of the Centrifugo client protocol behind one interface, so the core serves
 * JSON (text frames, "\n"-separated objects) and protobuf (binary frames, varint-delimited
 * messages) clients with the same code. Replies and pushes other than publications are built
 * here; publication pushes are encoded once per publication by the hub (`publicationPush`).
 * The JSON codecs live here; the protobuf one (`PROTOBUF_CODEC`, centrifuge-protobuf.ts) is
 * loaded only when a protobuf client arrives (centrifuge-protobuf-load.ts).
 */
import {
  CENTRIFUGE_PING,
  encodeErrorReply,
  encodeHistoryReply,
  encodePublicationPush,
  encodeReply,
  encodeUniPublicationPush,
  encodeSubscribeResult,
  parseCentrifugeFrame,
  type CentrifugeFrameItem,
  type CentrifugePublicationFields,
} from './centrifuge.js';
import type { ProtocolError } from './codes.js';

/** Fields of a subscribe result (reply, server-side subscription in connect) or push. */
export interface SubscribeFields {
  readonly recoverable: boolean;
  readonly epoch: string;
  readonly offset: number;
  readonly wasRecovering: boolean;
  readonly recovered: boolean;
  readonly publications: readonly CentrifugePublicationFields[];
  /** JSON text for the `data` field, or null. */
  readonly data: string | null;
  /** Fossil delta negotiated (publications are whole; later pushes may be patches). Default false. */
  readonly delta?: boolean;
  /** Seconds until a subscription token's grant ends (`expires: true, ttl`); absent or 0: never. */
  readonly ttl?: number;
  /**
   * The JSON object of a publication (JSON codec only): lets the caller hand in encodings it
   * keeps (core's RecoveryFrames) instead of encoding each again. Default: encoded here.
   */
  readonly publicationJson?: (p: CentrifugePublicationFields) => string;
}

export interface ConnectFields {
  readonly client: string;
  readonly version: string;
  readonly ping: number;
  readonly pong: boolean;
  /** This node's id: emulated (HTTP-streaming, SSE) connections only, with `session`. */
  readonly node?: string;
  /** The emulation session id (HTTP-streaming and SSE connections only; never on a WebSocket). */
  readonly session?: string;
  readonly expires: boolean;
  readonly ttl: number;
  readonly subs: ReadonlyMap<string, SubscribeFields>;
}

export interface ClientInfoFields {
  readonly client: string;
  readonly user: string;
}

export interface CentrifugeCodec {
  /** Frames are binary WebSocket messages. */
  readonly binary: boolean;
  /** Splits a client frame into commands; `binary` is the frame's WebSocket type. */
  parse(data: Buffer, binary: boolean): CentrifugeFrameItem[] | 'wrong_frame_type';
  error(id: number, err: ProtocolError): Uint8Array;
  connect(id: number, c: ConnectFields): Uint8Array;
  /** A client-side refresh's reply: `expires` and `ttl` only, as Centrifugo's. */
  refresh(id: number, r: { expires: boolean; ttl: number }): Uint8Array;
  subscribe(id: number, s: SubscribeFields): Uint8Array;
  subRefresh(id: number, r: { expires: boolean; ttl: number }): Uint8Array;
  empty(id: number, method: 'unsubscribe' | 'publish'): Uint8Array;
  history(id: number, pubs: readonly CentrifugePublicationFields[], epoch: string, offset: number): Uint8Array;
  presence(id: number, presence: Readonly<Record<string, ClientInfoFields>>): Uint8Array;
  presenceStats(id: number, s: { num_clients: number; num_users: number }): Uint8Array;
  publicationPush(channel: string, p: CentrifugePublicationFields): Uint8Array;
  subscribePush(channel: string, s: SubscribeFields): Uint8Array;
  unsubscribePush(channel: string, code: number, reason: string): Uint8Array;
  joinPush(channel: string, info: ClientInfoFields): Uint8Array;
  leavePush(channel: string, info: ClientInfoFields): Uint8Array;
  /** `{"push":{"disconnect":…}}`: how an emulated (HTTP-streaming, SSE) connection learns its close code. */
  disconnectPush(code: number, reason: string, reconnect: boolean): Uint8Array;
  readonly ping: Uint8Array;
}

/** The JSON SubscribeResult of `s`; publications go in as raw JSON so payloads are not re-parsed. */
function jsonSubscribeResult(s: SubscribeFields): string {
  return encodeSubscribeResult({
    ...(s.recoverable ? { position: { offset: s.offset, epoch: s.epoch } } : {}),
    ...(s.wasRecovering ? { recovered: s.recovered } : {}),
    publications: s.publications,
    ...(s.data !== null ? { data: s.data } : {}),
    ...(s.delta ? { delta: true } : {}),
    ...(s.ttl !== undefined ? { ttl: s.ttl } : {}),
    ...(s.publicationJson ? { publicationJson: s.publicationJson } : {}),
  });
}

const b = (s: string): Uint8Array => Buffer.from(s);

export const JSON_CODEC: CentrifugeCodec = {
  binary: false,
  parse: (data, binary) => (binary ? 'wrong_frame_type' : parseCentrifugeFrame(data.toString('utf8'))),
  error: (id, err) => b(encodeErrorReply(id, err)),
  connect(id, c) {
    const r: Record<string, unknown> = { client: c.client, version: c.version, ping: c.ping, pong: c.pong };
    if (c.node !== undefined) r.node = c.node;
    if (c.session !== undefined) r.session = c.session;
    if (c.expires) {
      r.expires = true;
      r.ttl = c.ttl;
    }
    const text = encodeReply(id, 'connect', r);
    if (c.subs.size === 0) return b(text);
    const subs = [...c.subs].map(([ch, s]) => JSON.stringify(ch) + ':' + jsonSubscribeResult(s)).join(',');
    return b(text.slice(0, -2) + ',"subs":{' + subs + '}}}');
  },
  refresh: (id, r) => b(encodeReply(id, 'refresh', r)),
  subscribe: (id, s) => b('{"id":' + id + ',"subscribe":' + jsonSubscribeResult(s) + '}'),
  subRefresh: (id, r) => b(encodeReply(id, 'sub_refresh', r.expires ? r : {})),
  empty: (id, method) => b(encodeReply(id, method, {})),
  history: (id, pubs, epoch, offset) => b(encodeHistoryReply(id, pubs, { offset, epoch })),
  presence: (id, presence) => b(encodeReply(id, 'presence', { presence })),
  presenceStats: (id, s) => b(encodeReply(id, 'presence_stats', s)),
  publicationPush: (channel, p) => b(encodePublicationPush(channel, p)),
  subscribePush(channel, s) {
    const r = jsonSubscribeResult({ ...s, wasRecovering: false, publications: [] });
    return b('{"push":{"channel":' + JSON.stringify(channel) + ',"subscribe":' + r + '}}');
  },
  unsubscribePush: (channel, code, reason) =>
    b('{"push":{"channel":' + JSON.stringify(channel) + ',"unsubscribe":' + JSON.stringify({ code, reason }) + '}}'),
  joinPush: (channel, info) => b('{"push":{"channel":' + JSON.stringify(channel) + ',"join":{"info":' + JSON.stringify(info) + '}}}'),
  leavePush: (channel, info) => b('{"push":{"channel":' + JSON.stringify(channel) + ',"leave":{"info":' + JSON.stringify(info) + '}}}'),
  disconnectPush: (code, reason, reconnect) => b('{"push":{"disconnect":' + JSON.stringify({ code, reason, reconnect }) + '}}'),
  ping: b(CENTRIFUGE_PING),
};

const PUSH_PREFIX = Buffer.from('{"push":');

/** The Push inside `{"push":…}` (a view, no copy). */
function unwrapPush(bytes: Uint8Array): Uint8Array {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return b.subarray(0, PUSH_PREFIX.length).equals(PUSH_PREFIX) ? b.subarray(PUSH_PREFIX.length, b.length - 1) : b;
}

/**
 * Centrifugo's unidirectional transports (uni_websocket, uni_sse, uni_http_stream), JSON: the
 * server only pushes, each message a bare Push object — `{"connect":{…}}` first (the connect
 * result, with `subs`), then `{"channel":…,"pub":{…}}`, `{"channel":…,"unsubscribe":{…}}`,
 * `{"disconnect":{…}}`, and `{}` as the ping. The client sends no commands.
 */
export const UNI_JSON_CODEC: CentrifugeCodec = {
  ...JSON_CODEC,
  connect(id, c) {
    const reply = Buffer.from(JSON_CODEC.connect(id, c));
    // {"id":N,"connect":{…}} → {"connect":{…}}
    return Buffer.concat([Buffer.from('{'), reply.subarray(reply.indexOf(',"connect":') + 1)]);
  },
  publicationPush: (channel, p) => b(encodeUniPublicationPush(channel, p)),
  subscribePush: (channel, s) => unwrapPush(JSON_CODEC.subscribePush(channel, s)),
  unsubscribePush: (channel, code, reason) => unwrapPush(JSON_CODEC.unsubscribePush(channel, code, reason)),
  joinPush: (channel, info) => unwrapPush(JSON_CODEC.joinPush(channel, info)),
  leavePush: (channel, info) => unwrapPush(JSON_CODEC.leavePush(channel, info)),
  disconnectPush: (code, reason, reconnect) => unwrapPush(JSON_CODEC.disconnectPush(code, reason, reconnect)),
};
