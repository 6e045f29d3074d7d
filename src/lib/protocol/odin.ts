/**
 * The Odin client protocol (JSON text frames, one message per frame), compatible with the
 * existing Odin clients, plus recovery across reconnects. Shapes: docs/protocol.md.
 */
import { ErrorCode, isProtocolError, type ProtocolError } from './codes.js';
import { parseStreamPosition, type StreamPosition } from './position.js';
import { parseTagsFilter, type FilterNode } from './tags-filter.js';

/** The Odin `history` command's parameters (Centrifugo's history semantics). */
export interface OdinHistoryParams {
  readonly channel: string;
  /** -1: all kept; 0 (default): none, only the stream position. */
  readonly limit: number;
  /** Publications after this position; absent: from the oldest kept. */
  readonly since: StreamPosition | undefined;
  /** Newest first. */
  readonly reverse: boolean;
}

export type OdinCommand =
  | {
      type: 'subscribe';
      channels: string[];
      positions: Record<string, StreamPosition>;
      /** Each channel's newest publication after the ack where no position recovers (`"snapshot": true`). */
      snapshot: boolean;
      /** Only publications whose tags pass this filter (`"filter"`, Centrifugo's tags filter tree). */
      filter: FilterNode | null;
      /** Subscription tokens by channel (`"tokens"`). */
      tokens: Record<string, string>;
    }
  | { type: 'history'; params: OdinHistoryParams }
  | { type: 'unsubscribe'; channels: string[] }
  | { type: 'heartbeat' }
  /** Opt-in: the client asks for the `connected` message (its id, user, limits). */
  | { type: 'hello' };

export type OdinParseResult = { ok: true; command: OdinCommand } | { ok: false; code: ErrorCode; message: string; type?: string };

function channelList(data: Record<string, unknown>): string[] | null {
  const ch = data.channels;
  if (!Array.isArray(ch) || ch.length === 0) return null;
  for (const c of ch) if (typeof c !== 'string' || c.length === 0) return null;
  return ch as string[];
}

/** Parses one client frame. Never throws. */
export function parseOdinCommand(text: string): OdinParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, code: ErrorCode.BadRequest, message: 'invalid JSON' };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, code: ErrorCode.BadRequest, message: 'a command is a JSON object' };
  }
  const m = msg as Record<string, unknown>;
  const type = m.type;
  if (typeof type !== 'string') return { ok: false, code: ErrorCode.BadRequest, message: 'missing "type"' };
  if (type === 'heartbeat' || type === 'ping') return { ok: true, command: { type: 'heartbeat' } };
  if (type === 'hello') return { ok: true, command: { type: 'hello' } };
  if (type === 'history') return parseHistory(m.data);
  if (type !== 'subscribe' && type !== 'unsubscribe') {
    return { ok: false, code: ErrorCode.MethodNotFound, message: `unknown type "${type.slice(0, 64)}"`, type };
  }
  const data = m.data;
  if (typeof data !== 'object' || data === null) return { ok: false, code: ErrorCode.BadRequest, message: 'missing "data"', type };
  const d = data as Record<string, unknown>;
  const channels = channelList(d);
  if (!channels) return { ok: false, code: ErrorCode.BadRequest, message: '"data.channels" must be a non-empty array of strings', type };
  if (type === 'unsubscribe') return { ok: true, command: { type, channels } };
  // No prototype: a channel named "__proto__" is a key like any other.
  const positions: Record<string, StreamPosition> = Object.create(null) as Record<string, StreamPosition>;
  if (d.positions !== undefined) {
    if (typeof d.positions !== 'object' || d.positions === null || Array.isArray(d.positions)) {
      return { ok: false, code: ErrorCode.BadRequest, message: '"data.positions" must be an object of {offset, epoch}', type };
    }
    for (const [ch, pos] of Object.entries(d.positions as Record<string, unknown>)) {
      const p = parseStreamPosition(pos, `data.positions.${ch.slice(0, 64)}`);
      if (isProtocolError(p)) return { ok: false, code: p.code, message: p.message, type };
      positions[ch] = p;
    }
  }
  if (d.snapshot !== undefined && typeof d.snapshot !== 'boolean') {
    return { ok: false, code: ErrorCode.BadRequest, message: '"data.snapshot" must be true or false', type };
  }
  let filter: FilterNode | null = null;
  if (d.filter !== undefined && d.filter !== null) {
    const f = parseTagsFilter(d.filter, 'data.filter');
    if (isProtocolError(f)) return { ok: false, code: f.code, message: f.message, type };
    filter = f;
  }
  // Subscription tokens by channel (docs/protocol.md, "Subscription tokens").
  const tokens: Record<string, string> = Object.create(null) as Record<string, string>;
  if (d.tokens !== undefined) {
    if (typeof d.tokens !== 'object' || d.tokens === null || Array.isArray(d.tokens)) {
      return { ok: false, code: ErrorCode.BadRequest, message: '"data.tokens" must be an object of channel → token', type };
    }
    for (const [ch, t] of Object.entries(d.tokens as Record<string, unknown>)) {
      if (typeof t !== 'string')
        return { ok: false, code: ErrorCode.BadRequest, message: `"data.tokens.${ch.slice(0, 64)}" must be a string`, type };
      if (t !== '') tokens[ch] = t;
    }
  }
  return { ok: true, command: { type, channels, positions, snapshot: d.snapshot === true, filter, tokens } };
}

