/**
 * The transport seam: how bytes reach a client. Core never touches a socket; a transport
 * (ws on node:http, a fake in tests) owns the listening socket, serves the
 * app's plain HTTP requests and WebSocket upgrades through `TransportHooks`, and adapts its
 * connections to `TransportConnection`. The server code above it never asks which one it has.
 *
 * Guarantees a transport gives:
 *  - `write(frames)` sends each frame as one WebSocket message (text, or binary on a connection
 *    whose `ConnectionInfo.binary` is set), in order, and hands them
 *    to the socket as one write (one syscall), because a syscall per frame dominates fan-out cost.
 *  - A frame is made once by `prepare()` and may be written to any number of connections;
 *    the transport never mutates it.
 *  - After `close()`/`terminate()`, or when the peer goes away, `onClose` is called exactly
 *    once and nothing more is delivered to the handler.
 */

/** An encoded message, ready to be written to any connection of the transport that made it. */
export type PreparedFrame = Uint8Array;

export interface TransportConnection {
  /** Writes frames (from `prepare`) as one socket write. No-op once closed. */
  write(frames: readonly PreparedFrame[]): void;
  /** Bytes handed to the socket and not yet sent to the peer. */
  readonly bufferedAmount: number;
  /** WebSocket-level ping (used for the Odin protocol's dead-peer detection). */
  ping(): void;
  /** Closing handshake with a close code and a short reason (at most 123 bytes). */
  close(code: number, reason: string): void;
  /** Drops the connection at once, without a handshake. */
  terminate(): void;
}

export interface ConnectionHandler {
  /** A complete message from the peer. `binary` is true for binary frames. */
  onMessage(data: Buffer, binary: boolean): void;
  /** WebSocket-level pong from the peer. */
  onPong(): void;
  onClose(code: number, reason: string): void;
}

/** The client protocol a connection speaks, chosen by its WebSocket path (the one definition). */
export type ProtocolName = 'odin' | 'centrifuge';

/** Facts about an incoming connection, known at upgrade. */
export interface ConnectionInfo {
  readonly protocol: ProtocolName;
  readonly ip: string;
  readonly origin?: string;
  /** Token from the `token` query parameter or `Authorization: Bearer` (Odin protocol). */
  readonly token?: string;
  /**
   * Every message to this connection is a binary WebSocket message (the Centrifugo protobuf
   * protocol, subprotocol `centrifuge-protobuf`); its frames come from `prepare(payload, true)`.
   */
  readonly binary?: boolean;
  /**
   * An emulated connection (HTTP-streaming or SSE, src/lib/transport-emulation): the secret id
   * its later commands quote at the emulation endpoint; the connect reply carries it.
   */
  readonly session?: string;
  /**
   * A unidirectional transport (Centrifugo's uni_websocket, uni_sse, uni_http_stream): the first
   * message is the connect request, the server only pushes. `websocket`: liveness by WebSocket
   * pings; `stream`: an HTTP response (a dead peer shows as a closed socket or a full queue).
   */
  readonly uni?: UniMode;
  /** uni_websocket: the connect request from the `cf_connect` query parameter (else the first message is it). */
  readonly connectRequest?: string;
  /** Centrifugo's name of the transport, as proxy requests carry it (default `websocket`). */
  readonly transport?: string;
  /** The request headers the proxies pass on (`proxy.*.headers`, lower-case names), taken at upgrade. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type UniMode = 'websocket' | 'stream';

/** Open sockets no client holds (half-sent handshakes, HTTP requests, ended streams still open). */
export interface Waiting {
  readonly total: number;
  readonly fromIp: number;
}

/**
 * Counts every open socket that no client holds, from TCP accept until it closes or a client
 * takes it (a WebSocket upgrade, an HTTP stream), so half-sent handshakes, requests whose body
 * is still arriving, keep-alive sockets and ended streams whose socket is still open all take a
 * slot of the connection limits. A transport that sees the TCP accept (node:http does) calls it.
 */
export interface HandshakeTracker {
  /** A connection was accepted; false: over the limits, drop it at once. */
  opened(ip: string): boolean;
  /** A client took it, or it closed: called once per `opened` (or `held`) that counted it. */
  settled(ip: string): void;
  /** A client's connection ended but its socket is still open: counted again (never refused) until `settled`. */
  held(ip: string): void;
}

/** What the gateway decides before accepting an upgrade. */
export type Admission =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: string;
      /** Sent as `Retry-After` (503 over capacity or draining, 429 per address). */
      readonly retryAfterSeconds?: number;
    };

