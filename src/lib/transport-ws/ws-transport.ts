/**
 * The `ws` library on node:http as a transport: node:http owns the port and serves the app's
 * HTTP requests (src/lib/http/node-server.ts); upgrades the app admits go to `ws`, which
 * enforces RFC 6455 on every frame (masking, fragmentation, control frames, close payloads,
 * UTF-8) and closes with 1002/1007/1009 itself.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { Disconnect } from '../protocol/codes.js';
import { loadProtobuf, protobufLoaded } from '../protocol/centrifuge-protobuf-load.js';
import type {
  ConnectionAcceptor,
  ConnectionHandler,
  ConnectionInfo,
  HandshakeTracker,
  PreparedFrame,
  Transport,
  TransportConnection,
  TransportHooks,
} from '../core/transport.js';
import { NodeHttpServer, nodeRequest, rawResponse } from '../http/node-server.js';

export interface WsTransportOptions {
  /** Largest incoming message, bytes; larger ones close the connection with 1009. */
  readonly maxPayload: number;
  /** permessage-deflate; off by default because it costs CPU per client on fan-out. */
  readonly permessageDeflate: boolean;
  /** Time to receive a request's headers (a half-sent handshake is cut after it), ms. Default 10000. */
  readonly headersTimeoutMs?: number;
}

const OPCODE_TEXT = 0x81; // FIN + text
const OPCODE_BINARY = 0x82; // FIN + binary
/** Fragments one message may have; more closes with 1008. */
export const WS_MAX_FRAGMENTS = 16 * 1024;
/** Received chunks waiting to be parsed; more closes with 1008. */
export const WS_MAX_BUFFERED_CHUNKS = 256 * 1024;
/**
 * Pongs answered but not yet taken by the socket (the peer pings and reads nothing); one more
 * ping drops the connection (no close frame: the peer is not reading).
 */
export const WS_MAX_PENDING_PONGS = 60;

/**
 * Frames a text (or binary) message once, as a server (unmasked) frame, so that the same bytes
 * can be written to every socket. Valid only without permessage-deflate.
 */
export function frameText(payload: Uint8Array, binary = false): Buffer {
  const len = payload.byteLength;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.allocUnsafe(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.allocUnsafe(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.allocUnsafe(10);
    header[1] = 127;
    header.writeUInt32BE(0, 2);
    header.writeUInt32BE(len, 6);
  }
  header[0] = binary ? OPCODE_BINARY : OPCODE_TEXT;
  return Buffer.concat([header, payload], header.length + len);
}

/** The payload of a frame made by `frameText`, as a view (its header is 2, 4 or 10 bytes). */
export function framePayload(frame: Uint8Array): Uint8Array {
  const len7 = frame[1]! & 0x7f;
  return frame.subarray(len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}

/** The underlying socket of a ws WebSocket (a stable private field of ws 8). */
function socketOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

class WsConnection implements TransportConnection {
  private readonly socket: Socket;
  private held = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly preframed: boolean,
    private readonly binary: boolean,
    /** Counts the socket again between our close and its end (it still holds a descriptor). */
    private readonly sockets: HandshakeTracker | null,
    private readonly ip: string,
  ) {
    this.socket = socketOf(ws);
  }

  write(frames: readonly PreparedFrame[]): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.preframed) {
      for (const f of frames) this.ws.send(f, { binary: this.binary });
      return;
    }
    // One writev of the shared frames, corked: no copy. Joining them first (Buffer.concat) was
    // as cheap on Node 20, but on Node 24 the 100 MB/s of short-lived buffers it makes at 1,000
    // publications/s to 1,000 clients triggered a full GC every ~100 ms: 1.8× the CPU per
    // delivery (docs/performance.md, "Node 24").
    if (frames.length === 1) {
      this.socket.write(frames[0]!);
      return;
    }
    this.socket.cork();
    for (let i = 0; i < frames.length; i++) this.socket.write(frames[i]!);
    this.socket.uncork();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    // The client is gone from the gateway's count now; its socket counts against the limits
    // until the peer completes the closing handshake or is dropped below.
    if (this.sockets !== null && !this.held && !this.socket.destroyed) {
      this.held = true;
      const sockets = this.sockets;
      const ip = this.ip;
      sockets.held(ip);
      this.socket.once('close', () => sockets.settled(ip));
    }
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason.slice(0, 123));
    // A peer that never completes the closing handshake is dropped.
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/**
 * The WebSocket of a gateway connection (`WebSocketServer`'s `WebSocket` option): the events ws
 * emits are dispatched to the connection's handler by `emit` itself, with no listeners. Four
 * `on()` listeners per connection grew each socket's `_events` dictionary from ~160 to ~250 B
 * (docs/performance.md "Memory per connection"); a switch is also cheaper per message than
 * EventEmitter's lookup.
 */
