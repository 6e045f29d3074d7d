/**
 * The server API over HTTP, as Centrifugo serves it: `POST /api/<method>` and the legacy
 * `POST /api` (commands `{"method","params"}`, several separated by "\n" — gocent's pipe —
 * answered one reply per line). Errors are HTTP 200 with `{"error": {code, message}}`; with
 * `X-Centrifugo-Error-Mode: transport` they become an HTTP status with `{code, message}`
 * (batch, broadcast and a pipe of several keep per-item errors).
 */
import type { Gateway } from '../core/gateway.js';
import { httpStatusOf } from '../protocol/codes.js';
import { failure, isTemporary, run, type Outcome } from './api.js';

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
    return {
      status: httpStatusOf(o.error.code, isTemporary(o.error)),
      body: JSON.stringify(o.error),
    };
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
