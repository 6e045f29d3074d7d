/**
 * The server HTTP API, with Centrifugo's request and response shapes (`POST /api/<method>`,
 * `X-API-Key`), so its server SDKs work. Every outcome is JSON; bad input is a 4xx with a code.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Gateway } from '../core/gateway.js';
import type { Publication } from '../core/broker.js';
import { DISCONNECT_CODE_MAX, DISCONNECT_CODE_MIN, ErrorCode, isProtocolError, MAX_CLOSE_REASON_BYTES } from '../protocol/codes.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../protocol/limits.js';
import { parseStreamPosition } from '../protocol/position.js';
import { ApiError, httpStatusOf, toApiError } from './api-errors.js';

const channel = z.string().min(1).max(255);
const tags = z.record(z.string(), z.string());

const schemas = {
  publish: z.object({
    channel,
    data: z.unknown(),
    idempotency_key: z.string().max(256).optional(),
    tags: tags.optional(),
    skip_history: z.boolean().optional(),
  }),
  broadcast: z.object({
    channels: z.array(channel).min(1).max(10_000),
    data: z.unknown(),
    idempotency_key: z.string().max(256).optional(),
    tags: tags.optional(),
  }),
  // `since` is checked by the one stream position parser (protocol/position.ts).
  history: z.object({
    channel,
    limit: z.number().int().min(-1).optional(),
    since: z.unknown().optional(),
    reverse: z.boolean().optional(),
  }),
  presence: z.object({ channel }),
  presence_stats: z.object({ channel }),
  disconnect: z.object({
    user: z.string().min(1),
    client: z.string().optional(),
    disconnect: z
      .object({
        code: z.number().int().min(DISCONNECT_CODE_MIN).max(DISCONNECT_CODE_MAX),
        reason: z.string().max(MAX_CLOSE_REASON_BYTES),
      })
      .optional(),
  }),
  info: z.object({}).passthrough(),
  channels: z.object({ pattern: z.string().optional() }).passthrough(),
} as const;

type Method = keyof typeof schemas;
export const API_METHODS = [...Object.keys(schemas), 'batch'] as const;

function isMethod(m: string): m is Method {
  return Object.hasOwn(schemas, m);
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Most commands in one `batch` call. */
export const MAX_BATCH_COMMANDS = 1000;

function err(code: ErrorCode, message: string, temporary = false): ApiResponse {
  return { status: httpStatusOf({ code, message, temporary }), body: { error: { code, message } } };
}

export function checkApiKey(expected: string, header: string | undefined, authorization: string | undefined): boolean {
  if (expected === '') return false;
  let given = header;
  if (given === undefined && authorization?.toLowerCase().startsWith('apikey ')) given = authorization.slice(7).trim();
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

/** The payload as JSON text; refused (107) when absent or nested deeper than MAX_JSON_DEPTH. */
function jsonText(data: unknown): string {
  if (data === undefined) throw new ApiError(ErrorCode.BadRequest, 'data: required');
  if (jsonTooDeep(data)) throw new ApiError(ErrorCode.BadRequest, `data: nests deeper than ${MAX_JSON_DEPTH} levels`);
  return JSON.stringify(data);
}

async function call(gw: Gateway, method: Method, params: unknown): Promise<unknown> {
  const parsed = schemas[method].safeParse(params);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ApiError(ErrorCode.BadRequest, `${i.path.join('.') || 'params'}: ${i.message}`);
  }
  switch (method) {
    case 'publish': {
      const p = parsed.data as z.infer<typeof schemas.publish>;
      const data = jsonText(p.data);
      const t = typeTag(p.data, p.tags);
      const pos = await gw.publish({
        channel: p.channel,
        data,
        ...(p.idempotency_key ? { idempotencyKey: p.idempotency_key } : {}),
        ...(t ? { tags: t } : {}),
      });
      return { offset: pos.offset, epoch: pos.epoch };
    }
    case 'broadcast': {
      const p = parsed.data as z.infer<typeof schemas.broadcast>;
      const data = jsonText(p.data);
      const t = typeTag(p.data, p.tags);
      const responses = await Promise.all(
        p.channels.map(async (ch) => {
          try {
            const pos = await gw.publish({
              channel: ch,
              data,
              ...(p.idempotency_key ? { idempotencyKey: p.idempotency_key } : {}),
              ...(t ? { tags: t } : {}),
            });
            return { result: { offset: pos.offset, epoch: pos.epoch } };
          } catch (e) {
            const a = toApiError(e);
            return { error: { code: a.code, message: a.message } };
          }
        }),
      );
      return { responses };
    }
    case 'history': {
      const p = parsed.data as z.infer<typeof schemas.history>;
      const limit = p.limit === undefined ? 0 : p.limit === -1 ? Number.MAX_SAFE_INTEGER : p.limit;
      const since = p.since === undefined ? undefined : parseStreamPosition(p.since, 'since');
      if (isProtocolError(since)) throw new ApiError(since.code, since.message);
      const h = await gw.history(p.channel, { limit, ...(since ? { since } : {}), ...(p.reverse ? { reverse: true } : {}) });
      return { publications: h.publications.map(pubJson), offset: h.position.offset, epoch: h.position.epoch };
    }
    case 'presence':
      return { presence: gw.presenceOf((parsed.data as { channel: string }).channel) };
    case 'presence_stats':
      return gw.presenceStatsOf((parsed.data as { channel: string }).channel);
    case 'disconnect': {
      const p = parsed.data as z.infer<typeof schemas.disconnect>;
      gw.disconnectUser(p.user, p.client, p.disconnect ?? undefined);
      return {};
    }
    case 'info':
      return gw.info();
    case 'channels':
      return { channels: gw.channels() };
  }
}

/** Runs one API method (or a batch) and maps the outcome to a status and a JSON body. */
export async function handleApi(gw: Gateway, method: string, body: unknown): Promise<ApiResponse> {
  if (method === 'batch') {
    const commands = (body as { commands?: unknown } | null)?.commands;
    if (!Array.isArray(commands) || commands.length > MAX_BATCH_COMMANDS)
      return err(ErrorCode.BadRequest, `commands: expected an array of at most ${MAX_BATCH_COMMANDS} commands`);
    const replies = [];
    for (const c of commands) {
      const m = typeof c === 'object' && c !== null ? Object.keys(c)[0] : undefined;
      if (m === undefined || !isMethod(m)) {
        replies.push({ error: { code: ErrorCode.MethodNotFound, message: 'method not found' } });
        continue;
      }
      try {
        replies.push({ [m]: await call(gw, m, (c as Record<string, unknown>)[m]) });
      } catch (e) {
        const a = toApiError(e);
        replies.push({ error: { code: a.code, message: a.message } });
      }
    }
    return { status: 200, body: { replies } };
  }
  if (!isMethod(method)) return err(ErrorCode.MethodNotFound, `method not found: ${method.slice(0, 64)}`);
  try {
    return { status: 200, body: { result: await call(gw, method, body) } };
  } catch (e) {
    const a = toApiError(e);
    return err(a.code, a.message, a.temporary);
  }
}
