/**
 * The gateway's HTTP server: WebSocket upgrades for both protocols, the server API, health,
 * readiness, metrics and stats, all on one port. Built separately from `listen` so tests can
 * start it on port 0.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { Broker } from '../core/broker.js';
import { MemoryBroker } from '../core/broker-memory.js';
import { Gateway } from '../core/gateway.js';
import { resolveGatewayOptions, type GatewayOptions, type GatewayOptionsInput } from '../core/options.js';
import { silentLogger, type Logger } from '../core/stats.js';
import type { ConnectionInfo } from '../core/transport.js';
import { WsTransport } from '../transport-ws/ws-transport.js';
import { loadUwsTransport, type UpgradeDecision, type UwsTransport } from '../transport-uws/uws-transport.js';
import { checkApiKey, serveApi } from './api.js';
import { createMetrics } from './metrics.js';

/** Largest API request body, bytes; more gets 413. */
export const MAX_API_BODY_BYTES = 1024 * 1024;
/** Time to receive a whole API request body, ms. */
const BODY_TIMEOUT_MS = 10_000;

export const WS_PATHS: Readonly<Record<string, ConnectionInfo['protocol']>> = {
  '/ws': 'odin',
  '/connection/websocket': 'centrifuge',
};

export interface StartGatewayDeps {
  readonly broker?: Broker;
  readonly log?: Logger;
  /**
   * 'uws': uWebSockets.js owns the public port, serves the upgrades and forwards plain HTTP
   * to this module's server on an internal loopback port. When it does not load, a warning
   * is logged and `ws` is used. Default 'ws'.
   */
  readonly transport?: 'ws' | 'uws';
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly options: GatewayOptions;
  readonly server: Server;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  readonly registry: Registry;
  /** Graceful shutdown: not ready, clients told to reconnect, broker closed, server closed. */
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Beyond this many bytes an oversized body is cut off instead of read to its end. */
const DISCARD_LIMIT_BYTES = 16 * MAX_API_BODY_BYTES;

function readBody(req: IncomingMessage): Promise<Buffer | 'too_large' | 'timeout'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => resolve('timeout'), BODY_TIMEOUT_MS);
    req.on('data', (c: Buffer) => {
      size += c.length;
      // An oversized body is read to its end and dropped, so the client gets its 413
      // instead of a reset connection; past the discard limit the connection is cut.
      if (size > DISCARD_LIMIT_BYTES) req.destroy();
      else if (size <= MAX_API_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(size > MAX_API_BODY_BYTES ? 'too_large' : Buffer.concat(chunks));
    });
    req.on('error', () => {
      clearTimeout(timer);
      resolve('timeout');
    });
  });
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  const statusText =
    { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function tokenFrom(authorization: string | undefined, url: URL): string | undefined {
  const q = url.searchParams.get('token');
  if (q) return q;
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7);
  return undefined;
}

