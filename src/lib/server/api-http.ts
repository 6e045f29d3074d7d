/**
 * The server API over HTTP, as Centrifugo serves it: `POST /api/<method>` and the legacy
 * `POST /api` (commands `{"method","params"}`, several separated by "\n" — gocent's pipe —
 * answered one reply per line). Errors are HTTP 200 with `{"error": {code, message}}`; with
 * `X-Centrifugo-Error-Mode: transport` they become an HTTP status with `{code, message}`
 * (batch, broadcast and a pipe of several keep per-item errors).
 */
import type { Gateway } from '../core/gateway.js';
import { httpStatusOf } from '../protocol/codes.js';
import { withoutLineFeeds, parseJsonKeeping, stringifyKeeping, utf8Text } from '../protocol/json-text.js';
import { failure, hasApiRoute, methodNotFound, isTemporary, requestBudget, run, type Outcome } from './api.js';

/**
 * `data` members (any letter case, as Go reads field names) are kept as the text that arrived
 * and carried byte for byte; the rest of a body is parsed as usual.
 */
const isDataKey = (key: string): boolean => key.length === 4 && key.toLowerCase() === 'data';

function parseBody(text: string): unknown {
  return parseJsonKeeping(text, isDataKey);
}

const NOT_UTF8 = 'bad request: body is not valid UTF-8';

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
  const method = path === '/api' ? '' : path.slice(5);
  const text = utf8Text(body);
  if (text === null) return respond(failure(107, NOT_UTF8), transport && method !== 'batch' && method !== 'broadcast');
  if (path === '/api') return servePipe(gw, text, transport);
  // Centrifugo has no route for an unknown method: HTTP 404 in both modes, the body saying 104
  // (the legacy `/api` answers 104 in a 200 body, as Centrifugo's does).
  if (!hasApiRoute(method)) return respond(methodNotFound(method), true);
  let params: unknown = {};
  let outcome: Outcome;
  if (text.trim() !== '') {
    try {
      params = parseBody(text);
    } catch {
      outcome = failure(107, 'bad request: invalid JSON body');
      return respond(outcome, transport && method !== 'batch' && method !== 'broadcast');
    }
  }
  outcome = await run(gw, method, params, requestBudget(gw));
  // Batch answers `{"replies": [...]}` at the top level, as Centrifugo does.
  if (method === 'batch' && 'result' in outcome) return { status: 200, body: stringifyKeeping(outcome.result) };
  return respond(outcome, transport && method !== 'batch' && method !== 'broadcast');
}

function respond(o: Outcome, transport: boolean): ApiHttpResponse {
  if (transport && 'error' in o)
    return {
      status: httpStatusOf(o.error.code, isTemporary(o.error)),
      body: JSON.stringify(o.error),
    };
  return { status: 200, body: stringifyKeeping(o) };
}

/** The legacy endpoint: `{"method","params"}` commands, one per line, one reply line each. */
async function servePipe(gw: Gateway, text: string, transport: boolean): Promise<ApiHttpResponse> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return respond(failure(107, 'bad request: empty body; send {"method": ..., "params": ...}'), transport);
  if (lines.length > gw.opts.api.maxBatchCommands) {
    gw.stats.limitRefusals.api_batch_commands++;
    return respond(
      failure(106, `bad request: at most ${gw.opts.api.maxBatchCommands} commands per request (api.maxBatchCommands)`),
      transport,
    );
  }
  const budget = requestBudget(gw);
  const replies: Outcome[] = [];
  let method = '';
  for (const line of lines) {
    let cmd: unknown;
    try {
      cmd = parseBody(line);
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
    replies.push(await run(gw, c.method, c.params ?? {}, budget));
  }
  if (replies.length === 1) return respond(replies[0]!, transport && method !== 'batch' && method !== 'broadcast');
  // One reply a line: a payload's raw line feeds (whitespace) are left out there.
  return { status: 200, body: replies.map((r) => withoutLineFeeds(stringifyKeeping(r))).join('\n') };
}
