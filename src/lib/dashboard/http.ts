/** JSON in and out for the dashboard's routes: bounded bodies, stable error shapes, no caching. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../protocol/codes.js';

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
  ) {}
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  sendJson(res, e.status, { error: { code: e.code, message: e.message } }, e.retryAfter > 0 ? { 'retry-after': e.retryAfter } : {});
}

export const badRequest = (message: string): HttpError => new HttpError(400, ErrorCode.BadRequest, message);

/**
 * The body as a JSON object. Only `application/json` is read: an HTML form cannot send it
 * cross-site without a CORS preflight, which this server never grants.
 */
export function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown> | HttpError> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    return Promise.resolve(new HttpError(415, ErrorCode.BadRequest, 'content-type must be application/json'));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (v: Record<string, unknown> | HttpError): void => {
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      done(new HttpError(408, ErrorCode.BadRequest, 'request body not received in time'));
      req.destroy();
    }, BODY_TIMEOUT_MS);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_ADMIN_BODY_BYTES) chunks.push(c);
      else if (size > 16 * MAX_ADMIN_BODY_BYTES) req.destroy();
    });
    req.on('error', () => done(new HttpError(400, ErrorCode.BadRequest, 'request body unreadable')));
    req.on('end', () => {
      if (size > MAX_ADMIN_BODY_BYTES)
        return done(new HttpError(413, ErrorCode.BadRequest, `body larger than ${MAX_ADMIN_BODY_BYTES} bytes`));
      let v: unknown;
      try {
        v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return done(badRequest('invalid JSON body'));
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return done(badRequest('body must be a JSON object'));
      done(v as Record<string, unknown>);
    });
  });
}