/** `{"type":"history","data":{"channel","limit"?,"since"?,"reverse"?}}`. */
function parseHistory(data: unknown): OdinParseResult {
  const type = 'history';
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: ErrorCode.BadRequest, message: 'missing "data"', type };
  }
  const d = data as Record<string, unknown>;
  if (typeof d.channel !== 'string' || d.channel === '') {
    return { ok: false, code: ErrorCode.BadRequest, message: '"data.channel" must be a non-empty string', type };
  }
  const limit = d.limit === undefined ? 0 : d.limit;
  if (!Number.isSafeInteger(limit) || (limit as number) < -1) {
    return { ok: false, code: ErrorCode.BadRequest, message: '"data.limit" must be an integer ≥ -1 (-1: all kept)', type };
  }
  if (d.reverse !== undefined && typeof d.reverse !== 'boolean') {
    return { ok: false, code: ErrorCode.BadRequest, message: '"data.reverse" must be true or false', type };
  }
  let since: StreamPosition | undefined;
  if (d.since !== undefined) {
    const p = parseStreamPosition(d.since, 'data.since');
    if (isProtocolError(p)) return { ok: false, code: p.code, message: p.message, type };
    since = p;
  }
  return { ok: true, command: { type, params: { channel: d.channel, limit: limit as number, since, reverse: d.reverse === true } } };
}

export interface OdinPublicationFields {
  type: string;
  channel: string;
  offset: number;
  epoch: string;
  ts: number;
  /** JSON text of the payload. */
  data: string;
  /**
   * The offset of the publication this connection was last sent in the channel (or the ack's
   * offset): equal to the client's last one, a gap is conflation or filtering; unequal, a loss.
   */
  prev?: number;
}

/** The push envelope, built by concatenation so the payload is never re-serialized. */
export function encodeOdinPublication(p: OdinPublicationFields): string {
  return (
    '{"type":' +
    JSON.stringify(p.type) +
    ',"channel":' +
    JSON.stringify(p.channel) +
    // A publication outside the stream (server API `skip_history`) has no position to keep.
    (p.offset > 0 ? ',"offset":' + p.offset + ',"epoch":' + JSON.stringify(p.epoch) : '') +
    (p.prev !== undefined && p.offset > 0 ? ',"prev":' + p.prev : '') +
    ',"ts":' +
    p.ts +
    ',"data":' +
    p.data +
    '}'
  );
}

/**
 * The answer to `history`: the channel's stream position and its publications, each in the
 * push envelope (`encodeOdinPublication`), so one parser reads both.
 */
export function encodeOdinHistory(channel: string, position: StreamPosition, publications: readonly OdinPublicationFields[]): string {
  let pubs = '';
  for (let i = 0; i < publications.length; i++) pubs += (i > 0 ? ',' : '') + encodeOdinPublication(publications[i]!);
  return (
    '{"type":"history","channel":' +
    JSON.stringify(channel) +
    ',"offset":' +
    position.offset +
    ',"epoch":' +
    JSON.stringify(position.epoch) +
    ',"publications":[' +
    pubs +
    ']}'
  );
}

export interface OdinSubscribeResult {
  channel: string;
  offset: number;
  epoch: string;
  recoverable: boolean;
  /** Present only when the client sent a position for the channel. */
  recovered?: boolean;
  /** Publications delivered after this ack as recovery (before live ones). */
  publications?: number;
}