/** Decides an upgrade (either transport): the connection's facts, or an HTTP refusal. */
function decideUpgrade(
  gateway: Gateway,
  rawUrl: string,
  origin: string | undefined,
  authorization: string | undefined,
  ip: string,
  subprotocols: string | undefined,
): UpgradeDecision {
  const url = new URL(rawUrl, 'http://localhost');
  const protocol = WS_PATHS[url.pathname];
  if (!protocol) {
    gateway.stats.rejected.bad_path++;
    return { ok: false, status: 404, reason: 'unknown WebSocket path; use /ws (Odin) or /connection/websocket (Centrifugo)' };
  }
  const token = tokenFrom(authorization, url);
  // The Centrifugo protobuf protocol is chosen by subprotocol on the same path.
  const binary = protocol === 'centrifuge' && (subprotocols ?? '').split(',').some((p) => p.trim() === 'centrifuge-protobuf');
  const info: ConnectionInfo = {
    protocol,
    ip,
    ...(origin !== undefined ? { origin } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(binary ? { binary: true } : {}),
  };
  const admission = gateway.admit(info);
  return admission.ok ? { ok: true, info } : admission;
}

/** Builds the gateway, its HTTP server and transport, and listens. */
export async function startGateway(input: GatewayOptionsInput | GatewayOptions = {}, deps: StartGatewayDeps = {}): Promise<RunningGateway> {
  const options = resolveGatewayOptions(input);
  const log = deps.log ?? silentLogger;
  const broker = deps.broker ?? new MemoryBroker();
  let uws: UwsTransport | null = null;
  if (deps.transport === 'uws') {
    const loaded = await loadUwsTransport({ maxPayload: options.maxMessageBytes, maxBackpressure: 16 * options.maxQueueBytes });
    if (typeof loaded === 'string') log.warn({ reason: loaded }, 'transport uws unavailable; using ws');
    else if (options.permessageDeflate) log.warn({ transport: 'uws' }, 'transport uws does not do permessage-deflate here; using ws');
    else uws = loaded;
  }
  const transport = new WsTransport({ maxPayload: options.maxMessageBytes, permessageDeflate: options.permessageDeflate });
  const gateway = new Gateway(options, { broker, transport: uws ?? transport, log });
  const registry = createMetrics(gateway);
  await gateway.start();

  const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 30_000 }, (req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      log.error({ err }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: { code: 100, message: 'internal error' } });
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path.startsWith('/api/') || path === '/api') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: { code: 107, message: 'use POST' } });
      if (
        !checkApiKey(
          options.apiKey,
          req.headers['x-api-key'] as string | undefined,
          req.headers.authorization,
          url.searchParams.get('api_key'),
        )
      ) {
        return sendJson(res, 401, {
          error: {
            code: 101,
            message: options.apiKey === '' ? 'server API disabled: no API key configured' : 'unauthorized: bad or missing X-API-Key',
          },
        });
      }
      const body = await readBody(req);
      if (body === 'too_large')
        return sendJson(res, 413, { error: { code: 107, message: `body larger than ${MAX_API_BODY_BYTES} bytes` } });
      if (body === 'timeout') return sendJson(res, 408, { error: { code: 107, message: 'request body not received in time' } });
      const r = await serveApi(gateway, path, body, req.headers['x-centrifugo-error-mode'] as string | undefined);
      res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.body) });
      res.end(r.body);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: { code: 107, message: 'method not allowed' } });
    switch (path) {
      case '/health':
        return sendJson(res, 200, {
          status: gateway.isReady() ? 'healthy' : 'degraded',
          checks: { broker: gateway.broker.isReady() ? 'ok' : 'unavailable', draining: gateway.isDraining },
          uptime: Math.floor((Date.now() - gateway.startedAt) / 1000),
        });
      case '/ready': {
        const ready = gateway.isReady();
        return sendJson(res, ready ? 200 : 503, { ready, broker: gateway.broker.isReady(), draining: gateway.isDraining });
      }
      case '/metrics': {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
        return;
      }
      case '/stats':
        return sendJson(res, 200, statsOf(gateway));
      default:
        return sendJson(res, 404, { error: { code: 104, message: 'not found' } });
    }
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // With uws in front this server is internal and takes no upgrades.
    if (uws) return rejectUpgrade(socket, 404, 'upgrades are served by the uws transport');
    const d = decideUpgrade(
      gateway,
      req.url ?? '/',
      req.headers.origin,
      req.headers.authorization,
      req.socket.remoteAddress ?? '',
      req.headers['sec-websocket-protocol'],
    );
    if (!d.ok) return rejectUpgrade(socket, d.status, d.reason);
    transport.handleUpgrade(req, socket, head, gateway, d.info);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(uws ? 0 : options.port, uws ? '127.0.0.1' : options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const httpPort = (server.address() as AddressInfo).port;
  const port = uws
    ? await uws.listen(options.host, options.port, {
        acceptor: gateway,
        httpPort,
        decide: (u, o, a, ip, sp) => decideUpgrade(gateway, u, o, a, ip, sp),
      })
    : httpPort;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  let closing: Promise<void> | null = null;

  return {
    gateway,
    options,
    server,
    port,
    url: `http://${host}:${port}`,
    registry,
    close() {
      closing ??= (async () => {
        // Ordered: stop accepting, tell clients to reconnect, drain, broker, server.
        uws?.close();
        server.closeIdleConnections();
        const stopped = new Promise<void>((r) => server.close(() => r()));
        await gateway.shutdown();
        transport.close();
        server.closeAllConnections();
        await stopped;
        gateway.stats.onBroadcastLatency = null;
      })();
      return closing;
    },
  };
}

export function statsOf(gw: Gateway): Record<string, unknown> {
  const s = gw.stats;
  const mem = process.memoryUsage();
  return {
    node: gw.nodeId,
    version: gw.version,
    ready: gw.isReady(),
    uptime: Math.floor((Date.now() - gw.startedAt) / 1000),
    connections: { ...s.connections, total: gw.connectionCount },
    subscriptions: s.subscriptions,
    channels: gw.hub.channelCount,
    messages: { in: s.messagesIn, out: s.messagesOut, bytesIn: s.bytesIn, bytesOut: s.bytesOut },
    publications: s.publications,
    recoveries: s.recoveries,
    slowDisconnects: s.slowDisconnects,
    rejected: s.rejected,
    memory: { rss: mem.rss, heapUsed: mem.heapUsed },
  };
}
