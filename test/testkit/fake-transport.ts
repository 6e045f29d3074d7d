import type {
  ConnectionAcceptor,
  ConnectionHandler,
  ConnectionInfo,
  PreparedFrame,
  FrameEncoder,
  TransportConnection,
} from '../../src/lib/core/transport.js';

/** A transport without sockets: frames are kept as text, writes are counted. */
export class FakeTransport implements FrameEncoder {
  payloadOf(frame: PreparedFrame): Uint8Array {
    return frame;
  }

  prepare(payload: Uint8Array): PreparedFrame {
    return payload;
  }

  /** Admits and accepts a connection like a real upgrade would. */
  connect(acceptor: ConnectionAcceptor, info: Partial<ConnectionInfo> = {}): FakeConnection | { rejected: number; reason: string } {
    const full: ConnectionInfo = { protocol: 'odin', ip: '127.0.0.1', ...info };
    const a = acceptor.admit(full);
    if (!a.ok) return { rejected: a.status, reason: a.reason };
    const conn = new FakeConnection();
    conn.handler = acceptor.accept(conn, full);
    return conn;
  }
}

export class FakeConnection implements TransportConnection {
  handler!: ConnectionHandler;
  /** Every frame written, decoded, in order. */
  readonly frames: string[] = [];
  /** Number of write() calls (one per flush). */
  writes = 0;
  pings = 0;
  closed: { code: number; reason: string } | null = null;
  /** Simulated unsent bytes (a slow peer). */
  bufferedAmount = 0;

  write(frames: readonly PreparedFrame[]): void {
    if (this.closed) return;
    this.writes++;
    for (const f of frames) this.frames.push(Buffer.from(f).toString('utf8'));
  }

  ping(): void {
    this.pings++;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.handler.onClose(code, reason);
  }

  terminate(): void {
    this.close(1006, '');
  }

  /** Sends a client message. */
  send(msg: unknown): void {
    this.handler.onMessage(Buffer.from(typeof msg === 'string' ? msg : JSON.stringify(msg)), false);
  }

  /** Parsed JSON messages (a Centrifugo frame may hold several, one per line). */
  messages(): Record<string, unknown>[] {
    return this.frames.flatMap((f) =>
      f
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }
}
