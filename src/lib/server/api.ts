/**
 * The server API's methods with Centrifugo's semantics, so its server SDKs (`cent`, `gocent`)
 * work unchanged (the HTTP envelope — status, error mode, legacy pipe — is api-http.ts):
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
import { z } from 'zod';
import type { Gateway } from '../core/gateway.js';
import type { Publication } from '../core/broker.js';
import { Disconnect, DISCONNECT_CODE_MAX, DISCONNECT_CODE_MIN, isProtocolError, MAX_CLOSE_REASON_BYTES } from '../protocol/codes.js';
import { MAX_JSON_DEPTH } from '../protocol/limits.js';
import { payloadText, RawJson } from '../protocol/json-text.js';
import { parseStreamPosition, type StreamPosition } from '../protocol/position.js';
import { ApiError, toApiError } from './api-errors.js';
import { compileGlob, type GlobMatcher } from './glob.js';

const channel = z.string().min(1).max(255);
/**
 * Work one `channels` pattern may do, NFA steps (glob.ts: at most channel length × pattern
 * states per channel): about 0.1 s here; past it 106. A plain prefix like `BTC.*` over 100,000
 * channels takes ~5 M.
 */
export const MAX_GLOB_STEPS = 20_000_000;
// Checked by the one stream position parser (protocol/position.ts), with zero defaults as Go
// decodes them (gocent omits a zero offset).
const position = z.unknown();
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
  // The count is bounded by api.maxBroadcastChannels (106); the body's size bounds the array.
  broadcast: z.strictObject({ channels: z.array(channel).min(1), ...publishShape }),
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
        code: z.number().int().min(DISCONNECT_CODE_MIN).max(DISCONNECT_CODE_MAX),
        reason: z.string().max(MAX_CLOSE_REASON_BYTES),
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

/**
 * Whether `/api/<method>` has a route: Centrifugo answers HTTP 404 for any other path. The PRO
 * methods keep one here, to answer 104 with a message naming them (docs/protocol.md, Deviations).
 */
export function hasApiRoute(method: string): boolean {
  return isMethod(method) || method === 'batch' || PRO_METHODS.has(method);
}

function isMethod(m: string): m is Method {
  return Object.hasOwn(schemas, m);
}

/**
 * What one HTTP request (a batch or pipe of commands included) may still cost: publication
 * payload bytes returned from history (api.maxResponseBytes) and publications created
 * (api.maxPublications). A command past either is refused with 106 and counted.
 */
export interface RequestBudget {
  responseBytes: number;
  publications: number;
}

export function requestBudget(gw: Gateway): RequestBudget {
  return { responseBytes: gw.opts.api.maxResponseBytes, publications: gw.opts.api.maxPublications };
}

/** Takes `n` publications from the request's budget, or refuses the command. */
function spendPublications(gw: Gateway, budget: RequestBudget, n: number): void {
  if (n > budget.publications) {
    gw.stats.limitRefusals.api_publications++;
    throw new ApiError(106, `this request may create at most ${gw.opts.api.maxPublications} publications (api.maxPublications)`);
  }
  budget.publications -= n;
}

export interface ErrorBody {
  code: number;
  message: string;
}

/** Errors that were temporary (the body has only code and message). */
const temporaryErrors = new WeakSet<ErrorBody>();

/** Whether an error came from a temporary condition (retry later). */
export function isTemporary(e: ErrorBody): boolean {
  return temporaryErrors.has(e);
}

/** One command's outcome, as Centrifugo puts it in a response or a batch reply. */
export type Outcome = { result: unknown } | { error: ErrorBody };

export function failure(code: number, message: string): Outcome {
  return { error: { code, message } };
}

export function methodNotFound(method: string): Outcome {
  const m = method.slice(0, 64);
  return PRO_METHODS.has(method)
    ? failure(104, `method not found: ${m} is a Centrifugo PRO method that odin-ws does not implement`)
    : failure(104, `method not found: ${m}`);
}

/** A publication in a history result: its payload goes out as the text that was published. */
function pubJson(p: Publication): unknown {
  const o: Record<string, unknown> = { data: new RawJson(p.data, 0), offset: p.offset };
  if (p.tags) o.tags = p.tags;
  if (p.info) o.info = p.info;
  return o;
}

