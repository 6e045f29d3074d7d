/**
 * The gateway's HTTP app, built apart from the transport that listens: the server API
 * (`/api/<method>`, legacy `/api`), `/health`, `/ready`, `/metrics`, `/stats`, and the
 * decision for each WebSocket upgrade.
 */
import type { Registry } from 'prom-client';
import type { Gateway } from '../core/gateway.js';
import { figuresOf } from '../core/figures.js';
import type { Logger } from '../core/logger.js';
import type { HandshakeTracker, HttpReply, HttpRequest, ProtocolName, TransportHooks, UpgradeDecision } from '../core/transport.js';
import { readBody } from '../http/body.js';
import { AddressBackoff } from '../http/address-backoff.js';
import { json, Router } from '../http/router.js';
import { UNI_WS_PATH, WS_PATH } from '../protocol/addresses.js';
import { pickHeaders } from '../http/pick-headers.js';
import { ErrorCode } from '../protocol/codes.js';
import { checkApiKey } from '../http/api-key.js';
import { serveApi } from './api-http.js';
import {
  DEFAULT_EMULATION_MAX_BODY_BYTES,
  EMULATION_PATH,
  EmulationEndpoints,
  HTTP_STREAM_PATH,
  SSE_PATH,
  SSE_CONNECT_PARAM,
  UNI_HTTP_STREAM_PATH,
  UNI_JSON_ONLY,
  UNI_SSE_PATH,
  type SessionRouterFactory,
} from '../transport-emulation/emulation.js';

/** Wrong API keys one address may send in a minute; then it is refused (429), the right key too, until a minute after the first. */
export const API_KEY_FAILURES_PER_MINUTE = 10;
/** Largest API request body, bytes; more gets 413. */
export const MAX_API_BODY_BYTES = 1024 * 1024;
/** Time to receive a whole API request body, ms; slower gets 408. */
export const DEFAULT_BODY_TIMEOUT_MS = 8_000;

/** The client protocol of each WebSocket path (protocol/addresses.ts names them). */
export const WS_PATHS: Readonly<Record<string, ProtocolName>> = Object.freeze({
  [WS_PATH.odin]: 'odin',
  [WS_PATH.centrifuge]: 'centrifuge',
});

/**
 * What /metrics and /stats answer with in a worker of a process group (`--workers N`). Declared
 * here, by the app that reads it; `process-group.ts` implements it, so the arrow points one way.
 */
export interface GroupView {
  metrics(): Promise<string>;
  stats(): Promise<Record<string, unknown>>;
}

/** An app served under `path` (and everything below it) by the gateway's HTTP app. */
export interface MountedApp {
  readonly path: string;
  readonly methods: readonly string[];
  handle(req: HttpRequest, path: string): Promise<HttpReply> | HttpReply;
}

export interface GatewayAppOptions {
  readonly apiKey: string;
  readonly bodyTimeoutMs?: number;
  readonly log: Logger;
  /** In a worker of `--workers N`: /metrics and /stats answer for the whole process group. */
  readonly group?: GroupView | null;
  /**
   * Readiness conditions beside the broker's (an ingest's backbone connection), read at each
   * request: a check returns why the gateway is not ready, or null.
   */
  readonly readinessChecks?: ReadonlyMap<string, () => string | null>;
  /** Apps served under a path of their own (the dashboard at /dashboard: docs/dashboard.md). */
  readonly mounts?: readonly MountedApp[];
  /**
   * Whether a request carries the admin credential (the dashboard's token or session): /stats
   * then adds client addresses and process ids. Default: nobody (counts only).
   */
  readonly isAdmin?: (req: HttpRequest) => boolean;
  /**
   * Reaches the node of a session this node does not hold, for `/emulation` (over NATS with the
   * JetStream broker: other workers and other hosts); given this node's id and its local
   * delivery. Default: none (404 for other nodes' sessions).
   */
  readonly sessionRouter?: SessionRouterFactory;
}

const apiError = (status: number, code: ErrorCode, message: string): HttpReply => json(status, { error: { code, message } });

/** Why each failing readiness check fails, by name. */
function notReadyReasons(checks: ReadonlyMap<string, () => string | null> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, check] of checks ?? []) {
    const reason = check();
    if (reason !== null) out[name] = reason;
  }
  return out;
}