class GatewayWebSocket extends WebSocket {
  handler: ConnectionHandler | null = null;
  transport: WsTransport | null = null;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    switch (event) {
      case 'message':
        onMessage(this, args[0] as Buffer, args[1] as boolean);
        return true;
      case 'pong':
        this.handler?.onPong();
        return true;
      case 'close':
        onClose(this, args[0] as number, args[1] as Buffer);
        return true;
      case 'error':
        // ws closes the connection itself (1002/1007/1009) and then emits 'close'.
        return true;
      default:
        return super.emit(event, ...args);
    }
  }
}

function onMessage(ws: GatewayWebSocket, data: Buffer, isBinary: boolean): void {
  const handler = ws.handler;
  if (handler === null) return;
  try {
    handler.onMessage(data, isBinary);
  } catch (err) {
    // A bug in handling one client's message must not take the process down with everyone.
    process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'OdinWsHandlerError');
    ws.close(Disconnect.ServerError.code, Disconnect.ServerError.reason);
  }
}

function onClose(ws: GatewayWebSocket, code: number, reason: Buffer): void {
  if (ws.transport !== null) ws.transport.openConnections--;
  ws.handler?.onClose(code, reason.toString());
}

export class WsTransport implements Transport {
  private readonly wss: WebSocketServer;
  private readonly preframed: boolean;
  private http: NodeHttpServer | null = null;
  openConnections = 0;

  constructor(private readonly opts: WsTransportOptions) {
    this.preframed = !opts.permessageDeflate;
    this.wss = new WebSocketServer({
      noServer: true,
      WebSocket: GatewayWebSocket,
      clientTracking: false,
      maxPayload: opts.maxPayload,
      perMessageDeflate: opts.permessageDeflate,
      skipUTF8Validation: false,
      // A Centrifugo protobuf client asks for its subprotocol; others get the first they offer.
      handleProtocols: (offered: Set<string>) =>
        offered.has('centrifuge-protobuf') ? 'centrifuge-protobuf' : (offered.values().next().value ?? false),
      // ws's own cut-offs, set here so they stay what docs/protocol.md says across upgrades of
      // ws: more fragments in one message, or more received chunks waiting to be parsed, close
      // with 1008; a ping flood from a peer that reads none of the pongs is dropped once
      // WS_MAX_PENDING_PONGS pile up (measured: this, not the chunk limit, is what cuts it).
      maxFragments: WS_MAX_FRAGMENTS,
      maxBufferedChunks: WS_MAX_BUFFERED_CHUNKS,
      maxPendingAutoPongs: WS_MAX_PENDING_PONGS,
    } as ConstructorParameters<typeof WebSocketServer>[0]);
  }

  prepare(payload: Uint8Array, binary = false): PreparedFrame {
    return this.preframed ? frameText(payload, binary) : payload;
  }

  payloadOf(frame: PreparedFrame): Uint8Array {
    return this.preframed ? framePayload(frame) : frame;
  }

  async listen(host: string, port: number, hooks: TransportHooks): Promise<number> {
    this.http = await NodeHttpServer.listen({
      host,
      port,
      http: hooks.http,
      ...(hooks.handshakes ? { handshakes: hooks.handshakes } : {}),
      ...(this.opts.headersTimeoutMs !== undefined ? { headersTimeoutMs: this.opts.headersTimeoutMs } : {}),
      upgrade: (req, socket, head) => {
        const d = hooks.upgrade(nodeRequest(req));
        if (!d.ok) socket.end(rawResponse(d.status, JSON.stringify({ error: d.reason }), d.headers));
        else if (d.info.binary === true && !protobufLoaded())
          // The first protobuf client loads the protobuf wire (not loaded at start); ws drops a
          // socket that closed meanwhile.
          loadProtobuf().then(
            () => this.handleUpgrade(req, socket, head, hooks.acceptor, d.info, hooks.handshakes ?? null),
            (err: unknown) => {
              process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'OdinWsProtobufLoad');
              socket.end(rawResponse(503, JSON.stringify({ error: 'the protobuf protocol could not be loaded' })));
            },
          );
        else this.handleUpgrade(req, socket, head, hooks.acceptor, d.info, hooks.handshakes ?? null);
      },
    });
    return this.http.port;
  }

  private handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    acceptor: ConnectionAcceptor,
    info: ConnectionInfo,
    sockets: HandshakeTracker | null,
  ): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new WsConnection(ws, this.preframed, info.binary === true, sockets, info.ip);
      const w = ws as GatewayWebSocket;
      w.transport = this;
      this.openConnections++;
      w.handler = acceptor.accept(conn, info);
      socketOf(ws).setNoDelay(true);
    });
  }

  async close(): Promise<void> {
    this.wss.close();
    await this.http?.close();
    this.http = null;
  }
}
