/** JSON in and out for the dashboard's routes: bounded bodies, stable error shapes, no caching. */
import type { HttpReply, HttpRequest } from '../core/transport.js';
import { readBody } from '../http/body.js';
import { json } from '../http/router.js';
import { ErrorCode } from '../protocol/codes.js';
import { parseJsonKeeping, utf8Text } from '../protocol/json-text.js';

/** Largest admin request body, bytes (a publish payload fits; more gets 413). */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;

/** A refusal with its HTTP status and its documented code (docs/dashboard.md). */
export class HttpError {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly message: string,
    /** Seconds, sent as Retry-After (429); 0 for none. */
    readonly retryAfter = 0,
    /** Ask the transport to end the connection (a body left unread). */
    readonly close = false,
  ) {}
}

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
  return json(status, body, { ...NO_STORE, ...headers });
}

export function errorReply(e: HttpError): HttpReply {
  const r = jsonReply(
    e.status,
    { error: { code: e.code, message: e.message } },
    e.retryAfter > 0 ? { 'retry-after': String(e.retryAfter) } : {},
  );
  return e.close ? { ...r, close: true } : r;
}

export const badRequest = (message: string): HttpError => new HttpError(400, ErrorCode.BadRequest, message);

/**
 * The body as a JSON object (strict UTF-8). Only `application/json` is read: an HTML form cannot send it
 * cross-site without a CORS preflight, which this server never grants. Like readBody, must be
 * called before the handler's first await.
 */
export async function readJsonObject(req: HttpRequest, keepData = false): Promise<Record<string, unknown>> {
  const type = (req.header('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, ErrorCode.BadRequest, 'content-type must be application/json');
  const body = await readBody(req, { maxBytes: MAX_ADMIN_BODY_BYTES, timeoutMs: BODY_TIMEOUT_MS });
  if (body === 'too_large') throw new HttpError(413, ErrorCode.BadRequest, `body larger than ${MAX_ADMIN_BODY_BYTES} bytes`, 0, true);
  if (body === 'timeout' || body === 'aborted')
    throw new HttpError(408, ErrorCode.BadRequest, 'request body not received in time', 0, true);
  let v: unknown;
  try {
    // keepData: a top-level `data` stays the text that arrived (RawJson), published byte for byte.
    const text = utf8Text(body);
    if (text === null) throw new TypeError('not UTF-8');
    v = keepData ? parseJsonKeeping(text, (k) => k === 'data') : JSON.parse(text);
  } catch {
    throw badRequest('invalid JSON body');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('body must be a JSON object');
  return v as Record<string, unknown>;
}
