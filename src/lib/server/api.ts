/**
 * The server HTTP API with Centrifugo's semantics, so its server SDKs (`cent`, `gocent`) work
 * unchanged:
 *  - `POST /api/<method>` with a JSON body, and the legacy `POST /api` taking
 *    `{"method": "...", "params": {...}}` commands, several separated by "\n" (gocent's pipe),
 *    answered one reply per line.
 *  - Outcomes are HTTP 200 with `{"result": ...}` or `{"error": {code, message}}`. Only when a
 *    request carries `X-Centrifugo-Error-Mode: transport` is an error answered with an HTTP
 *    status mapped from its code and `{code, message}` as the body (batch, broadcast and a
 *    pipe of several commands keep per-item errors, as in Centrifugo).
 *  - Every documented request field is implemented or refused with code 107 naming it; an
 *    unknown field is refused too, never silently ignored. Centrifugo PRO methods get 104 with
 *    a message saying so.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ApiError, type Gateway } from '../core/gateway.js';
import type { Publication } from '../core/broker.js';
import { globToRegExp } from './glob.js';

const channel = z.string().min(1).max(255);
// Both optional with zero defaults, as Go decodes them (gocent omits a zero offset).
const position = z.strictObject({ offset: z.number().int().min(0).default(0), epoch: z.string().default('') });
const tags = z.record(z.string(), z.string());
const boolValue = z.strictObject({ value: z.boolean() });

/** Fields Centrifugo documents that odin-ws refuses when set (accepted only at their no-op value). */
const publishShape = {
  data: z.unknown().optional(),
  b64data: z.string().optional(),
  idempotency_key: z.string().max(256).optional(),
  tags: tags.optional(),
  skip_history: z.boolean().optional(),
  delta: z.boolean().optional(),
  version: z.number().int().min(0).optional(),
  version_epoch: z.string().optional(),
};

const schemas = {
  publish: z.strictObject({ channel, ...publishShape }),
  broadcast: z.strictObject({ channels: z.array(channel).min(1).max(10_000), ...publishShape }),
  subscribe: z.strictObject({
    user: z.string(),
    channel,
    info: z.unknown().optional(),
    b64info: z.string().optional(),
    client: z.string().optional(),
    session: z.string().optional(),
    data: z.unknown().optional(),
    b64data: z.string().optional(),
    recover_since: position.optional(),
    override: z
      .strictObject({
        presence: boolValue.optional(),
        join_leave: boolValue.optional(),
        force_push_join_leave: boolValue.optional(),
        force_positioning: boolValue.optional(),
        force_recovery: boolValue.optional(),
      })
      .optional(),
  }),
  unsubscribe: z.strictObject({ user: z.string(), channel, client: z.string().optional(), session: z.string().optional() }),
  disconnect: z.strictObject({
    user: z.string(),
    client: z.string().optional(),
    session: z.string().optional(),
    whitelist: z.array(z.string()).optional(),
    disconnect: z
      .strictObject({
        code: z.number().int().min(3000).max(4999),
        reason: z.string().max(123),
        /** Centrifugo v2's field, still sent by gocent v3; the code's range decides (as in Centrifugo v3+). */
        reconnect: z.boolean().optional(),
      })
      .optional(),
  }),
  refresh: z.strictObject({
    user: z.string(),
    client: z.string().optional(),
    session: z.string().optional(),
    expired: z.boolean().optional(),
    expire_at: z.number().int().min(0).optional(),
  }),
  presence: z.strictObject({ channel }),
  presence_stats: z.strictObject({ channel }),
  history: z.strictObject({
    channel,
    limit: z.number().int().min(-1).optional(),
    since: position.optional(),
    reverse: z.boolean().optional(),
  }),
  history_remove: z.strictObject({ channel }),
  channels: z.strictObject({ pattern: z.string().max(1024).optional() }),
  info: z.strictObject({}),
} as const;

type Method = keyof typeof schemas;
export const API_METHODS = [...Object.keys(schemas), 'batch'] as const;

/** Centrifugo PRO methods (cent offers them): refused by name rather than "not found" alone. */
const PRO_METHODS = new Set([
  'connections',
  'update_user_status',
  'get_user_status',
  'delete_user_status',
  'block_user',
  'unblock_user',
  'revoke_token',
  'invalidate_user_tokens',
  'device_register',
  'device_update',
  'device_remove',
  'device_list',
  'device_topic_list',
  'device_topic_update',
  'user_topic_list',
  'user_topic_update',
  'send_push_notification',
  'update_push_status',
  'cancel_push',
  'rate_limit',
]);