/** A payload's JSON text: api-http.ts keeps `data` as the text that arrived (RawJson), carried byte for byte. */
function dataText(data: unknown, field: string): string {
  const text = payloadText(data);
  if (text === null) throw new ApiError(107, `${field}: nests deeper than ${MAX_JSON_DEPTH} levels`);
  return text;
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
  return dataText(p.data, 'data');
}

function positionOf(value: unknown, field: string): StreamPosition | undefined {
  if (value === undefined) return undefined;
  const pos = parseStreamPosition(value, field, { zeroDefaults: true });
  if (isProtocolError(pos)) throw new ApiError(pos.code, pos.message);
  return pos;
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
    // A kept `data` of null (RawJson "null") is null too.
    if (v === null || (v instanceof RawJson && v.text === 'null')) continue;
    const field = fields.includes(k) ? k : fields.find((f) => f.toLowerCase() === k.toLowerCase());
    out[field ?? k] =
      field === 'disconnect' && typeof v === 'object' && !Array.isArray(v)
        ? goStyle(v as Record<string, unknown>, ['code', 'reason', 'reconnect'])
        : v;
  }
  return out;
}

async function call(gw: Gateway, method: Method, raw: Record<string, unknown>, budget: RequestBudget): Promise<unknown> {
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
      spendPublications(gw, budget, 1);
      const pos = await gw.api.publish({
        channel: p.channel,
        data,
        ...(p.idempotency_key ? { idempotencyKey: p.idempotency_key } : {}),
        ...(p.tags ? { tags: p.tags } : {}),
        ...(p.skip_history ? { skipHistory: true } : {}),
      });
      return pos.offset > 0 ? { offset: pos.offset, epoch: pos.epoch } : {};
    }
    case 'broadcast': {
      const p = parsed.data as z.infer<typeof schemas.broadcast>;
      if (p.channels.length > gw.opts.api.maxBroadcastChannels) {
        gw.stats.limitRefusals.api_broadcast_channels++;
        throw new ApiError(106, `channels: at most ${gw.opts.api.maxBroadcastChannels} per broadcast (api.maxBroadcastChannels)`);
      }
      const data = publishPayload(p);
      spendPublications(gw, budget, p.channels.length);
      const responses = await Promise.all(
        p.channels.map(async (ch) => {
          try {
            const pos = await gw.api.publish({
              channel: ch,
              data,
              ...(p.idempotency_key ? { idempotencyKey: p.idempotency_key } : {}),
              ...(p.tags ? { tags: p.tags } : {}),
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
      await gw.api.userCommand({
        op: 'subscribe',
        user: p.user,
        channel: p.channel,
        ...(p.client ? { client: p.client } : {}),
        ...(p.data !== undefined ? { data: dataText(p.data, 'data') } : {}),
        ...(p.recover_since !== undefined ? { since: positionOf(p.recover_since, 'recover_since')! } : {}),
      });
      return {};
    }
    case 'unsubscribe': {
      const p = parsed.data as z.infer<typeof schemas.unsubscribe>;
      refuseSession(p.session);
      await gw.api.userCommand({ op: 'unsubscribe', user: p.user, channel: p.channel, ...(p.client ? { client: p.client } : {}) });
      return {};
    }
    case 'disconnect': {
      const p = parsed.data as z.infer<typeof schemas.disconnect>;
      refuseSession(p.session);
      await gw.api.userCommand({
        op: 'disconnect',
        user: p.user,
        ...(p.client ? { client: p.client } : {}),
        reason: p.disconnect ? { code: p.disconnect.code, reason: p.disconnect.reason } : Disconnect.ForceNoReconnect,
        whitelist: p.whitelist ?? [],
      });
      return {};
    }
    case 'refresh': {
      const p = parsed.data as z.infer<typeof schemas.refresh>;
      refuseSession(p.session);
      await gw.api.userCommand({
        op: 'refresh',
        user: p.user,
        ...(p.client ? { client: p.client } : {}),
        expired: p.expired === true,
        ...(p.expire_at ? { expireAt: p.expire_at } : {}),
      });
      return {};
    }
    case 'history': {
      const p = parsed.data as z.infer<typeof schemas.history>;
      const limit = p.limit === undefined ? 0 : p.limit === -1 ? Number.MAX_SAFE_INTEGER : p.limit;
      const since = positionOf(p.since, 'since');
      const h = await gw.api.history(p.channel, { limit, ...(since ? { since } : {}), ...(p.reverse ? { reverse: true } : {}) });
      let bytes = 0;
      for (const pub of h.publications) bytes += pub.data.length;
      if (bytes > budget.responseBytes) {
        gw.stats.limitRefusals.api_response_bytes++;
        throw new ApiError(
          106,
          `history: ${bytes} bytes of publications is more than this request may still return (api.maxResponseBytes ${gw.opts.api.maxResponseBytes}); page with limit and since`,
        );
      }
      budget.responseBytes -= bytes;
      return { publications: h.publications.map(pubJson), offset: h.position.offset, epoch: h.position.epoch };
    }
    case 'history_remove':
      await gw.api.removeHistory((parsed.data as { channel: string }).channel);
      return {};
    case 'presence':
      return { presence: await gw.api.presenceOf((parsed.data as { channel: string }).channel) };
    case 'presence_stats':
      return await gw.api.presenceStatsOf((parsed.data as { channel: string }).channel);
    case 'info':
      return gw.api.info();
    case 'channels': {
      const pattern = (parsed.data as { pattern?: string }).pattern;
      let glob: GlobMatcher | null = null;
      if (pattern !== undefined && pattern !== '') {
        glob = compileGlob(pattern);
        if (glob === null) throw new ApiError(107, 'pattern: invalid glob pattern');
      }
      const all = gw.api.channels();
      if (glob === null) return { channels: all };
      const out: typeof all = {};
      for (const [ch, info] of Object.entries(all)) {
        if (glob.match(ch)) out[ch] = info;
        if (glob.steps > MAX_GLOB_STEPS) {
          gw.stats.limitRefusals.api_pattern_steps++;
          throw new ApiError(106, `pattern: matching it against this node's channels takes more than ${MAX_GLOB_STEPS} steps; narrow it`);
        }
      }
      return { channels: out };
    }
  }
}

function asOutcome(e: unknown): { error: ErrorBody } {
  const a = toApiError(e);
  const error = { code: a.code, message: a.message };
  if (a.temporary) temporaryErrors.add(error);
  return { error };
}

/**
 * Runs one API method (or a batch) with its params: the outcome, never a throw. `budget` is the
 * HTTP request's (shared by the commands of a batch or pipe).
 */
export async function run(gw: Gateway, method: string, params: unknown, budget: RequestBudget = requestBudget(gw)): Promise<Outcome> {
  if (method === 'batch') return batch(gw, params, budget);
  if (!isMethod(method)) return methodNotFound(method);
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return failure(107, 'params: expected a JSON object');
  try {
    return { result: await call(gw, method, params as Record<string, unknown>, budget) };
  } catch (e) {
    return asOutcome(e);
  }
}

async function batch(gw: Gateway, body: unknown, budget: RequestBudget): Promise<Outcome> {
  const parsed = z.strictObject({ commands: z.array(z.record(z.string(), z.unknown())), parallel: z.boolean().optional() }).safeParse(body);
  if (parsed.success && parsed.data.commands.length > gw.opts.api.maxBatchCommands) {
    gw.stats.limitRefusals.api_batch_commands++;
    return failure(106, `commands: at most ${gw.opts.api.maxBatchCommands} per batch (api.maxBatchCommands)`);
  }
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    if (i.code === 'unrecognized_keys') return failure(107, `unknown field: ${i.keys.join(', ')}`);
    return failure(107, `${i.path.join('.') || 'params'}: ${i.message}`);
  }
  const one = async (c: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const keys = Object.keys(c);
    const m = keys[0];
    if (keys.length !== 1 || m === undefined || m === 'batch') return methodNotFound(m ?? '');
    const r = await run(gw, m, c[m], budget);
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
