/**
 * The control API (JSON, CORS enabled):
 *   POST /control {action: start|stop|configure, messagesPerSecond?, duration?, tokens?,
 *                  events?, profile?, rampSeconds?} → {success, message, stats?, configuration?}
 *   GET /stats, GET /health, GET /metrics. With a control key, POST /control needs it (401 otherwise).
 * Bad bodies get 400 with a message naming the field; unknown routes 404; a handler error is
 * a 500 answer, never a crash. Built apart from the server that listens (server.ts), on the
 * shared HTTP layer (src/lib/http): the same router and body reader as the gateway's API.
 */
import { z } from 'zod';
import type { HttpReply, HttpRequest } from '../core/transport.js';
import { readBody } from '../http/body.js';
import { checkApiKey } from '../http/api-key.js';
import { json, Router } from '../http/router.js';
import { describeIssues, durationSchema, eventsSchema, profileSchema, rampSecondsSchema, rateSchema, tokensSchema } from './options.js';
import type { Logger } from '../core/logger.js';
import type { PublisherMetrics } from './metrics.js';
import type { ConfigPatch, Publisher } from './publisher.js';
import type { EventSink } from './sinks/sink.js';

/** Largest accepted request body, bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** Time to receive a request body, ms. */
const BODY_TIMEOUT_MS = 10_000;

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
  /** Key POST /control requires; '' = none (the server listens on loopback only). */
  readonly controlKey: string;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type, authorization, x-api-key',
  'access-control-max-age': '600',
};

/** A JSON answer in the control API's shape, with CORS. */
function send(status: number, body: object, headers: Record<string, string> = {}): HttpReply {
  return json(status, body, { ...CORS_HEADERS, ...headers });
}

/** The control API as an HTTP handler (served by `NodeHttpServer` in server.ts). */
export function createControlApi(deps: ControlApiDeps): (req: HttpRequest) => Promise<HttpReply> {
  const router = new Router({
    notFound: (req, path) => send(404, { success: false, message: `no route ${req.method} ${path}` }),
    methodNotAllowed: (_req, allow) => {
      const a = allow.filter((m) => m !== 'HEAD').join(', ');
      return send(405, { success: false, message: `method not allowed; use ${a}` }, { allow: a });
    },
    failed: (req, err) => {
      deps.logger.error({ err: err instanceof Error ? err.message : String(err), url: req.url }, 'control API handler failed');
      return send(500, { success: false, message: 'internal error' });
    },
  });
  return router
    .on('OPTIONS', '*', () => ({ status: 204, headers: CORS_HEADERS, body: '' }))
    .on('POST', '/control', (req) => {
      // The key is checked before a byte of the body is read.
      if (deps.controlKey !== '' && !checkApiKey(deps.controlKey, req.header('x-api-key'), req.header('authorization')))
        return send(401, { success: false, message: 'unauthorized: the control API needs its key (X-API-Key)' });
      return control(deps, req);
    })
    .on('GET', '/stats', () => send(200, statsBody(deps)))
    .on('GET', '/health', () => health(deps))
    .on('GET', '/metrics', async () => ({
      status: 200,
      headers: { ...CORS_HEADERS, 'content-type': deps.metrics.registry.contentType },
      body: await deps.metrics.registry.metrics(),
    })).handle;
}

async function control(deps: ControlApiDeps, req: HttpRequest): Promise<HttpReply> {
  const raw = await readBody(req, { maxBytes: MAX_BODY_BYTES, timeoutMs: BODY_TIMEOUT_MS });
  if (raw === 'too_large') return { ...send(413, { success: false, message: `body larger than ${MAX_BODY_BYTES} bytes` }), close: true };
  if (raw === 'timeout' || raw === 'aborted')
    return { ...send(408, { success: false, message: 'request body not received in time' }), close: true };
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return send(400, { success: false, message: 'body is not valid JSON' });
  }
  const parsed = controlBodySchema.safeParse(body);
  if (!parsed.success) return send(400, { success: false, message: `invalid request: ${describeIssues(parsed.error)}` });
  const { action, ...rest } = parsed.data;
  const patch: ConfigPatch = rest;
  const p = deps.publisher;
  switch (action) {
    case 'start': {
      const outcome = p.start(patch);
      if (!outcome.ok)
        return send(409, {
          success: false,
          message: 'already publishing; stop first or use "configure"',
          stats: p.stats(),
          configuration: p.configuration,
        });
      return send(200, { success: true, message: 'publishing started', configuration: p.configuration });
    }
    case 'stop': {
      if (Object.keys(patch).length > 0) p.configure(patch);
      const wasRunning = await p.stop();
      return send(200, {
        success: true,
        message: wasRunning ? 'publishing stopped' : 'publishing was not running',
        stats: p.stats(),
        configuration: p.configuration,
      });
    }
    case 'configure':
      p.configure(patch);
      return send(200, {
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

function health(deps: ControlApiDeps): HttpReply {
  const sink = deps.sink.info();
  return send(sink.connected ? 200 : 503, {
    status: sink.connected ? 'healthy' : 'unhealthy',
    nats: sink.connected ? 'connected' : 'disconnected',
    sink,
    publishing: deps.publisher.running,
    uptime: Math.round((deps.now() - deps.startedAt) / 1000),
  });
}
