/**
 * The Centrifugo client protocol, protobuf flavour (WebSocket subprotocol `centrifuge-protobuf`):
 * a binary frame holds one or more varint-length-delimited `Command` messages (client) or `Reply`
 * messages (server) of centrifugal/protocol's client.proto. Messages are built and read with the
 * code generated from that schema (./gen/client_pb.ts, @bufbuild/protobuf); nothing here encodes
 * a field by hand.
 *
 * Commands come out in the same shape as the JSON flavour's (method + snake_case params), so the
 * core serves both with one client class. Payloads (`data` bytes) must hold JSON text: odin-ws
 * channels carry JSON, and a publication is stored once for every protocol.
 */
import { create, fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { BinaryReader, sizeDelimitedEncode } from '@bufbuild/protobuf/wire';
import {
  CommandSchema,
  EmulationRequestSchema,
  ReplySchema,
  type Command,
  type PublicationSchema,
  type SubscribeRequest,
  type SubscribeResultSchema,
} from './gen/client_pb.js';
import type { ProtocolError } from './codes.js';
import { checkJsonText, RawJson, utf8Text } from './json-text.js';
import type { CentrifugeCommand, CentrifugeFrameItem, CentrifugeMethod, CentrifugePublicationFields } from './centrifuge.js';
import type { CentrifugeCodec, ConnectFields, SubscribeFields } from './centrifuge-codec.js';

/** The WebSocket subprotocol a protobuf client asks for. */
export const CENTRIFUGE_PROTOBUF_SUBPROTOCOL = 'centrifuge-protobuf';

const encoder = new TextEncoder();

/**
 * Bytes of JSON text, validated and kept as that text (so as those bytes); undefined when they
 * are not UTF-8 JSON (the caller refuses the command). Depth is measured, the caller limits it.
 */
function jsonOf(b: Uint8Array): RawJson | undefined {
  if (b.length === 0) return undefined;
  const text = utf8Text(b);
  if (text === null) return undefined;
  try {
    return new RawJson(text, checkJsonText(text, Number.MAX_SAFE_INTEGER));
  } catch {
    return undefined;
  }
}

function subscribeParams(s: SubscribeRequest): Record<string, unknown> {
  const p: Record<string, unknown> = { channel: s.channel };
  if (s.token) p.token = s.token;
  if (s.recover) {
    p.recover = true;
    p.offset = Number(s.offset);
    p.epoch = s.epoch;
  }
  if (s.data.length > 0) p.data = jsonOf(s.data);
  if (s.positioned) p.positioned = true;
  if (s.recoverable) p.recoverable = true;
  if (s.joinLeave) p.join_leave = true;
  if (s.delta) p.delta = s.delta;
  if (s.tf) p.tf = s.tf;
  if (s.flag !== 0n) p.flag = Number(s.flag);
  return p;
}

/** The one request a command carries, as the JSON flavour's method name and params. */
function commandOf(c: Command): CentrifugeCommand | null {
  const id = c.id;
  if (c.connect) {
    const subs: Record<string, unknown> = {};
    for (const [ch, s] of Object.entries(c.connect.subs)) subs[ch] = subscribeParams(s);
    const params: Record<string, unknown> = { subs };
    if (c.connect.token) params.token = c.connect.token;
    if (c.connect.data.length > 0) params.data = jsonOf(c.connect.data);
    if (c.connect.name) params.name = c.connect.name;
    if (c.connect.version) params.version = c.connect.version;
    return { id, method: 'connect', params };
  }
  if (c.subscribe) return { id, method: 'subscribe', params: subscribeParams(c.subscribe) };
  if (c.unsubscribe) return { id, method: 'unsubscribe', params: { channel: c.unsubscribe.channel } };
  if (c.publish) {
    const params: Record<string, unknown> = { channel: c.publish.channel };
    // Not JSON: no `data`, so the client refuses the command with 107.
    const data = jsonOf(c.publish.data);
    if (data !== undefined) params.data = data;
    return { id, method: 'publish', params };
  }
  if (c.presence) return { id, method: 'presence', params: { channel: c.presence.channel } };
  if (c.presenceStats) return { id, method: 'presence_stats', params: { channel: c.presenceStats.channel } };
  if (c.history) {
    const h = c.history;
    const params: Record<string, unknown> = { channel: h.channel, limit: h.limit, reverse: h.reverse };
    if (h.since) params.since = { offset: Number(h.since.offset), epoch: h.since.epoch };
    return { id, method: 'history', params };
  }
  if (c.refresh) return { id, method: 'refresh', params: { token: c.refresh.token } };
  if (c.subRefresh) return { id, method: 'sub_refresh', params: { channel: c.subRefresh.channel, token: c.subRefresh.token } };
  if (c.rpc) return { id, method: 'rpc', params: { method: c.rpc.method } };
  if (c.send) return { id, method: 'send', params: {} };
  return null;
}

/**
 * Splits a binary frame into commands. An empty Command (no id, no request) is the client's
 * pong; a malformed message makes a 'bad' item and ends the frame (the caller disconnects 3501).
 */
export function parseProtobufFrame(frame: Uint8Array): CentrifugeFrameItem[] {
  const items: CentrifugeFrameItem[] = [];
  const reader = new BinaryReader(frame);
  while (reader.pos < reader.len) {
    let cmd: Command;
    try {
      cmd = fromBinary(CommandSchema, reader.bytes());
    } catch {
      items.push({ kind: 'bad', message: 'malformed protobuf Command' });
      return items;
    }
    if (cmd.ping) {
      items.push({ kind: 'pong' });
      continue;
    }
    const c = commandOf(cmd);
    if (c === null) {
      if (cmd.id === 0) items.push({ kind: 'pong' });
      else items.push({ kind: 'unknown', id: cmd.id });
      continue;
    }
    items.push({ kind: 'command', command: c });
  }
  return items;
}

type ReplyInit = MessageInitShape<typeof ReplySchema>;
type PublicationInit = MessageInitShape<typeof PublicationSchema>;
type SubscribeResultInit = MessageInitShape<typeof SubscribeResultSchema>;

function reply(init: ReplyInit): Uint8Array {
  return sizeDelimitedEncode(ReplySchema, create(ReplySchema, init));
}

/** A publication's payload travels as the bytes of its JSON text. */
export function publicationInit(p: CentrifugePublicationFields): PublicationInit {
  const init: PublicationInit = { data: encoder.encode(p.data), offset: BigInt(p.offset) };
  if (p.offset === 1 && p.epoch) init.epoch = p.epoch;
  if (p.info) init.info = { client: p.info.client, user: p.info.user };
  if (p.tags) init.tags = { ...p.tags };
  return init;
}

/** A delta subscription's publication push: `patch` holds a Fossil patch against the previous payload. */
export function pbDeltaPublicationPush(channel: string, p: CentrifugePublicationFields, patch: Uint8Array): Uint8Array {
  return reply({ push: { channel, pub: { ...publicationInit(p), data: patch, delta: true } } });
}

function subscribeResultInit(s: SubscribeFields): SubscribeResultInit {
  const init: SubscribeResultInit = {};
  if (s.ttl !== undefined && s.ttl > 0) {
    init.expires = true;
    init.ttl = s.ttl;
  }
  if (s.recoverable) {
    init.recoverable = true;
    init.positioned = true;
    init.epoch = s.epoch;
    init.offset = BigInt(s.offset);
  }
  if (s.wasRecovering) {
    init.wasRecovering = true;
    init.recovered = s.recovered;
  }
  if (s.publications.length > 0) init.publications = s.publications.map(publicationInit);
  if (s.data !== null) init.data = encoder.encode(s.data);
  if (s.delta) init.delta = true;
  return init;
}

export function pbErrorReply(id: number, err: ProtocolError): Uint8Array {
  return reply({ id, error: { code: err.code, message: err.message, temporary: err.temporary === true } });
}

export function pbConnectReply(id: number, c: ConnectFields): Uint8Array {
  const subs: Record<string, SubscribeResultInit> = {};
  for (const [ch, s] of c.subs) subs[ch] = subscribeResultInit(s);
  return reply({
    id,
    connect: {
      client: c.client,
      version: c.version,
      ping: c.ping,
      pong: c.pong,
      ...(c.node !== undefined ? { node: c.node } : {}),
      ...(c.session !== undefined ? { session: c.session } : {}),
      expires: c.expires,
      ttl: c.ttl,
      subs,
    },
  });
}

export function pbRefreshReply(id: number, r: { expires: boolean; ttl: number }): Uint8Array {
  return reply({ id, refresh: r });
}

/** The `sub_refresh` reply: whether the subscription expires, and in how many seconds. */
export function pbSubRefreshReply(id: number, r: { expires: boolean; ttl: number }): Uint8Array {
  return reply({ id, subRefresh: r });
}

export function pbSubscribeReply(id: number, s: SubscribeFields): Uint8Array {
  return reply({ id, subscribe: subscribeResultInit(s) });
}

/** Replies with an empty result (unsubscribe, publish). */
export function pbEmptyReply(id: number, method: Extract<CentrifugeMethod, 'unsubscribe' | 'publish'>): Uint8Array {
  return reply(method === 'unsubscribe' ? { id, unsubscribe: {} } : { id, publish: {} });
}

export function pbHistoryReply(id: number, pubs: readonly CentrifugePublicationFields[], epoch: string, offset: number): Uint8Array {
  return reply({ id, history: { publications: pubs.map(publicationInit), epoch, offset: BigInt(offset) } });
}

export function pbPresenceReply(id: number, presence: Readonly<Record<string, { client: string; user: string }>>): Uint8Array {
  const p: Record<string, { client: string; user: string }> = {};
  for (const [k, v] of Object.entries(presence)) p[k] = { client: v.client, user: v.user };
  return reply({ id, presence: { presence: p } });
}

export function pbPresenceStatsReply(id: number, s: { num_clients: number; num_users: number }): Uint8Array {
  return reply({ id, presenceStats: { numClients: s.num_clients, numUsers: s.num_users } });
}

/** A publication push; made once per publication and fanned out as bytes. */
export function pbPublicationPush(channel: string, p: CentrifugePublicationFields): Uint8Array {
  return reply({ push: { channel, pub: publicationInit(p) } });
}

export function pbSubscribePush(channel: string, s: SubscribeFields): Uint8Array {
  const r = subscribeResultInit(s);
  return reply({
    push: {
      channel,
      subscribe: {
        recoverable: r.recoverable ?? false,
        epoch: r.epoch ?? '',
        offset: r.offset ?? 0n,
        positioned: r.positioned ?? false,
        data: r.data ?? new Uint8Array(),
      },
    },
  });
}

export function pbUnsubscribePush(channel: string, code: number, reason: string): Uint8Array {
  return reply({ push: { channel, unsubscribe: { code, reason } } });
}

export function pbJoinPush(channel: string, info: { client: string; user: string }): Uint8Array {
  return reply({ push: { channel, join: { info } } });
}

export function pbLeavePush(channel: string, info: { client: string; user: string }): Uint8Array {
  return reply({ push: { channel, leave: { info } } });
}

/** The disconnect push an emulated connection ends with (its stream has no close code). */
export function pbDisconnectPush(code: number, reason: string, reconnect: boolean): Uint8Array {
  return reply({ push: { disconnect: { code, reason, reconnect } } });
}

/** The server's ping: an empty Reply. */
export const PB_PING: Uint8Array = reply({});

/** The protobuf flavour behind the codec interface (centrifuge-codec.ts has the JSON ones). */
export const PROTOBUF_CODEC: CentrifugeCodec = {
  binary: true,
  parse: (data, binary) => (binary ? parseProtobufFrame(data) : 'wrong_frame_type'),
  error: pbErrorReply,
  connect: pbConnectReply,
  refresh: pbRefreshReply,
  subscribe: pbSubscribeReply,
  subRefresh: pbSubRefreshReply,
  empty: pbEmptyReply,
  history: pbHistoryReply,
  presence: pbPresenceReply,
  presenceStats: pbPresenceStatsReply,
  publicationPush: pbPublicationPush,
  subscribePush: pbSubscribePush,
  unsubscribePush: pbUnsubscribePush,
  joinPush: pbJoinPush,
  leavePush: pbLeavePush,
  disconnectPush: pbDisconnectPush,
  ping: PB_PING,
};

/** client.proto's `EmulationRequest` (`POST /emulation` with `application/octet-stream`); null when malformed. */
export function pbEmulationRequest(body: Uint8Array): { session: string; node: string; data: Buffer } | null {
  try {
    const r = fromBinary(EmulationRequestSchema, body);
    return { session: r.session, node: r.node, data: Buffer.from(r.data) };
  } catch {
    return null;
  }
}
