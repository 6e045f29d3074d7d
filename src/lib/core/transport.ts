/**
 * The transport seam: how bytes reach a client. Core never touches a socket; a transport
 * (ws, uWebSockets.js, a fake in tests) adapts its connections to these two interfaces.
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

/** Facts about an incoming connection, known at upgrade. */
export interface ConnectionInfo {
  readonly protocol: 'odin' | 'centrifuge';
  readonly ip: string;
  readonly origin?: string;
  /** Token from the `token` query parameter or `Authorization: Bearer` (Odin protocol). */
  readonly token?: string;
  /**
   * Every message to this connection is a binary WebSocket message (the Centrifugo protobuf
   * protocol, subprotocol `centrifuge-protobuf`); its frames come from `prepare(payload, true)`.
   */
  readonly binary?: boolean;
}

/** What the gateway decides before accepting an upgrade. */
export type Admission = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly reason: string };

/** The side of core a transport talks to. */
export interface ConnectionAcceptor {
  /** Called before the upgrade completes; a refusal becomes an HTTP error response. */
  admit(info: ConnectionInfo): Admission;
  /** Called once the upgrade completed; returns the handler for the connection's events. */
  accept(conn: TransportConnection, info: ConnectionInfo): ConnectionHandler;
}

export interface Transport {
  /**
   * Frames a payload once so that writing it to many connections costs no re-encoding.
   * `binary` frames are for connections whose `ConnectionInfo.binary` is set, and only those.
   */
  prepare(payload: Uint8Array, binary?: boolean): PreparedFrame;
}