/** A channel refused in a subscription ack; `temporary` and `retry_after_ms` only when set. */
export interface OdinChannelError {
  channel: string;
  code: number;
  message: string;
  temporary?: true;
  retry_after_ms?: number;
}

/** A channel's refusal as the ack lists it. */
export function odinChannelError(channel: string, e: ProtocolError): OdinChannelError {
  const out: OdinChannelError = { channel, code: e.code, message: e.message };
  if (e.temporary === true) {
    out.temporary = true;
    if (e.retryAfterMs !== undefined) out.retry_after_ms = e.retryAfterMs;
  }
  return out;
}

export function encodeSubscriptionAck(subscribed: OdinSubscribeResult[], count: number, errors: OdinChannelError[]): string {
  const positions: Record<string, unknown> = {};
  for (const s of subscribed) {
    const p: Record<string, unknown> = { offset: s.offset, epoch: s.epoch, recoverable: s.recoverable };
    if (s.recovered !== undefined) {
      p.recovered = s.recovered;
      p.publications = s.publications ?? 0;
    }
    positions[s.channel] = p;
  }
  const ack: Record<string, unknown> = { type: 'subscription_ack', subscribed: subscribed.map((s) => s.channel), count, positions };
  if (errors.length > 0) ack.errors = errors;
  return JSON.stringify(ack);
}

/** `why`: the server ended the subscriptions (e.g. 2501 "subscription expired"); absent when the client asked. */
export function encodeUnsubscriptionAck(unsubscribed: string[], count: number, why?: { code: number; reason: string }): string {
  if (why !== undefined) return JSON.stringify({ type: 'unsubscription_ack', unsubscribed, count, code: why.code, reason: why.reason });
  return JSON.stringify({ type: 'unsubscription_ack', unsubscribed, count });
}

/**
 * The answer to a heartbeat; `heads` (when the connection holds channels with history) is the
 * newest position the server knows of each, so a client on a quiet channel can tell it missed
 * the last publication (its own last offset is behind) without waiting for the next one.
 */
/**
 * A channel's source is stale since `since` (ms since the Unix epoch): no publication for the
 * namespace's `staleAfterMs` since then, or the ingest that feeds it is behind its backbone by
 * more than `ingestStaleAfterMs` (its publications from then on are not delivered yet). UIs grey
 * its values out until `fresh`.
 */
export function encodeOdinStale(channel: string, since: number): string {
  return '{"type":"stale","channel":' + JSON.stringify(channel) + ',"since":' + Math.round(since) + '}';
}

/** The channel is current again (a quiet one: sent just before the publication that ends it; a lagging feed: once it caught up). */
export function encodeOdinFresh(channel: string): string {
  return '{"type":"fresh","channel":' + JSON.stringify(channel) + '}';
}

export function encodeOdinPong(ts: number, heads?: Readonly<Record<string, StreamPosition>>): string {
  if (heads === undefined) return '{"type":"pong","ts":' + ts + '}';
  return '{"type":"pong","ts":' + ts + ',"heads":' + JSON.stringify(heads) + '}';
}

export function encodeOdinError(code: number, message: string, extra?: { command?: string; channel?: string }): string {
  return JSON.stringify({ ...extra, type: 'error', code, message });
}

/**
 * The answer to `{"type":"hello"}`: the connection's id, user and the server's limits. Never sent
 * unasked: the original Odin server sent nothing before a client's first command, and its
 * clients count every frame but acks and pongs.
 */
export function encodeOdinWelcome(client: string, version: string, pingIntervalMs: number, user: string): string {
  return JSON.stringify({ type: 'connected', client, user, version, ping: Math.round(pingIntervalMs / 1000) });
}

/**
 * Sent before the server closes the connection, with the same code as the close frame. With
 * `reconnect`, `reconnect_delay_ms` is how long the server asks the client to wait before it
 * reconnects (a jittered hint: clients closed together come back spread out).
 */
export function encodeOdinDisconnect(code: number, reason: string, reconnect: boolean, delayMs?: number): string {
  return reconnect && delayMs !== undefined
    ? JSON.stringify({ type: 'disconnect', code, reason, reconnect, reconnect_delay_ms: delayMs })
    : JSON.stringify({ type: 'disconnect', code, reason, reconnect });
}
