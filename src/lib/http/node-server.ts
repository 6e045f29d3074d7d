/**
 * Serving an HTTP app on node:http: the publisher's control API and the `ws` transport both
 * listen through this. Adapts node's request to the transport-neutral `HttpRequest`, writes
 * `HttpReply`s, answers garbage with 400 and CONNECT with 405, and closes every connection on
 * `close()`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HandshakeTracker, HttpReply, HttpRequest, HttpStreamSink } from '../core/transport.js';
import { STATUS_TEXT } from './router.js';

/** A whole HTTP/1.1 response as bytes, for sockets no HTTP server writes to (refused upgrades, CONNECT). */
export function rawResponse(status: number, body: string, headers: Readonly<Record<string, string>> = {}): string {
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries({ 'Content-Type': 'application/json', ...headers })) head += `${k}: ${v}\r\n`;
  return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Node's request as an `HttpRequest`. */
export function nodeRequest(req: IncomingMessage): HttpRequest {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    ip: req.socket.remoteAddress ?? '',
    header(name) {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    readBody(onChunk, onEnd) {
      let ended = false;
      req.on('data', (c: Buffer) => onChunk(c));
      req.once('end', () => {
        ended = true;
        onEnd(false);
      });
      req.once('close', () => {
        if (!ended) onEnd(true);
      });
    },
    abort() {
      req.socket.destroy();
    },
  };
}

/**
 * Writes a reply; HEAD gets the headers only (node drops the body). A reply sent before the
 * request's body was read (refused: no key, too large) closes the connection: on keep-alive,
 * node would read the rest of the body to reach the next request — 64 MB read, allocated and
 * dropped for nothing (RSS grew by 30–60 MiB on Node 20–24); with `Connection: close` it closes
 * the socket as soon as the reply is flushed.
 */
export function writeReply(res: ServerResponse, reply: HttpReply, sockets?: SocketCount): void {
  if (res.writableEnded || res.destroyed) return;
  if (reply.stream) return startStream(res, reply, reply.stream, sockets);
  const headers: Record<string, string | number> = { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) };
  if (reply.close || !res.req.complete) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

/**
 * A stream's socket closes within this time after the stream ends (its last bytes may still be
 * unsent to a peer that does not read), ms.
 */
export const STREAM_END_GRACE_MS = 2000;

/** How a stream's socket moves between a client's count and the tracker's. */
export interface SocketCount {
  /** A client holds the socket now (the gateway counts it). */
  taken(socket: Duplex): void;
  /** The client is gone, the socket still open: the tracker counts it until it closes. */
  released(socket: Duplex): void;
}

/**
 * A streaming reply: the head (chunked) and first bytes now, the rest through the sink. The
 * response says `Connection: close`, so ending it closes the socket; a peer that does not read
 * the end is cut after STREAM_END_GRACE_MS. Until the socket is closed it counts against the
 * connection limits (SocketCount).
 */
function startStream(res: ServerResponse, reply: HttpReply, stream: (sink: HttpStreamSink) => void, sockets?: SocketCount): void {
  const socket = res.socket;
  if (socket) sockets?.taken(socket);
  res.writeHead(reply.status, { ...reply.headers, connection: 'close' });
  // Each write is a chunk sent at once: no Nagle delay on a stream of small messages.
  res.socket?.setNoDelay(true);
  if (Buffer.byteLength(reply.body) > 0) res.write(reply.body);
  else res.flushHeaders();
  let listener: (() => void) | null = null;
  let closed = false;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    if (socket && !socket.destroyed) sockets?.released(socket);
  };
  res.once('close', () => {
    closed = true;
    release();
    listener?.();
  });
  stream({
    write(chunk) {
      if (!closed && !res.writableEnded) res.write(chunk);
    },
    get bufferedAmount() {
      return res.writableLength + (res.socket?.writableLength ?? 0);
    },
    end() {
      if (closed || res.writableEnded) return;
      release();
      res.end();
      const cut = setTimeout(() => socket?.destroy(), STREAM_END_GRACE_MS);
      cut.unref();
      socket?.once('close', () => clearTimeout(cut));
    },
    destroy() {
      release();
      res.destroy();
    },
    onClose(l) {
      listener = l;
    },
  });
}

export interface NodeServeOptions {
  readonly host: string;
  readonly port: number;
  http(req: HttpRequest): Promise<HttpReply>;
  /** Upgrade requests; without it they get 404. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Time to receive a request's headers, ms (also the deadline of a half-sent WebSocket handshake). Default 10000. */
  readonly headersTimeoutMs?: number;
  /** Told of each connection from accept until its first request's headers are complete. */
  readonly handshakes?: HandshakeTracker;
}