function isMethod(m: string): m is Method {
  return Object.hasOwn(schemas, m);
}

interface ErrorBody {
  code: number;
  message: string;
}

/** An error's HTTP status in transport mode when the code's table does not say it (503: broker down). */
const transportStatus = new WeakMap<ErrorBody, number>();

/** One command's outcome, as Centrifugo puts it in a response or a batch reply. */
type Outcome = { result: unknown } | { error: ErrorBody };

function failure(code: number, message: string): Outcome {
  return { error: { code, message } };
}

function methodNotFound(method: string): Outcome {
  const m = method.slice(0, 64);
  return PRO_METHODS.has(method)
    ? failure(104, `method not found: ${m} is a Centrifugo PRO method that odin-ws does not implement`)
    : failure(104, `method not found: ${m}`);
}

export function checkApiKey(
  expected: string,
  header: string | undefined,
  authorization: string | undefined,
  query?: string | null,
): boolean {
  if (expected === '') return false;
  let given = header;
  if (given === undefined && authorization?.toLowerCase().startsWith('apikey ')) given = authorization.slice(7).trim();
  if (given === undefined && query) given = query;
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function pubJson(p: Publication): unknown {
  const o: Record<string, unknown> = { data: JSON.parse(p.data), offset: p.offset };
  if (p.tags) o.tags = p.tags;
  if (p.info) o.info = p.info;
  return o;
}

function typeTag(data: unknown, t: Record<string, string> | undefined): Record<string, string> | undefined {
  // The Odin envelope type comes from the event's own `type` when the caller gave no tag.
  if (t?.type !== undefined) return t;
  if (typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string') {
    return { ...t, type: (data as { type: string }).type };
  }
  return t;
}

type PublishParams = z.infer<typeof schemas.publish> | z.infer<typeof schemas.broadcast>;

/** Validates the publish-only fields shared by publish and broadcast; returns the JSON text. */
function publishPayload(p: PublishParams): string {
  if (p.b64data !== undefined)
    throw new ApiError(107, 'b64data: binary payloads are not supported; odin-ws channels carry JSON (send it in "data")');
  if (p.delta === true) throw new ApiError(107, 'delta: delta compression is not supported by odin-ws');
  if (p.version !== undefined && p.version > 0) throw new ApiError(107, 'version: versioned publications are not supported by odin-ws');
  if (p.version_epoch !== undefined && p.version_epoch !== '')
    throw new ApiError(107, 'version_epoch: versioned publications are not supported by odin-ws');
  if (p.data === undefined) throw new ApiError(107, 'data: required');
  return JSON.stringify(p.data);
}

function refuseSession(session: string | undefined): void {
  // Centrifugo sessions belong to its unidirectional/PRO features; odin-ws connections have none.
  if (session !== undefined && session !== '') throw new ApiError(107, 'session: connection sessions are not supported; use "client"');
}

/**
 * Reads a JSON object as Centrifugo (Go's encoding/json) does: a key matches a field whatever
 * its case, and null is the same as absent. gocent relies on both (it sends "Disconnect" and
 * "ClientWhitelist": null). Other unknown keys stay, for the schema to refuse.
 */
function goStyle(params: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === null) continue;
    const field = fields.includes(k) ? k : fields.find((f) => f.toLowerCase() === k.toLowerCase());
    out[field ?? k] =
      field === 'disconnect' && typeof v === 'object' && !Array.isArray(v)
        ? goStyle(v as Record<string, unknown>, ['code', 'reason', 'reconnect'])
        : v;
  }
  return out;
}

