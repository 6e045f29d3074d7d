/**
 * The one HTTP router for the gateway's and the publisher's APIs. It routes the transport's
 * `HttpRequest` (the app's own view of a request, which `NodeHttpServer` adapts node:http to) to
 * handlers that return a whole `HttpReply`.
 *
 * Why our own ~70 lines and not fastify or find-my-way: fastify owns node's server, which the
 * transport owns here (it takes the WebSocket upgrades on the same port); and the two APIs
 * have a handful of exact paths plus one prefix, where find-my-way would replace a Map lookup.
 * What we do need in one place is what each API answers for 404/405/handler failure (their
 * JSON shapes differ), which the `Answers` below carry.
 */
import type { HttpReply, HttpRequest } from '../core/transport.js';

/** Reason phrases of the statuses our APIs answer. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export type RouteHandler = (req: HttpRequest, path: string) => Promise<HttpReply> | HttpReply;

/** How an API answers what no handler does. */
export interface Answers {
  notFound(req: HttpRequest, path: string): HttpReply;
  methodNotAllowed(req: HttpRequest, allow: readonly string[]): HttpReply;
  /** A handler threw: log it and answer (never a raw stack trace). */
  failed(req: HttpRequest, err: unknown): HttpReply;
}

/** A JSON reply; `headers` are added to the content type and length. */
export function json(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): HttpReply {
  return { status, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export class Router {
  private readonly exact = new Map<string, Map<string, RouteHandler>>();
  private readonly prefixes: { prefix: string; methods: Map<string, RouteHandler> }[] = [];
  private readonly anyPath = new Map<string, RouteHandler>();

  constructor(private readonly answers: Answers) {}

  /**
   * `path` is exact, or ends in `/*` for a prefix (the bare prefix matches too), or is `*` for
   * every path (checked first: e.g. CORS preflight). GET routes answer HEAD as well.
   */
  on(methods: string | readonly string[], path: string, handler: RouteHandler): this {
    let table: Map<string, RouteHandler>;
    if (path === '*') table = this.anyPath;
    else if (path.endsWith('/*')) {
      table = new Map();
      this.prefixes.push({ prefix: path.slice(0, -2), methods: table });
    } else {
      table = this.exact.get(path) ?? new Map();
      this.exact.set(path, table);
    }
    for (const m of typeof methods === 'string' ? [methods] : methods) {
      table.set(m, handler);
      if (m === 'GET' && !table.has('HEAD')) table.set('HEAD', handler);
    }
    return this;
  }

  /** Answers a request; never rejects. */
  readonly handle = async (req: HttpRequest): Promise<HttpReply> => {
    const path = pathOf(req.url);
    try {
      const global = this.anyPath.get(req.method);
      if (global) return await global(req, path);
      const methods = this.exact.get(path) ?? this.prefixes.find((p) => path === p.prefix || path.startsWith(p.prefix + '/'))?.methods;
      if (!methods) return this.answers.notFound(req, path);
      const handler = methods.get(req.method);
      if (!handler) return this.answers.methodNotAllowed(req, [...methods.keys()]);
      return await handler(req, path);
    } catch (err) {
      return this.answers.failed(req, err);
    }
  };
}
