/**
 * The Centrifugo client protocol, JSON flavour: a frame holds one or more JSON objects
 * separated by "\n". Commands carry an `id` (except `send`); replies echo it; pushes have none.
 * Source of truth: Centrifugo's client_protocol docs and centrifugal/protocol client.proto.
 */
import type { ProtocolError } from './codes.js';
import { withoutLineFeeds, parseJsonKeeping } from './json-text.js';

/** Payload members (`data` of publish, connect, subscribe, rpc, send) stay as their text (RawJson). */
const isPayloadKey = (key: string): boolean => key === 'data';

export type CentrifugeMethod =
  | 'connect'
  | 'subscribe'
  | 'unsubscribe'
  | 'publish'
  | 'presence'
  | 'presence_stats'
  | 'history'
  | 'rpc'
  | 'refresh'
  | 'sub_refresh'
  | 'send';

const METHODS: ReadonlySet<string> = new Set<CentrifugeMethod>([
  'connect',
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'presence_stats',
  'history',
  'rpc',
  'refresh',
  'sub_refresh',
  'send',
]);

export interface CentrifugeCommand {
  id: number;
  method: CentrifugeMethod;
  params: Record<string, unknown>;
}

export type CentrifugeFrameItem =
  { kind: 'command'; command: CentrifugeCommand } | { kind: 'pong' } | { kind: 'unknown'; id: number } | { kind: 'bad'; message: string };

/**
 * Splits a frame into commands. An empty object is the client's pong. A malformed line makes
 * a 'bad' item (the caller disconnects with Disconnect.BadRequest, 3501): the frame's order is kept.
 */
export function parseCentrifugeFrame(text: string): CentrifugeFrameItem[] {
  const items: CentrifugeFrameItem[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let msg: unknown;
    try {
      msg = parseJsonKeeping(line, isPayloadKey);
    } catch {
      items.push({ kind: 'bad', message: 'invalid JSON' });
      return items;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      items.push({ kind: 'bad', message: 'a command is a JSON object' });
      return items;
    }
    const m = msg as Record<string, unknown>;
    const keys = Object.keys(m);
    if (keys.length === 0) {
      items.push({ kind: 'pong' });
      continue;
    }
    const id = m.id === undefined ? 0 : m.id;
    if (!Number.isSafeInteger(id) || (id as number) < 0) {
      items.push({ kind: 'bad', message: '"id" must be a non-negative integer' });
      return items;
    }
    const method = keys.find((k) => k !== 'id');
    if (method === undefined || !METHODS.has(method)) {
      items.push({ kind: 'unknown', id: id as number });
      continue;
    }
    const params = m[method];
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
      items.push({ kind: 'bad', message: `"${method}" must be an object` });
      return items;
    }
    items.push({
      kind: 'command',
      command: { id: id as number, method: method as CentrifugeMethod, params: (params ?? {}) as Record<string, unknown> },
    });
  }
  return items;
}

export function encodeReply(id: number, method: CentrifugeMethod, result: unknown): string {
  return '{"id":' + id + ',"' + method + '":' + JSON.stringify(result ?? {}) + '}';
}

/** The `publications` array, each payload spliced in as its JSON text (never re-parsed). */
function publicationsArray(
  pubs: readonly CentrifugePublicationFields[],
  one: (p: CentrifugePublicationFields) => string = encodePublicationObject,
): string {
  let s = '[';
  for (let i = 0; i < pubs.length; i++) s += (i > 0 ? ',' : '') + one(pubs[i]!);
  return s + ']';
}

export interface CentrifugeSubscribeResult {
  /** Present when the channel keeps history with recovery: the stream's current top. */
  readonly position?: { readonly offset: number; readonly epoch: string };
  /** Present when the client asked to recover. */
  readonly recovered?: boolean;
  /** Recovered publications, oldest first. */
  readonly publications: readonly CentrifugePublicationFields[];
  /** JSON text of the subscription's `data` (server-side subscriptions). */
  readonly data?: string;
  /** Fossil delta negotiated: `delta: true`, and every payload travels as a JSON string. */
  readonly delta?: boolean;
  /** Seconds until a subscription token's grant ends (`expires: true, ttl`). */
  readonly ttl?: number;
  /** Each publication's JSON object, when the caller keeps them encoded (default: encoded here). */
  readonly publicationJson?: (p: CentrifugePublicationFields) => string;
}

