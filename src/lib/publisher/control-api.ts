/**
 * The control API (JSON, CORS enabled):
 *   POST /control {action: start|stop|configure, messagesPerSecond?, duration?, tokens?,
 *                  events?, profile?, rampSeconds?} → {success, message, stats?, configuration?}
 *   GET /stats, GET /health, GET /metrics.
 * Bad bodies get 400 with a message naming the field; unknown routes 404; a handler error is
 * a 500 answer, never a crash. Built apart from the server that listens (server.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  describeIssues,
  durationSchema,
  eventsSchema,
  profileSchema,
  rampSecondsSchema,
  rateSchema,
  tokensSchema,
  type Logger,
} from './options.js';
import type { PublisherMetrics } from './metrics.js';
import type { ConfigPatch, Publisher } from './publisher.js';
import type { EventSink } from './sinks/sink.js';

/** Largest accepted request body, bytes. */
const MAX_BODY_BYTES = 64 * 1024;

export const controlBodySchema = z.strictObject({
  action: z.enum(['start', 'stop', 'configure']),
  messagesPerSecond: rateSchema.optional(),
  duration: durationSchema.optional(),
  tokens: tokensSchema.optional(),
  events: eventsSchema.optional(),
  profile: profileSchema.optional(),
  rampSeconds: rampSecondsSchema.optional(),
});
export type ControlBody = z.infer<typeof controlBodySchema>;

export interface ControlApiDeps {
  readonly publisher: Publisher;
  readonly sink: EventSink;
  readonly metrics: PublisherMetrics;
  readonly logger: Logger;
  /** Process (server) start, ms. */
  readonly startedAt: number;
  readonly now: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type, authorization, x-api-key',
  'access-control-max-age': '600',
};

export function createControlApi(deps: ControlApiDeps): Handler {
  return (req, res) => {
    route(deps, req, res).catch((err: unknown) => {
      deps.logger.error({ err: err instanceof Error ? err.message : String(err), url: req.url }, 'control API handler failed');
      if (!res.headersSent) sendJson(res, 500, { success: false, message: 'internal error' });
      else res.destroy();
    });
  };
}

async function route(deps: ControlApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    res.writeHead(204, CORS_HEADERS).end();
    return;
  }
  switch (path) {
    case '/control':
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return control(deps, req, res);
    case '/stats':
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, statsBody(deps));
    case '/health':
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return health(deps, res);
    case '/metrics': {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { ...CORS_HEADERS, 'content-type': deps.metrics.registry.contentType }).end(text);
      return;
    }
    default:
      return sendJson(res, 404, { success: false, message: `no route ${method} ${path}` });
  }
}

async function control(deps: ControlApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  if (raw === null) return sendJson(res, 413, { success: false, message: `body larger than ${MAX_BODY_BYTES} bytes` });
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return sendJson(res, 400, { success: false, message: 'body is not valid JSON' });
  }
  const parsed = controlBodySchema.safeParse(json);
  if (!parsed.success) return sendJson(res, 400, { success: false, message: `invalid request: ${describeIssues(parsed.error)}` });
  const { action, ...rest } = parsed.data;
  const patch: ConfigPatch = rest;
  const p = deps.publisher;
  switch (action) {
    case 'start': {
      const outcome = p.start(patch);
      if (!outcome.ok)
        return sendJson(res, 409, {
          success: false,
          message: 'already publishing; stop first or use "configure"',
          stats: p.stats(),
          configuration: p.configuration,
        });
      return sendJson(res, 200, { success: true, message: 'publishing started', configuration: p.configuration });
    }
    case 'stop': {
      if (Object.keys(patch).length > 0) p.configure(patch);
      const wasRunning = await p.stop();
      return sendJson(res, 200, {
        success: true,
        message: wasRunning ? 'publishing stopped' : 'publishing was not running',
        stats: p.stats(),
        configuration: p.configuration,
      });
    }
    case 'configure':
      p.configure(patch);
      return sendJson(res, 200, {
        success: true,
        message: p.running ? 'configuration applied' : 'configuration saved',
        configuration: p.configuration,
      });
  }
}

function statsBody(deps: ControlApiDeps): object {
  const p = deps.publisher;
  return {
    success: true,
    stats: p.stats(),
    isPublishing: p.running,
    profile: p.configuration.profile,
    activeTokens: p.activeTokens,
    configuration: p.configuration,
    sink: deps.sink.info(),
  };
}

function health(deps: ControlApiDeps, res: ServerResponse): void {
  const sink = deps.sink.info();
  sendJson(res, sink.connected ? 200 : 503, {
    status: sink.connected ? 'healthy' : 'unhealthy',
    nats: sink.connected ? 'connected' : 'disconnected',
    sink,
    publishing: deps.publisher.running,
    uptime: Math.round((deps.now() - deps.startedAt) / 1000),
  });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { success: false, message: `method not allowed; use ${allow}` });
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { ...CORS_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

/** The body as text; null when it exceeds MAX_BODY_BYTES. */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
