/**
 * Centrifugo's proxy protocol over HTTP (v6.9.1, JSON encoding): the request bodies the gateway
 * POSTs to the application's backend to ask whether a connect, subscribe or publish may go on,
 * and the replies it reads back — `{"result":{…}}`, `{"error":{code,message,temporary}}` or
 * `{"disconnect":{code,reason}}`. Pure: building and reading only; the adapter does the HTTP.
 */
import { DISCONNECT_CODE_MAX, DISCONNECT_CODE_MIN, ErrorCode, type DisconnectReason, type ProtocolError } from './codes.js';

export type ProxyKind = 'connect' | 'subscribe' | 'publish' | 'refresh';

/** Who is asking: the fields every proxy request starts with. */
export interface ProxyClient {
  readonly client: string;
  /** Centrifugo's transport name: websocket, http_stream, sse, uni_websocket, uni_sse, uni_http_stream (or "odin"). */
  readonly transport: string;
  readonly protocol: 'json' | 'protobuf';
  readonly user?: string;
}

/** A reply read: what the backend decided, or why it could not be read (`unreadable`: fail closed). */
export type ProxyDecision<R> =
  { readonly result: R } | { readonly error: ProtocolError } | { readonly disconnect: DisconnectReason } | { readonly unreadable: string };

export interface ConnectProxyResult {
  readonly user: string;
  /** Seconds since the epoch; 0 = never. */
  readonly expireAt: number;
  readonly info?: unknown;
  readonly channels: readonly string[];
}
export interface SubscribeProxyResult {
  readonly expireAt: number;
  readonly info?: unknown;
  /** JSON text of `data` for the subscribe result, or null. */
  readonly data: string | null;
}
export interface PublishProxyResult {
  /** JSON text to publish instead of the client's, or null to keep it. */
  readonly data: string | null;
  readonly skipHistory: boolean;
}
export interface RefreshProxyResult {
  readonly expired: boolean;
  readonly expireAt: number;
}

function base(c: ProxyClient): Record<string, unknown> {
  return {
    client: c.client,
    transport: c.transport,
    protocol: c.protocol,
    encoding: 'json',
    ...(c.user !== undefined ? { user: c.user } : {}),
  };
}

/** `data` is JSON text (the client's connect data / publication), spliced in unparsed. */
function withData(body: Record<string, unknown>, data: string | null): string {
  const text = JSON.stringify(body);
  return data === null ? text : text.slice(0, -1) + ',"data":' + data + '}';
}

export function connectProxyRequest(c: ProxyClient, data: string | null, name: string, version: string): string {
  return withData({ ...base(c), ...(name ? { name } : {}), ...(version ? { version } : {}) }, data);
}
export function subscribeProxyRequest(c: ProxyClient, channel: string, token: string | null, data: string | null): string {
  return withData({ ...base(c), user: c.user ?? '', channel, ...(token !== null ? { token } : {}) }, data);
}
export function publishProxyRequest(c: ProxyClient, channel: string, data: string): string {
  return withData({ ...base(c), user: c.user ?? '', channel }, data);
}
export function refreshProxyRequest(c: ProxyClient): string {
  return JSON.stringify({ ...base(c), user: c.user ?? '' });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
const jsonText = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

/** The common part of every reply: a disconnect, an error, or the result object. */
function readReply(text: string): { result: Record<string, unknown> } | ProxyDecision<never> {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    return { unreadable: 'proxy reply is not JSON' };
  }
  if (!isObject(reply)) return { unreadable: 'proxy reply is not a JSON object' };
  if (isObject(reply.disconnect)) {
    const code = reply.disconnect.code;
    if (typeof code !== 'number' || code < DISCONNECT_CODE_MIN || code > DISCONNECT_CODE_MAX)
      return { unreadable: 'proxy disconnect code out of range' };
    return { disconnect: { code, reason: typeof reply.disconnect.reason === 'string' ? reply.disconnect.reason.slice(0, 100) : '' } };
  }
  if (isObject(reply.error)) {
    const code = reply.error.code;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 100) return { unreadable: 'proxy error without a code' };
    const message = typeof reply.error.message === 'string' ? reply.error.message.slice(0, 200) : 'refused';
    return { error: { code: code as ErrorCode, message, ...(reply.error.temporary === true ? { temporary: true } : {}) } };
  }
  if (reply.result === undefined) return { result: {} };
  if (!isObject(reply.result)) return { unreadable: 'proxy result is not an object' };
  return { result: reply.result };
}

export function readConnectProxyReply(text: string): ProxyDecision<ConnectProxyResult> {
  const r = readReply(text);
  if (!('result' in r)) return r;
  const o = r.result;
  if (typeof o.user !== 'string') return { unreadable: 'connect proxy result without a user' };
  const channels = Array.isArray(o.channels) ? o.channels.filter((c): c is string => typeof c === 'string') : [];
  return { result: { user: o.user, expireAt: num(o.expire_at), info: o.info, channels } };
}
export function readSubscribeProxyReply(text: string): ProxyDecision<SubscribeProxyResult> {
  const r = readReply(text);
  if (!('result' in r)) return r;
  return { result: { expireAt: num(r.result.expire_at), info: r.result.info, data: jsonText(r.result.data) } };
}
export function readPublishProxyReply(text: string): ProxyDecision<PublishProxyResult> {
  const r = readReply(text);
  if (!('result' in r)) return r;
  return { result: { data: jsonText(r.result.data), skipHistory: r.result.skip_history === true } };
}
export function readRefreshProxyReply(text: string): ProxyDecision<RefreshProxyResult> {
  const r = readReply(text);
  if (!('result' in r)) return r;
  return { result: { expired: r.result.expired === true, expireAt: num(r.result.expire_at) } };
}