/** The side of core a transport talks to. */
export interface ConnectionAcceptor {
  /**
   * Called before the upgrade completes; a refusal becomes an HTTP error response.
   * `waiting`: other handshakes not yet complete, which count against the limits too.
   */
  admit(info: ConnectionInfo, waiting?: Waiting): Admission;
  /** Called once the upgrade completed; returns the handler for the connection's events. */
  accept(conn: TransportConnection, info: ConnectionInfo): ConnectionHandler;
}

/**
 * A plain HTTP request (or the request of an upgrade), as the transport hands it over. Header
 * values follow node:http: names lower case, a repeated header joined with ", " (so a
 * duplicated `Origin` never matches an allowed origin).
 */
export interface HttpRequest {
  /** Upper case, e.g. GET. */
  readonly method: string;
  /** Path and query string as sent. */
  readonly url: string;
  /** Peer address. */
  readonly ip: string;
  /** The header's value; undefined when absent, '' when sent empty. */
  header(name: string): string | undefined;
  /**
   * Streams the body to `onChunk` (each chunk valid only during the call) and calls `onEnd`
   * once at its end, or with `aborted` true when the peer went away. Called at most once;
   * a request never read is discarded by the transport.
   */
  readBody(onChunk: (chunk: Uint8Array) => void, onEnd: (aborted: boolean) => void): void;
  /** Stops reading and drops the connection (a body too large to read to its end). */
  abort(): void;
}

/**
 * The whole answer to a plain HTTP request. `close` asks the transport to end the connection after it.
 * With `stream` the response stays open: the transport writes the status, the headers (no
 * Content-Length: chunked) and `body`, then calls `stream` once with the response's sink.
 */
export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
  readonly close?: boolean;
  readonly stream?: (sink: HttpStreamSink) => void;
}

/**
 * An open streaming response (HTTP-streaming and SSE clients). Writes are in order and each
 * goes to the socket at once (no buffering beyond the socket's). After `end()`, or when the
 * peer goes away, `onClose` is called exactly once and writes are no-ops.
 */
export interface HttpStreamSink {
  write(chunk: Uint8Array): void;
  /** Bytes handed to the socket and not yet sent. */
  readonly bufferedAmount: number;
  /** Ends the response (the last chunk). */
  end(): void;
  /** Drops the connection without ending the response. */
  destroy(): void;
  /** Registers the one close listener (set before the first write). */
  onClose(listener: () => void): void;
}

/** An upgrade refused with an HTTP status; `headers` are added to the JSON refusal. */
export type UpgradeRefusal = Extract<Admission, { ok: false }> & { readonly headers?: Readonly<Record<string, string>> };
/** What the app decides for an upgrade: the connection's facts, or an HTTP refusal. */
export type UpgradeDecision = { readonly ok: true; readonly info: ConnectionInfo } | UpgradeRefusal;

/** What the app gives a transport when it listens. */
export interface TransportHooks {
  /** Answers a plain HTTP request; never rejects (errors are answers). */
  http(req: HttpRequest): Promise<HttpReply>;
  /** Decides an upgrade; called once the handshake's headers are complete. */
  upgrade(req: HttpRequest): UpgradeDecision;
  /** Gets each connection once its upgrade completed. */
  readonly acceptor: ConnectionAcceptor;
  /** Counts half-sent handshakes, where the transport sees the accept. */
  readonly handshakes?: HandshakeTracker;
}

/** The part of a transport core uses: the fan-out frames a payload once for every member. */
export interface FrameEncoder {
  /**
   * Frames a payload once so that writing it to many connections costs no re-encoding.
   * `binary` frames are for connections whose `ConnectionInfo.binary` is set, and only those.
   */
  prepare(payload: Uint8Array, binary?: boolean): PreparedFrame;
  /**
   * The payload a frame from `prepare` carries, as a view (no copy): what a connection that is
   * not a WebSocket (HTTP-streaming, SSE) writes, so that a publication is still encoded once.
   */
  payloadOf(frame: PreparedFrame): Uint8Array;
}

export interface Transport extends FrameEncoder {
  /** WebSocket connections not closed yet, those in their closing handshake included. */
  readonly openConnections: number;
  /** Listens on host:port (0 = any free port) and serves `hooks`; resolves with the port. */
  listen(host: string, port: number, hooks: TransportHooks): Promise<number>;
  /**
   * Closes the listener and drops every connection still open (HTTP and WebSocket). The
   * gateway calls it last, after its drain, so that during the drain the port still answers
   * (503 on /ready and on upgrades). Idempotent.
   */
  close(): Promise<void>;
}