async function call(gw: Gateway, method: Method, raw: Record<string, unknown>): Promise<unknown> {
  const schema = schemas[method];
  const params = goStyle(raw, Object.keys(schema.shape));
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    if (i.code === 'unrecognized_keys') throw new ApiError(107, `unknown field${i.keys.length > 1 ? 's' : ''}: ${i.keys.join(', ')}`);
    throw new ApiError(107, `${i.path.join('.') || 'params'}: ${i.message}`);
  }
  switch (method) {
    case 'publish': {
      const p = parsed.data as z.infer<typeof schemas.publish>;
      const data = publishPayload(p);
      const t = typeTag(p.data, p.tags);
      const pos = await gw.publish({
        channel: p.channel,
        data,
        ...(p.idempotency_key ? { idempotencyKey: p.idempotency_key } : {}),
        ...(t ? { tags: t } : {}),
        ...(p.skip_history ? { skipHistory: true } : {}),
      });
      return pos.offset > 0 ? { offset: pos.offset, epoch: pos.epoch } : {};
    }
    case 'broadcast': {
      const p = parsed.data as z.infer<typeof schemas.broadcast>;
      const data = publishPayload(p);
      const t = typeTag(p.data, p.tags);
      const responses = await Promise.all(
        p.channels.map(async (ch) => {
          try {
            const pos = await gw.publish({
              channel: ch,
              data,
              ...(p.idempotency_key ? { idempotencyKey: p.idempotency_key } : {}),
              ...(t ? { tags: t } : {}),
              ...(p.skip_history ? { skipHistory: true } : {}),
            });
            return { result: pos.offset > 0 ? { offset: pos.offset, epoch: pos.epoch } : {} };
          } catch (e) {
            return asOutcome(e);
          }
        }),
      );
      return { responses };
    }
    case 'subscribe': {
      const p = parsed.data as z.infer<typeof schemas.subscribe>;
      refuseSession(p.session);
      if (p.b64info !== undefined || p.b64data !== undefined) throw new ApiError(107, 'b64info/b64data: binary payloads are not supported');
      if (p.override !== undefined) throw new ApiError(107, 'override: per-subscription channel option overrides are not supported');
      if (p.info !== undefined) throw new ApiError(107, 'info: channel info for server-side subscriptions is not supported');
      gw.subscribeUser(p.user, p.channel, {
        ...(p.client ? { client: p.client } : {}),
        ...(p.data !== undefined ? { data: JSON.stringify(p.data) } : {}),
        ...(p.recover_since ? { since: p.recover_since } : {}),
      });
      return {};
    }
    case 'unsubscribe': {
      const p = parsed.data as z.infer<typeof schemas.unsubscribe>;
      refuseSession(p.session);
      gw.unsubscribeUser(p.user, p.channel, p.client || undefined);
      return {};
    }
    case 'disconnect': {
      const p = parsed.data as z.infer<typeof schemas.disconnect>;
      refuseSession(p.session);
      gw.disconnectUser(p.user, p.client || undefined, p.disconnect ?? undefined, p.whitelist);
      return {};
    }
    case 'refresh': {
      const p = parsed.data as z.infer<typeof schemas.refresh>;
      refuseSession(p.session);
      gw.refreshUser(p.user, p.client || undefined, { expired: p.expired === true, ...(p.expire_at ? { expireAt: p.expire_at } : {}) });
      return {};
    }
    case 'history': {
      const p = parsed.data as z.infer<typeof schemas.history>;
      const limit = p.limit === undefined ? 0 : p.limit === -1 ? Number.MAX_SAFE_INTEGER : p.limit;
      const h = await gw.history(p.channel, { limit, ...(p.since ? { since: p.since } : {}), ...(p.reverse ? { reverse: true } : {}) });
      return { publications: h.publications.map(pubJson), offset: h.position.offset, epoch: h.position.epoch };
    }
    case 'history_remove':
      await gw.removeHistory((parsed.data as { channel: string }).channel);
      return {};
    case 'presence':
      return { presence: await gw.presenceOf((parsed.data as { channel: string }).channel) };
    case 'presence_stats':
      return gw.presenceStatsOf((parsed.data as { channel: string }).channel);
    case 'info':
      return gw.info();
    case 'channels': {
      const pattern = (parsed.data as { pattern?: string }).pattern;
      let re: RegExp | null = null;
      if (pattern !== undefined && pattern !== '') {
        re = globToRegExp(pattern);
        if (re === null) throw new ApiError(107, 'pattern: invalid glob pattern');
      }
      const all = gw.channels();
      if (re === null) return { channels: all };
      const out: typeof all = {};
      for (const [ch, info] of Object.entries(all)) if (re.test(ch)) out[ch] = info;
      return { channels: out };
    }
  }
}

function asOutcome(e: unknown): { error: ErrorBody } {
  const a = e instanceof ApiError ? e : new ApiError(100, 'internal server error');
  const error = { code: a.code, message: a.message };
  if (a.httpStatus === 503) transportStatus.set(error, 503);
  return { error };
}

async function run(gw: Gateway, method: string, params: unknown): Promise<Outcome> {
  if (method === 'batch') return batch(gw, params);
  if (!isMethod(method)) return methodNotFound(method);
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return failure(107, 'params: expected a JSON object');
  try {
    return { result: await call(gw, method, params as Record<string, unknown>) };
  } catch (e) {
    return asOutcome(e);
  }
}

