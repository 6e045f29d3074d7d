/**
 * uWebSockets.js as a transport. uWS owns its listening socket, so this transport serves the
 * app's plain HTTP requests (through the same `TransportHooks.http` as the `ws` transport: no
 * internal proxy) and the WebSocket upgrades the app admits. Loaded lazily: when the native
 * module is missing or only its JS fallback loads, `loadUwsTransport` says why and the app
 * keeps the `ws` transport.
 *
 * uWS frames messages itself, so `prepare` keeps the payload and `write` sends the frames
 * inside one cork (one syscall per flush, as with `ws`). It also parses frames natively and
 * answers bad ones before this code is called (TCP drop or an empty close, never 1002/1007):
 * docs/protocol.md, "Transports", lists each difference from `ws`.
 */
import type {
  ConnectionHandler,
  ConnectionInfo,
  HttpReply,
  HttpRequest,
  HttpStreamSink,
  PreparedFrame,
  Transport,
  TransportConnection,
  TransportHooks,
  UpgradeRefusal,
} from '../core/transport.js';
import { STATUS_TEXT } from '../http/router.js';

// The parts of the uWebSockets.js API used here (declared locally: the package is optional,
// so the build must not depend on its types).
type RecognizedString = string | ArrayBuffer | Uint8Array;
interface UwsWebSocket<U> {
  send(message: RecognizedString, isBinary?: boolean, compress?: boolean): number;
  end(code?: number, shortMessage?: RecognizedString): void;
  close(): void;
  ping(message?: RecognizedString): number;
  cork(cb: () => void): UwsWebSocket<U>;
  getBufferedAmount(): number;
  getUserData(): U;
}
interface UwsHttpResponse {
  writeStatus(status: RecognizedString): UwsHttpResponse;
  writeHeader(key: RecognizedString, value: RecognizedString): UwsHttpResponse;
  end(body?: RecognizedString, closeConnection?: boolean): UwsHttpResponse;
  /** Chunked body part; false when it was buffered (backpressure). An empty write ends the response. */
  write(chunk: RecognizedString): boolean;
  onWritable(handler: (offset: number) => boolean): UwsHttpResponse;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): UwsHttpResponse;
  close(): UwsHttpResponse;
  onAborted(handler: () => void): UwsHttpResponse;
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): UwsHttpResponse;
  getRemoteAddressAsText(): ArrayBuffer;
  cork(cb: () => void): UwsHttpResponse;
  upgrade<U>(userData: U, key: RecognizedString, protocol: RecognizedString, extensions: RecognizedString, context: unknown): void;
}
interface UwsHttpRequest {
  getHeader(lowerCaseKey: RecognizedString): string;
  getUrl(): string;
  getMethod(): string;
  getQuery(): string | undefined;
  forEach(cb: (key: string, value: string) => void): void;
}
interface UwsBehavior<U> {
  maxPayloadLength?: number;
  idleTimeout?: number;
  maxBackpressure?: number;
  closeOnBackpressureLimit?: boolean;
  sendPingsAutomatically?: boolean;
  compression?: number;
  upgrade?: (res: UwsHttpResponse, req: UwsHttpRequest, context: unknown) => void;
  open?: (ws: UwsWebSocket<U>) => void;
  message?: (ws: UwsWebSocket<U>, message: ArrayBuffer, isBinary: boolean) => void;
  close?: (ws: UwsWebSocket<U>, code: number, message: ArrayBuffer) => void;
  ping?: (ws: UwsWebSocket<U>, message: ArrayBuffer) => void;
  pong?: (ws: UwsWebSocket<U>, message: ArrayBuffer) => void;
}
interface UwsApp {
  ws<U>(pattern: string, behavior: UwsBehavior<U>): UwsApp;
  any(pattern: string, handler: (res: UwsHttpResponse, req: UwsHttpRequest) => void): UwsApp;
  listen(host: string, port: number, cb: (token: unknown) => void): UwsApp;
}
interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(token: unknown): void;
  us_socket_local_port(token: unknown): number;
}