/** The routes, answers and upgrade decision of one gateway. */
export function createGatewayApp(gateway: Gateway, registry: Registry, opts: GatewayAppOptions): TransportHooks {
  const limits = { maxBytes: MAX_API_BODY_BYTES, timeoutMs: opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS };
  const router = new Router({
    // Outside /api only GET and HEAD exist: any other method is 405 before the path is looked at.
    notFound: (req) =>
      req.method !== 'GET' && req.method !== 'HEAD'
        ? apiError(405, ErrorCode.BadRequest, 'method not allowed')
        : apiError(404, ErrorCode.MethodNotFound, 'not found'),
    methodNotAllowed: (_req, allow) =>
      allow.includes('POST') ? apiError(405, ErrorCode.BadRequest, 'use POST') : apiError(405, ErrorCode.BadRequest, 'method not allowed'),
    failed: (req, err) => {
      opts.log.error({ err, url: req.url }, 'http handler failed');
      return apiError(500, ErrorCode.Internal, 'internal error');
    },
  });

  const keyBackoff = new AddressBackoff(API_KEY_FAILURES_PER_MINUTE, 60_000);
  const refusals = gateway.stats.authRefusals;
  async function api(req: HttpRequest, path: string): Promise<HttpReply> {
    // The key is checked before a byte of the body is read; a blocked address is refused first,
    // the right key included, so guessing through the 429s learns nothing.
    const wait = opts.apiKey === '' ? 0 : keyBackoff.blockedFor(req.ip);
    if (wait > 0) {
      refusals.api_key_blocked++;
      return {
        ...apiError(429, ErrorCode.TooManyRequests, 'too many wrong API keys from this address; try later'),
        headers: { 'content-type': 'application/json', 'retry-after': String(wait) },
        close: true,
      };
    }
    const apiKeyParam = new URL(req.url, 'http://localhost').searchParams.get('api_key');
    if (!checkApiKey(opts.apiKey, req.header('x-api-key'), req.header('authorization'), apiKeyParam)) {
      if (opts.apiKey !== '') {
        keyBackoff.failed(req.ip);
        refusals.api_key_wrong++;
      }
      return apiError(
        401,
        ErrorCode.Unauthorized,
        opts.apiKey === '' ? 'server API disabled: no API key configured' : 'unauthorized: bad or missing X-API-Key',
      );
    }
    const body = await readBody(req, limits);
    if (body === 'too_large')
      return { ...apiError(413, ErrorCode.BadRequest, `body larger than ${MAX_API_BODY_BYTES} bytes`), close: true };
    if (body === 'timeout' || body === 'aborted')
      return { ...apiError(408, ErrorCode.BadRequest, 'request body not received in time'), close: true };
    const r = await serveApi(gateway, path, body, req.header('x-centrifugo-error-mode'));
    return { status: r.status, headers: { 'content-type': 'application/json' }, body: r.body };
  }

  router
    .on('POST', '/api/*', api)
    .on('GET', '/health', () => {
      const reasons = notReadyReasons(opts.readinessChecks);
      return json(200, {
        status: gateway.isReady() && Object.keys(reasons).length === 0 ? 'healthy' : 'degraded',
        checks: {
          broker: gateway.broker.isReady() ? 'ok' : 'unavailable',
          draining: gateway.isDraining,
          ...Object.fromEntries([...(opts.readinessChecks?.keys() ?? [])].map((n) => [n, reasons[n] ?? 'ok'])),
        },
        uptime: Math.floor((Date.now() - gateway.startedAt) / 1000),
      });
    })
    .on('GET', '/ready', () => {
      const reasons = notReadyReasons(opts.readinessChecks);
      const ready = gateway.isReady() && Object.keys(reasons).length === 0;
      return json(ready ? 200 : 503, {
        ready,
        broker: gateway.broker.isReady(),
        draining: gateway.isDraining,
        ...(ready ? {} : { reasons }),
      });
    })
    .on('GET', '/metrics', async () => {
      const group = opts.group;
      if (!group) return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() };
      // A partial scrape would make counters jump: a failed one is honest (Prometheus marks it down).
      return group.metrics().then(
        (body) => ({ status: 200, headers: { 'content-type': registry.contentType }, body }),
        (err: unknown) => apiError(503, ErrorCode.Internal, (err as Error).message),
      );
    })
    .on('GET', '/stats', async (req) => {
      // Client addresses and process ids only with the admin credential (docs/operations.md).
      const full = opts.isAdmin?.(req) === true;
      const view = (st: Record<string, unknown>): HttpReply => json(200, full ? st : publicStats(st));
      if (!opts.group) return view(statsOf(gateway));
      return opts.group.stats().then(view, (err: unknown) => apiError(503, ErrorCode.Internal, (err as Error).message));
    });
  const handshakes = new PendingHandshakes(gateway);
  const emu = new EmulationEndpoints(gateway, gateway.frames, {
    maxBodyBytes: DEFAULT_EMULATION_MAX_BODY_BYTES,
    bodyTimeoutMs: limits.timeoutMs,
    nodeId: gateway.nodeId,
    originAllowed: (o) => gateway.originAllowed(o),
    publicationOf: (f) => gateway.hub.framer.publicationOf(f),
    proxyHeaders: proxyHeaderNames(gateway),
    // The stream's own socket is counted there until the stream takes it.
    waiting: (ip) => ({ total: Math.max(0, handshakes.total - 1), fromIp: Math.max(0, handshakes.fromIp(ip) - 1) }),
  });
  // Sessions of other nodes (other workers of `--workers N`, other hosts) are reached through it.
  emu.router = opts.sessionRouter?.(gateway.nodeId, emu.deliverLocal) ?? null;
  router
    .on('POST', HTTP_STREAM_PATH, emu.withCors(emu.httpStream))
    .on(['GET', 'POST'], SSE_PATH, emu.withCors(emu.sse))
    .on('POST', EMULATION_PATH, emu.withCors(emu.emulation))
    .on('OPTIONS', HTTP_STREAM_PATH, emu.preflight)
    .on('OPTIONS', SSE_PATH, emu.preflight)
    .on('OPTIONS', EMULATION_PATH, emu.preflight);
  if (gateway.opts.uniTransports) {
    router
      .on(['GET', 'POST'], UNI_SSE_PATH, emu.withCors(emu.uniSse))
      .on('POST', UNI_HTTP_STREAM_PATH, emu.withCors(emu.uniHttpStream))
      .on('OPTIONS', UNI_SSE_PATH, emu.preflight)
      .on('OPTIONS', UNI_HTTP_STREAM_PATH, emu.preflight);
  }
  for (const m of opts.mounts ?? []) router.on(m.methods, m.path + '/*', m.handle);

  return { http: router.handle, upgrade: (req) => decideUpgrade(gateway, req, handshakes), acceptor: gateway, handshakes };
}