/** How often node checks the header and request deadlines, ms (its default, 30 s, would let a deadline slip that long). */
const DEADLINE_CHECK_MS = 1000;
/**
 * The accept queue asked of the kernel: as long as it allows (Linux caps it at
 * net.core.somaxconn, 4096 by default since 5.4), as Go's net.Listen does. Node's default, 511,
 * overflows in a reconnect storm: the kernel then drops the handshakes it cannot queue and each
 * client waits out SYN retransmissions (1, 3, 7, 15 s…) before it is accepted
 * (docs/performance.md, "Odin rates … Results", the storm).
 */
export const LISTEN_BACKLOG = 65_535;

/** Marks a socket the HandshakeTracker counts (no client holds it). */
const waiting = Symbol('odin-ws.waiting');
const trackedBy = Symbol('odin-ws.trackedBy');
/** A socket counted by a HandshakeTracker: `waiting` while it holds a place, and the tracker to tell when it settles. */
type TrackedSocket = Socket & { [waiting]?: boolean; [trackedBy]?: HandshakeTracker };

/** Ends a socket's place in its tracker's count (once; no-op for an untracked or settled socket). */
function settleSocket(socket: Duplex): void {
  const s = socket as TrackedSocket;
  const tracker = s[trackedBy];
  if (tracker === undefined || !s[waiting]) return;
  s[waiting] = false;
  tracker.settled(s.remoteAddress ?? '');
}

// Module-level listeners, the state on the socket: a closure (and `once`'s wrapper) per socket
// held ~350 B for each connection's life (docs/performance.md, "Memory per connection").
function onTrackedClose(this: TrackedSocket): void {
  settleSocket(this);
}
function destroyOnError(this: Duplex): void {
  this.destroy();
}

export class NodeHttpServer {
  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(opts: NodeServeOptions): Promise<NodeHttpServer> {
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    const server = createServer(
      // requestTimeout bounds a whole request; a body gets its own, shorter deadline (408).
      {
        keepAliveTimeout: 5000,
        headersTimeout,
        requestTimeout: Math.max(30_000, headersTimeout + 1),
        connectionsCheckingInterval: DEADLINE_CHECK_MS,
        // An HTTP/2 cleartext upgrade offer (`Upgrade: h2c`, sent by default by Java's HTTP
        // client) is declined by answering over HTTP/1.1, as RFC 9113 §3.2 lets a server: the
        // request is served like any other. Node 24.9+/22.21+; older versions ignore the option
        // (docs/protocol.md, "Transports").
        shouldUpgradeCallback: (req: IncomingMessage) => !/^h2c$/i.test(req.headers.upgrade ?? ''),
      } as Parameters<typeof createServer>[0],
      // The socket stays counted while its request's body arrives and while it stays open.
      (req, res) => void opts.http(nodeRequest(req)).then((reply) => writeReply(res, reply, sockets)),
    );
    const tracker = opts.handshakes;
    const sockets: SocketCount = {
      taken: settleSocket,
      released(socket) {
        const s = socket as TrackedSocket;
        if (!tracker || s[waiting] === true || s.destroyed) return;
        s[waiting] = true;
        tracker.held(s.remoteAddress ?? '');
      },
    };
    if (tracker) {
      server.on('connection', (socket: TrackedSocket) => {
        if (!tracker.opened(socket.remoteAddress ?? '')) return void socket.destroy();
        socket[waiting] = true;
        socket[trackedBy] = tracker;
        socket.on('close', onTrackedClose); // 'close' comes once
      });
    }
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      settleSocket(socket);
      socket.on('error', destroyOnError);
      if (opts.upgrade) opts.upgrade(req, socket, head);
      else socket.end(rawResponse(404, '{"error":"no WebSocket here"}'));
    });
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      settleSocket(socket);
      // A proxy tunnel is never offered.
      socket.on('error', destroyOnError);
      socket.end(rawResponse(405, '{"error":"CONNECT is not supported"}', { Allow: 'GET, HEAD, POST' }));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return void socket.destroy();
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(rawResponse(status, JSON.stringify({ error: status === 408 ? 'request not received in time' : 'bad request' })));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: opts.port, host: opts.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new NodeHttpServer(server, (server.address() as AddressInfo).port);
  }

  /** Closes the listener and every connection. Idempotent. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