export interface UwsTransportOptions {
  /** Largest incoming message, bytes; larger ones close the connection (1009). */
  readonly maxPayload: number;
  /**
   * Bytes uWS may buffer per socket. Kept well above the gateway's own slow-client limit
   * (maxQueueBytes), because past it uWS silently drops messages instead of disconnecting.
   */
  readonly maxBackpressure: number;
  /**
   * Bytes a peer may leave unread when it sends a ping. uWS answers pings itself and would
   * keep buffering pongs for a peer that reads none (up to maxBackpressure, then drop them);
   * past this the connection is dropped instead, as `ws` drops a peer with more than
   * WS_MAX_PENDING_PONGS pongs it has not taken (src/lib/transport-ws). Default 1 MiB (the
   * gateway passes its maxQueueBytes).
   */
  readonly maxUnreadOnPing?: number;
}

/**
 * uWS drops an oversized message's connection without a close frame; so its own limit is set
 * this many times higher and the transport closes with 1009 itself, as `ws` does. Beyond
 * uWS's limit (capped at 16 MiB) the connection is still dropped outright.
 */
const UWS_PAYLOAD_FACTOR = 16;
const UWS_PAYLOAD_CAP = 16 * 1024 * 1024;
/** A closing handshake the peer never completes is cut after this long, ms. */
const CLOSE_TIMEOUT_MS = 5000;
interface UserData {
  info: ConnectionInfo;
  conn: UwsConnection | null;
  handler: ConnectionHandler | null;
}

// One cork callback for all writes (no closure per flush): the frames ride in these.
let corkSocket: UwsWebSocket<UserData> | null = null;
let corkFrames: readonly PreparedFrame[] = [];
let corkBinary = false;
function corkedWrite(): void {
  const ws = corkSocket!;
  const frames = corkFrames;
  for (let i = 0; i < frames.length; i++) ws.send(frames[i]!, corkBinary, false);
}

class UwsConnection implements TransportConnection {
  closed = false;
  constructor(
    private readonly ws: UwsWebSocket<UserData>,
    private readonly binary: boolean,
  ) {}

  write(frames: readonly PreparedFrame[]): void {
    if (this.closed) return;
    corkSocket = this.ws;
    corkFrames = frames;
    corkBinary = this.binary;
    this.ws.cork(corkedWrite);
    corkSocket = null;
    corkFrames = [];
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  ping(): void {
    if (!this.closed) this.ws.ping();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.end(code, reason.slice(0, 123));
    setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS).unref();
  }

  terminate(): void {
    if (!this.closed) this.ws.close();
  }
}

function text(b: ArrayBuffer): string {
  return Buffer.from(b).toString();
}

export class UwsTransport implements Transport {
  private token: unknown = null;
  openConnections = 0;

  constructor(
    private readonly uws: UwsModule,
    private readonly opts: UwsTransportOptions,
  ) {}

  /** uWS frames each message itself; the payload is kept as is. */
  prepare(payload: Uint8Array): PreparedFrame {
    return payload;
  }

  payloadOf(frame: PreparedFrame): Uint8Array {
    return frame;
  }