/**
 * Open sockets no client holds: half-sent handshakes, HTTP requests (their body still arriving
 * included) and keep-alive sockets, ended streams whose socket is still open. Each holds a slot
 * of `maxConnections` and of its address's `maxConnectionsPerIp` (upgrade and stream admission
 * count them); past either limit a new one is dropped at accept. The transport cuts them at its
 * header, body, keep-alive and stream-end deadlines.
 */
export class PendingHandshakes implements HandshakeTracker {
  total = 0;
  private readonly byIp = new Map<string, number>();

  constructor(private readonly gateway: Gateway) {}

  fromIp(ip: string): number {
    return this.byIp.get(ip) ?? 0;
  }

  opened(ip: string): boolean {
    const o = this.gateway.opts;
    const fromIp = this.fromIp(ip);
    if (this.total >= o.maxConnections) return this.refused('max_connections');
    if (o.maxConnectionsPerIp > 0 && fromIp >= o.maxConnectionsPerIp) return this.refused('max_connections_per_ip');
    this.total++;
    this.byIp.set(ip, fromIp + 1);
    return true;
  }

  held(ip: string): void {
    this.total++;
    this.byIp.set(ip, this.fromIp(ip) + 1);
  }

  settled(ip: string): void {
    this.total--;
    const n = this.fromIp(ip) - 1;
    if (n > 0) this.byIp.set(ip, n);
    else this.byIp.delete(ip);
  }

  private refused(reason: 'max_connections' | 'max_connections_per_ip'): false {
    this.gateway.stats.rejected[reason]++;
    return false;
  }
}

/** A Sec-WebSocket-Key is the base64 of 16 bytes. */
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * Decides an upgrade: the path picks the protocol; the
 * handshake must be valid RFC 6455 (version 13, or 8 as `ws` accepts); then origin, limits
 * and draining are the gateway's admission.
 */