async function batch(gw: Gateway, body: unknown): Promise<Outcome> {
  const parsed = z
    .strictObject({ commands: z.array(z.record(z.string(), z.unknown())).max(1000), parallel: z.boolean().optional() })
    .safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    if (i.code === 'unrecognized_keys') return failure(107, `unknown field: ${i.keys.join(', ')}`);
    return failure(107, `${i.path.join('.') || 'params'}: ${i.message}`);
  }
  const one = async (c: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const keys = Object.keys(c);
    const m = keys[0];
    if (keys.length !== 1 || m === undefined || m === 'batch') return methodNotFound(m ?? '');
    const r = await run(gw, m, c[m]);
    return 'error' in r ? r : { [m]: r.result };
  };
  // Sequential by default, as Centrifugo: a command sees the effect of the ones before it.
  const replies = parsed.data.parallel
    ? await Promise.all(parsed.data.commands.map(one))
    : await parsed.data.commands.reduce<Promise<Record<string, unknown>[]>>(
        async (acc, c) => [...(await acc), await one(c)],
        Promise.resolve([]),
      );
  return { result: { replies } };
}

/** Centrifugo's mapping of error codes to HTTP statuses in transport error mode (101, 103, 111: ours). */
export function httpStatusOf(code: number): number {
  switch (code) {
    case 101:
      return 401;
    case 102:
    case 104:
      return 404;
    case 103:
      return 403;
    case 107:
    case 108:
      return 400;
    case 111:
      return 429;
    case 112:
      return 416;
    case 113:
      return 409;
    default:
      return 500;
  }
}

export interface ApiHttpResponse {
  status: number;
  /** JSON text (one object, or one per line for a pipe of several commands). */
  body: string;
}

/**
 * Serves one API request whose body has been read. `path` is `/api` or `/api/<method>`;
 * `errorMode` is the `X-Centrifugo-Error-Mode` header.
 */
export async function serveApi(gw: Gateway, path: string, body: Buffer, errorMode: string | undefined): Promise<ApiHttpResponse> {
  const transport = errorMode?.toLowerCase() === 'transport';
  const text = body.toString('utf8');
  if (path === '/api') return servePipe(gw, text, transport);
  const method = path.slice(5);
  let params: unknown = {};
  let outcome: Outcome;
  if (text.trim() !== '') {
    try {
      params = JSON.parse(text);
    } catch {
      outcome = failure(107, 'bad request: invalid JSON body');
      return respond(outcome, transport && method !== 'batch' && method !== 'broadcast');
    }
  }
  outcome = await run(gw, method, params);
  // Batch answers `{"replies": [...]}` at the top level, as Centrifugo does.
  if (method === 'batch' && 'result' in outcome) return { status: 200, body: JSON.stringify(outcome.result) };
  return respond(outcome, transport && method !== 'batch' && method !== 'broadcast');
}

function respond(o: Outcome, transport: boolean): ApiHttpResponse {
  if (transport && 'error' in o)
    return { status: transportStatus.get(o.error) ?? httpStatusOf(o.error.code), body: JSON.stringify(o.error) };
  return { status: 200, body: JSON.stringify(o) };
}

/** The legacy endpoint: `{"method","params"}` commands, one per line, one reply line each. */
async function servePipe(gw: Gateway, text: string, transport: boolean): Promise<ApiHttpResponse> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return respond(failure(107, 'bad request: empty body; send {"method": ..., "params": ...}'), transport);
  if (lines.length > 1000) return respond(failure(107, 'bad request: at most 1000 commands per request'), transport);
  const replies: Outcome[] = [];
  let method = '';
  for (const line of lines) {
    let cmd: unknown;
    try {
      cmd = JSON.parse(line);
    } catch {
      replies.push(failure(107, 'bad request: invalid JSON command'));
      continue;
    }
    const c = cmd as { method?: unknown; params?: unknown } | null;
    if (typeof c !== 'object' || c === null || typeof c.method !== 'string') {
      replies.push(failure(107, 'method: required'));
      continue;
    }
    method = c.method;
    replies.push(await run(gw, c.method, c.params ?? {}));
  }
  if (replies.length === 1) return respond(replies[0]!, transport && method !== 'batch' && method !== 'broadcast');
  return { status: 200, body: replies.map((r) => JSON.stringify(r)).join('\n') };
}
