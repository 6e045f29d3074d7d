/**
 * A lean WebSocket client for load generation: a raw TCP socket, the HTTP upgrade, and a frame
 * parser that hands each message to its owner as (buffer, start, end) without copying. The
 * `ws` library allocates per message and would make the load client the bottleneck.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { WsClose } from '../protocol/codes.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

// Connection states.
const S_HANDSHAKE = 0;
const S_OPEN = 1;
const S_CLOSED = 2;

/** Largest upgrade response kept while waiting for its end, bytes. */
const MAX_HANDSHAKE_BYTES = 16 * 1024;

export interface WsClientEvents {
  /** The upgrade completed. */
  onOpen(client: WsClient): void;
  /** One complete message; `buf[start..end)` is valid only during the call. */
  onMessage(client: WsClient, buf: Buffer, start: number, end: number, binary: boolean): void;
  /** Called once: `code` is the close frame's code (1006 when none), `reason` a short cause. */
  onClose(client: WsClient, code: number, reason: string, wasOpen: boolean): void;
}

export interface WsConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly localAddress?: string;
  /** Sends pings' pongs automatically (WebSocket level). */
  readonly extraHeaders?: string;
}

/** Builds a masked client frame. */
export function encodeClientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const headerLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLen + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  const mask = randomBytes(4);
  mask.copy(out, headerLen);
  const base = headerLen + 4;
  for (let i = 0; i < len; i++) out[base + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Frame header facts, or null when the buffer does not hold the whole frame yet. */
export interface FrameHeader {
  fin: boolean;
  opcode: number;
  payloadStart: number;
  payloadEnd: number;
}

/** Parses a server (unmasked) frame header at `pos`. Masked server frames are a protocol error (throws). */
export function readFrameHeader(buf: Buffer, pos: number, out: FrameHeader): boolean {
  const avail = buf.length - pos;
  if (avail < 2) return false;
  const b0 = buf[pos]!;
  const b1 = buf[pos + 1]!;
  if ((b1 & 0x80) !== 0) throw new Error('server frame is masked');
  let len = b1 & 0x7f;
  let hdr = 2;
  if (len === 126) {
    if (avail < 4) return false;
    len = buf.readUInt16BE(pos + 2);
    hdr = 4;
  } else if (len === 127) {
    if (avail < 10) return false;
    len = buf.readUInt32BE(pos + 2) * 0x100000000 + buf.readUInt32BE(pos + 6);
    hdr = 10;
  }
  if (avail < hdr + len) return false;
  out.fin = (b0 & 0x80) !== 0;
  out.opcode = b0 & 0x0f;
  out.payloadStart = pos + hdr;
  out.payloadEnd = pos + hdr + len;
  return true;
}

const header: FrameHeader = { fin: false, opcode: 0, payloadStart: 0, payloadEnd: 0 };

export class WsClient {
  private state = S_HANDSHAKE;
  private readonly socket: Socket;
  private rest: Buffer | null = null;
  private fragments: Buffer[] | null = null;
  private fragmentOpcode = 0;
  private readonly key = randomBytes(16).toString('base64');
  private closeCode: number = WsClose.Abnormal;
  /** We sent a close frame: the server answers and closes TCP first (so TIME_WAIT lands on its side). */
  private closeSent = false;
  private closeReason = '';
  /** A refused upgrade's `Retry-After`, ms; null when it had none. */
  retryAfterMs: number | null = null;
  /** Owner's per-connection state. */
  tag: unknown = null;

  constructor(
    opts: WsConnectOptions,
    private readonly events: WsClientEvents,
  ) {
    const s = connect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      s.write(
        `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n${opts.extraHeaders ?? ''}\r\n`,
      );
    });
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (this.closeReason === '') this.closeReason = err.code ?? err.message;
    });
    s.on('close', () => this.finish());
  }

  get isOpen(): boolean {
    return this.state === S_OPEN;
  }

  sendText(text: string): void {
    if (this.state === S_OPEN) this.socket.write(encodeClientFrame(OP_TEXT, Buffer.from(text)));
  }

  sendBinary(data: Buffer): void {
    if (this.state === S_OPEN) this.socket.write(encodeClientFrame(OP_BINARY, data));
  }

  /** Closing handshake; the socket ends when the server answers (or is destroyed after 2 s). */
  close(code = 1000): void {
    if (this.state !== S_OPEN) {
      this.socket.destroy();
      return;
    }
    const p = Buffer.allocUnsafe(2);
    p.writeUInt16BE(code, 0);
    this.closeSent = true;
    this.socket.write(encodeClientFrame(OP_CLOSE, p));
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(): void {
    if (this.state === S_CLOSED) return;
    const wasOpen = this.state === S_OPEN;
    this.state = S_CLOSED;
    this.events.onClose(this, this.closeCode, this.closeReason || (wasOpen ? 'closed' : 'connect_failed'), wasOpen);
  }

  private fail(code: number, reason: string): void {
    this.closeCode = code;
    this.closeReason = reason;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    let pos = 0;
    if (this.state === S_HANDSHAKE) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HANDSHAKE_BYTES) this.fail(1002, 'bad_handshake');
        else this.rest = buf;
        return;
      }
      const head = buf.toString('latin1', 0, end);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (!status || status[1] !== '101') {
        const retryAfter = /\r\nretry-after:\s*(\d+)/i.exec(head);
        if (retryAfter) this.retryAfterMs = Number(retryAfter[1]) * 1000;
        this.fail(1006, `http_${status ? status[1] : 'garbage'}`);
        return;
      }
      const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head);
      const want = createHash('sha1')
        .update(this.key + GUID)
        .digest('base64');
      if (!accept || accept[1] !== want) {
        this.fail(1002, 'bad_accept');
        return;
      }
      this.state = S_OPEN;
      pos = end + 4;
      this.events.onOpen(this);
      if (this.state !== S_OPEN) return;
    }
    try {
      while (this.state === S_OPEN && readFrameHeader(buf, pos, header)) {
        const { fin, opcode, payloadStart, payloadEnd } = header;
        pos = payloadEnd;
        if (opcode === OP_TEXT || opcode === OP_BINARY) {
          if (fin) this.events.onMessage(this, buf, payloadStart, payloadEnd, opcode === OP_BINARY);
          else {
            this.fragments = [Buffer.from(buf.subarray(payloadStart, payloadEnd))];
            this.fragmentOpcode = opcode;
          }
        } else if (opcode === OP_CONT) {
          if (this.fragments === null) throw new Error('continuation without a start');
          this.fragments.push(Buffer.from(buf.subarray(payloadStart, payloadEnd)));
          if (fin) {
            const whole = Buffer.concat(this.fragments);
            this.fragments = null;
            this.events.onMessage(this, whole, 0, whole.length, this.fragmentOpcode === OP_BINARY);
          }
        } else if (opcode === OP_PING) {
          this.socket.write(encodeClientFrame(OP_PONG, buf.subarray(payloadStart, payloadEnd)));
        } else if (opcode === OP_CLOSE) {
          this.closeCode = payloadEnd - payloadStart >= 2 ? buf.readUInt16BE(payloadStart) : 1005;
          this.closeReason = buf.toString('utf8', payloadStart + Math.min(2, payloadEnd - payloadStart), payloadEnd) || 'server_close';
          if (!this.closeSent) {
            const p = Buffer.allocUnsafe(2);
            p.writeUInt16BE(this.closeCode === 1005 ? 1000 : this.closeCode, 0);
            this.socket.write(encodeClientFrame(OP_CLOSE, p));
            // The server closes TCP after the handshake; a server that does not is cut off.
            setTimeout(() => this.socket.destroy(), 2000).unref();
          }
          this.finish();
          return;
        }
      }
    } catch (err) {
      this.fail(1002, (err as Error).message);
      return;
    }
    if (pos < buf.length && this.state === S_OPEN) this.rest = pos === 0 ? buf : buf.subarray(pos);
  }
}