  /** Listens on host:port; resolves with the port (useful with port 0). */
  listen(host: string, port: number, hooks: TransportHooks): Promise<number> {
    const app = this.uws.App();
    const maxPayload = this.opts.maxPayload;
    const maxUnreadOnPing = this.opts.maxUnreadOnPing ?? 1024 * 1024;
    app.ws<UserData>('/*', {
      maxPayloadLength: Math.min(UWS_PAYLOAD_CAP, Math.max(this.opts.maxPayload, this.opts.maxPayload * UWS_PAYLOAD_FACTOR)),
      maxBackpressure: this.opts.maxBackpressure,
      closeOnBackpressureLimit: false,
      // The gateway runs its own pings and dead-peer checks.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      compression: 0,
      upgrade: (res, req, context) => {
        const request = snapshot(res, req);
        const d = hooks.upgrade(request);
        if (!d.ok) return refuse(res, d);
        const ud: UserData = { info: d.info, conn: null, handler: null };
        res.upgrade(
          ud,
          request.header('sec-websocket-key') ?? '',
          request.header('sec-websocket-protocol') ?? '',
          request.header('sec-websocket-extensions') ?? '',
          context,
        );
      },
      open: (ws) => {
        this.openConnections++;
        const ud = ws.getUserData();
        ud.conn = new UwsConnection(ws, ud.info.binary === true);
        ud.handler = hooks.acceptor.accept(ud.conn, ud.info);
      },
      message: (ws, message, isBinary) => {
        if (message.byteLength > maxPayload) {
          ws.end(1009, 'message too big');
          return;
        }
        // The ArrayBuffer is valid only during this call: copy it.
        ws.getUserData().handler?.onMessage(Buffer.from(Buffer.from(message)), isBinary);
      },
      ping: (ws) => {
        // The pong is already queued (natively); a peer this far behind reads nothing.
        if (ws.getBufferedAmount() > maxUnreadOnPing) ws.close();
      },
      pong: (ws) => {
        ws.getUserData().handler?.onPong();
      },
      close: (ws, code, message) => {
        this.openConnections--;
        const ud = ws.getUserData();
        if (ud.conn) ud.conn.closed = true;
        ud.handler?.onClose(code, text(message));
      },
    });
    app.any('/*', (res, req) => serveHttp(res, req, hooks));
    return new Promise((resolve, reject) => {
      app.listen(host, port, (token) => {
        if (!token) return reject(new Error(`uWebSockets.js could not listen on ${host}:${port}`));
        this.token = token;
        resolve(this.uws.us_socket_local_port(token));
      });
    });
  }

  /** Stops listening (open WebSockets are closed by the gateway's shutdown before this). */
  async close(): Promise<void> {
    if (this.token !== null) this.uws.us_listen_socket_close(this.token);
    this.token = null;
  }
}

/**
 * A request's facts, read at once: uWS's request object is valid only during the handler.
 * Repeated headers are joined with ", " as node:http does.
 */
function snapshot(res: UwsHttpResponse, req: UwsHttpRequest): HttpRequest & { claimed: boolean; res: UwsHttpResponse } {
  const headers = new Map<string, string>();
  req.forEach((k, v) => {
    const had = headers.get(k);
    headers.set(k, had === undefined ? v : `${had}, ${v}`);
  });
  const query = req.getQuery();
  return {
    method: req.getMethod().toUpperCase(),
    url: req.getUrl() + (query ? '?' + query : ''),
    ip: text(res.getRemoteAddressAsText()),
    claimed: false,
    res,
    header: (name) => headers.get(name),
    readBody(onChunk, onEnd) {
      this.claimed = true;
      res.onData((chunk, isLast) => {
        onChunk(new Uint8Array(chunk));
        if (isLast) onEnd(false);
      });
      abortWatchers.set(res, () => onEnd(true));
    },
    abort() {
      res.close();
    },
  };
}

/** Who to tell when a response's peer goes away (uWS allows one onAborted per response). */
const abortWatchers = new WeakMap<UwsHttpResponse, () => void>();

/** Serves a plain HTTP request through the app; the body, if the app wants it, is claimed synchronously. */
function serveHttp(res: UwsHttpResponse, req: UwsHttpRequest, hooks: TransportHooks): void {
  let done = false;
  res.onAborted(() => {
    done = true;
    abortWatchers.get(res)?.();
  });
  const request = snapshot(res, req);
  if (request.header('upgrade')?.toLowerCase() === 'websocket') {
    // A handshake uWS itself would not upgrade (e.g. a malformed key): the app's decision
    // gives the same refusal as on the `ws` transport.
    const d = hooks.upgrade(request);
    refuse(res, d.ok ? { ok: false, status: 400, reason: 'invalid WebSocket handshake' } : d);
    return;
  }
  const replied = hooks.http(request);
  // A body the app did not claim before its first await is read and dropped.
  if (!request.claimed) res.onData(() => undefined);
  void replied.then((reply) => {
    if (done) return;
    if (reply.stream) return startStream(res, reply, reply.stream);
    done = true;
    res.cork(() => writeReply(res, request.method, reply));
  });
}

