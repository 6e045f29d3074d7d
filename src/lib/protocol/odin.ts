/**
 * The Odin client protocol (JSON text frames, one message per frame), compatible with the
 * existing Odin clients, plus recovery across reconnects. Shapes: docs/protocol.md.
 */
import { ErrorCode, isProtocolError, type ProtocolError } from './codes.js';
import { parseStreamPosition, type StreamPosition } from './position.js';

export type OdinCommand =
  | { type: 'subscribe'; channels: string[]; positions: Record<string, StreamPosition>; tokens: Record<string, string> }
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
  return { ok: true, command: { type, channels, positions, tokens } };
}

export interface OdinPublicationFields {
  type: string;
  channel: string;
  offset: number;
  epoch: string;
  ts: number;
  /** JSON text of the payload. */
  data: string;
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
    ',"ts":' +
    p.ts +
    ',"data":' +
    p.data +
    '}'
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

export function encodeOdinPong(ts: number): string {
  return '{"type":"pong","ts":' + ts + '}';
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