/** The subscribe reply (field order as Centrifugo's: recoverable, positioned, epoch, offset, ...). */
/** A SubscribeResult object (also in a connect reply's `subs` and, without publications, a subscribe push). */
export function encodeSubscribeResult(r: CentrifugeSubscribeResult): string {
  const parts: string[] = [];
  if (r.ttl !== undefined && r.ttl > 0) parts.push('"expires":true', '"ttl":' + r.ttl);
  // Zero values are left out, as Centrifugo's encoder does (offset 0, recovered false).
  if (r.position) {
    parts.push('"recoverable":true', '"positioned":true');
    if (r.position.epoch !== '') parts.push('"epoch":' + JSON.stringify(r.position.epoch));
    if (r.position.offset > 0) parts.push('"offset":' + r.position.offset);
  }
  if (r.recovered !== undefined) parts.push('"was_recovering":true', ...(r.recovered ? ['"recovered":true'] : []));
  if (r.publications.length > 0) {
    // A delta subscription gets each payload as a JSON string (never from the cache of plain encodings).
    const one =
      r.delta === true
        ? (p: CentrifugePublicationFields) => encodePublicationObject({ ...p, data: JSON.stringify(p.data) })
        : r.publicationJson;
    parts.push('"publications":' + publicationsArray(r.publications, one));
  }
  if (r.data !== undefined) parts.push('"data":' + withoutLineFeeds(r.data));
  if (r.delta === true) parts.push('"delta":true');
  return '{' + parts.join(',') + '}';
}

export function encodeSubscribeReply(id: number, r: CentrifugeSubscribeResult): string {
  return '{"id":' + id + ',"subscribe":' + encodeSubscribeResult(r) + '}';
}

export function encodeHistoryReply(
  id: number,
  publications: readonly CentrifugePublicationFields[],
  position: { readonly offset: number; readonly epoch: string },
): string {
  return (
    '{"id":' +
    id +
    ',"history":{"publications":' +
    publicationsArray(publications) +
    ',"epoch":' +
    JSON.stringify(position.epoch) +
    ',"offset":' +
    position.offset +
    '}}'
  );
}

/** Centrifugo's Error has code, message and temporary only (no retry hint: its SDKs back off by themselves). */
export function encodeErrorReply(id: number, err: ProtocolError): string {
  const error =
    err.temporary === true ? { code: err.code, message: err.message, temporary: true } : { code: err.code, message: err.message };
  return JSON.stringify({ id, error });
}

export interface CentrifugePublicationFields {
  offset: number;
  /** The stream's epoch: sent with the stream's first publication (offset 1) only, as Centrifugo does. */
  epoch?: string;
  /** JSON text of the payload (or, with `delta`, a Fossil patch turning the previous payload into it). */
  data: string;
  /** `data` is a Fossil patch against the previous publication the connection received (delta subscriptions). */
  delta?: boolean;
  info?: { client: string; user: string };
  tags?: Readonly<Record<string, string>>;
}

/** A publication object as it appears in pushes, subscribe and history results. */
export function encodePublicationObject(p: CentrifugePublicationFields): string {
  // Offset 0 (a `skip_history` publication, outside the stream) is left out, as Centrifugo does:
  // the SDKs then keep their stream position. The payload goes in as published, without raw
  // line feeds (a frame's replies are "\n"-separated; Centrifugo drops them the same way).
  let s = '{"data":' + withoutLineFeeds(p.data) + (p.offset > 0 ? ',"offset":' + p.offset : '');
  if (p.offset === 1 && p.epoch) s += ',"epoch":' + JSON.stringify(p.epoch);
  if (p.info) s += ',"info":' + JSON.stringify(p.info);
  if (p.tags) s += ',"tags":' + JSON.stringify(p.tags);
  if (p.delta === true) s += ',"delta":true';
  return s + '}';
}

/**
 * The push of a delta subscription's publication: the payload as a JSON string — the JSON text
 * itself (`delta` false), or a Fossil patch (`delta` true) whose bytes must be UTF-8 text.
 */
export function encodeDeltaPublicationPush(channel: string, p: CentrifugePublicationFields, payload: string, delta: boolean): string {
  return encodePublicationPush(channel, { ...p, data: JSON.stringify(payload), delta });
}

export function encodePublicationPush(channel: string, p: CentrifugePublicationFields): string {
  return '{"push":' + encodeUniPublicationPush(channel, p) + '}';
}

/** A publication push as the unidirectional transports send it: the Push itself, no `{"push":…}` around it. */
export function encodeUniPublicationPush(channel: string, p: CentrifugePublicationFields): string {
  return '{"channel":' + JSON.stringify(channel) + ',"pub":' + encodePublicationObject(p) + '}';
}

/** The server's ping: an empty object. */
export const CENTRIFUGE_PING = '{}';