/**
 * A streaming reply. uWS keeps what the socket does not take and reports it only through
 * write()'s result and onWritable, so `bufferedAmount` counts the bytes written since a write
 * last met backpressure, until uWS says the socket is writable again: a peer that reads
 * nothing makes it grow, which is what the gateway's slow-client rule needs.
 */
function startStream(res: UwsHttpResponse, reply: HttpReply, stream: (sink: HttpStreamSink) => void): void {
  let closed = false;
  let backlog = 0;
  let listener: (() => void) | null = null;
  const close = (): void => {
    if (closed) return;
    closed = true;
    listener?.();
  };
  // The abort watcher (set in serveHttp's onAborted) now ends the stream.
  abortWatchers.set(res, close);
  const write = (chunk: RecognizedString, size: number): void => {
    if (!res.write(chunk)) backlog += size;
  };
  res.onWritable(() => {
    backlog = 0;
    return true;
  });
  res.cork(() => {
    res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? 'Error'}`);
    for (const [k, v] of Object.entries(reply.headers)) res.writeHeader(k, v);
    // An empty write would end a chunked response: the head then goes with the first chunk.
    const size = Buffer.byteLength(reply.body);
    if (size > 0) write(reply.body, size);
  });
  stream({
    write(chunk) {
      if (closed || chunk.byteLength === 0) return;
      res.cork(() => write(chunk, chunk.byteLength));
    },
    get bufferedAmount() {
      return closed ? 0 : backlog;
    },
    end() {
      if (closed) return;
      res.cork(() => res.end());
      close();
    },
    destroy() {
      if (closed) return;
      // close() runs onAborted, which calls `close` above.
      res.close();
    },
    onClose(l) {
      listener = l;
    },
  });
}

/** An upgrade refusal: the status, a JSON reason, and the connection closed. */
function refuse(res: UwsHttpResponse, d: UpgradeRefusal): void {
  res.cork(() => {
    res.writeStatus(`${d.status} ${STATUS_TEXT[d.status] ?? 'Error'}`);
    for (const [k, v] of Object.entries(d.headers ?? {})) res.writeHeader(k, v);
    res.writeHeader('content-type', 'application/json').end(JSON.stringify({ error: d.reason }), true);
  });
}

function writeReply(res: UwsHttpResponse, method: string, reply: HttpReply): void {
  res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? 'Error'}`);
  for (const [k, v] of Object.entries(reply.headers)) res.writeHeader(k, v);
  if (method === 'HEAD') res.endWithoutBody(Buffer.byteLength(reply.body), reply.close === true);
  else res.end(reply.body, reply.close === true);
}

/** Loads the native module; a string says why it cannot be used (the app then keeps `ws`). */
export async function loadUwsTransport(opts: UwsTransportOptions): Promise<UwsTransport | string> {
  let mod: unknown;
  const warn = console.warn;
  try {
    // The package prints and falls back to a JS implementation when its binary does not fit
    // this Node build; that fallback is refused below, so its notice is kept quiet here.
    console.warn = () => undefined;
    mod = await import('uWebSockets.js' as string);
  } catch (err) {
    return `uWebSockets.js is not installed or does not load (${(err as Error).message.split('\n')[0]})`;
  } finally {
    console.warn = warn;
  }
  const m = ((mod as { default?: unknown }).default ?? mod) as UwsModule;
  if (typeof m.App !== 'function') return 'uWebSockets.js loaded without an App export';
  if (!/\[native code\]/.test(Function.prototype.toString.call(m.App)))
    return `uWebSockets.js has no native binary for ${process.platform}-${process.arch} ABI ${process.versions.modules} (only its JS fallback loads)`;
  return new UwsTransport(m, opts);
}