export function decideUpgrade(gateway: Gateway, req: HttpRequest, pending?: PendingHandshakes): UpgradeDecision {
  const url = new URL(req.url, 'http://localhost');
  const uni = gateway.opts.uniTransports && url.pathname === UNI_WS_PATH;
  const protocol = uni ? 'centrifuge' : WS_PATHS[url.pathname];
  if (!protocol) {
    gateway.stats.rejected.bad_path++;
    return { ok: false, status: 404, reason: `unknown WebSocket path; use ${WS_PATH.odin} (Odin) or ${WS_PATH.centrifuge} (Centrifugo)` };
  }
  if (req.method !== 'GET') return { ok: false, status: 405, reason: 'a WebSocket handshake is a GET', headers: { Allow: 'GET' } };
  const version = req.header('sec-websocket-version');
  if (version !== '13' && version !== '8')
    return {
      ok: false,
      status: 400,
      reason: 'missing or unsupported Sec-WebSocket-Version',
      headers: { 'Sec-WebSocket-Version': '13, 8' },
    };
  if (!WS_KEY.test(req.header('sec-websocket-key') ?? ''))
    return { ok: false, status: 400, reason: 'missing or invalid Sec-WebSocket-Key' };
  const origin = req.header('origin');
  const token = tokenFrom(req.header('authorization'), url);
  // The Centrifugo protobuf protocol is chosen by subprotocol on the same path.
  const binary =
    protocol === 'centrifuge' && (req.header('sec-websocket-protocol') ?? '').split(',').some((p) => p.trim() === 'centrifuge-protobuf');
  // uni_websocket speaks JSON only, as Centrifugo's: a client asking for protobuf is told so
  // (selecting the subprotocol and sending JSON would garble it).
  if (uni && binary) return { ok: false, status: 400, reason: UNI_JSON_ONLY };
  const info = {
    protocol,
    ip: req.ip,
    ...(origin !== undefined ? { origin } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(binary ? { binary: true } : {}),
    ...(uni ? uniInfo(url) : {}),
    ...proxyHeadersOf(gateway, req),
  };
  const admission = gateway.admit(info, pending ? { total: pending.total, fromIp: pending.fromIp(req.ip) } : undefined);
  if (admission.ok) return { ok: true, info };
  return admission.retryAfterSeconds === undefined
    ? admission
    : { ...admission, headers: { 'Retry-After': String(admission.retryAfterSeconds) } };
}

/** The names of the client headers any proxy passes on (`proxy.*.headers`). */
export function proxyHeaderNames(gateway: Gateway): readonly string[] {
  const p = gateway.opts.proxy;
  return [...new Set([...p.connect.headers, ...p.subscribe.headers, ...p.publish.headers, ...p.refresh.headers])];
}

/** The request's headers the proxies pass on, when any are configured. */
function proxyHeadersOf(gateway: Gateway, req: HttpRequest): { headers?: Record<string, string> } {
  const names = proxyHeaderNames(gateway);
  return names.length === 0 ? {} : { headers: pickHeaders(req, names) };
}

/** uni_websocket: liveness by WebSocket pings; the connect request from `cf_connect` if given (else the first message). */
function uniInfo(url: URL): { uni: 'websocket'; transport: string; connectRequest?: string } {
  const connect = url.searchParams.get(SSE_CONNECT_PARAM);
  return connect
    ? { uni: 'websocket', transport: 'uni_websocket', connectRequest: connect }
    : { uni: 'websocket', transport: 'uni_websocket' };
}

function tokenFrom(authorization: string | undefined, url: URL): string | undefined {
  const q = url.searchParams.get('token');
  if (q) return q;
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7);
  return undefined;
}

/** /stats of this process: the gateway's figures (core/figures.ts), its memory, and its busiest client addresses. */
export function statsOf(gw: Gateway): Record<string, unknown> {
  const { draining: _draining, connectsTotal: _connects, ...figures } = figuresOf(gw);
  const mem = process.memoryUsage();
  return {
    ...figures,
    memory: { rss: mem.rss, heapUsed: mem.heapUsed },
    // Distinct client addresses (`addresses`; with --workers: summed over the workers); the list is admin-only.
    ips: topIps(gw.connectionsByIp, STATS_TOP_IPS),
  };
}

/**
 * /stats for anyone: counts only — the number of client addresses instead of the list, no
 * process ids. The admin credential (dashboard token or session) gets the full view.
 */
export function publicStats(st: Record<string, unknown>): Record<string, unknown> {
  const { ips: _ips, pid: _pid, perWorker, ...rest } = st;
  const out: Record<string, unknown> = { ...rest };
  if (Array.isArray(perWorker))
    out.perWorker = perWorker.map((w: Record<string, unknown>) => {
      const { pid: _p, ...r } = w;
      return r;
    });
  return out;
}

/** Client addresses listed in /stats, most connections first. */
const STATS_TOP_IPS = 50;

function topIps(byIp: ReadonlyMap<string, number>, n: number): { ip: string; connections: number }[] {
  return [...byIp]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([ip, connections]) => ({ ip, connections }));
}
