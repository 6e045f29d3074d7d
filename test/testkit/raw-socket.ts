/**
 * A raw TCP client for RFC 6455 and HTTP edge cases that a WebSocket library would refuse to
 * send: unmasked or malformed frames, half-sent handshakes, CONNECT. It parses what comes back
 * (status line, headers, server frames) and resolves on events (a close, a matching frame),
 * never on sleeps.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface ServerFrame {
  readonly opcode: number;
  readonly payload: Buffer;
  /** For close frames: the code, or null when the payload is empty. */
  readonly closeCode: number | null;
}

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A client frame; masked unless `mask: false`. */
export function clientFrame(opcode: number, payload: Buffer | string, opts: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const p = Buffer.from(payload);
  const mask = opts.mask ?? true;
  const len = p.length;
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (len >= 126 && len < 65536) ext.writeUInt16BE(len);
  else if (len >= 65536) ext.writeBigUInt64BE(BigInt(len));
  const head = Buffer.from([
    ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode,
    (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127),
  ]);
  if (!mask) return Buffer.concat([head, ext, p]);
  const key = randomBytes(4);
  const body = Buffer.from(p.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([head, ext, key, body]);
}

/** A close frame payload: a code and a reason (raw bytes allowed). */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

export function handshake(path: string, headers: Record<string, string | undefined> = {}, extraLines: readonly string[] = []): string {
  const h: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(h)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`);
  return `GET ${path} HTTP/1.1\r\n${[...lines, ...extraLines].join('\r\n')}\r\n\r\n`;
}

export class RawClient {
  private buf = Buffer.alloc(0);
  private headEnd = -1;
  status: number | null = null;
  headers: Record<string, string> = {};
  /** The HTTP response body (non-upgrade answers) as received so far. */
  body = Buffer.alloc(0);
  readonly frames: ServerFrame[] = [];
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Opens a connection and completes a handshake; rejects unless it is a 101. */
  static async upgrade(port: number, path: string): Promise<RawClient> {
    const c = await RawClient.open(port);
    c.write(handshake(path));
    await c.until(() => c.status !== null, 'a handshake answer');
    if (c.status !== 101) throw new Error(`expected 101, got ${c.status}`);
    return c;
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Resolves once `cond` holds (checked on every byte received and on close). */
  until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; status ${this.status}, frames ${this.describe()}`)),
        timeoutMs,
      );
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** The close frame's code once the server closed (null: closed without a close frame). */
  async closeCode(timeoutMs = 8000): Promise<number | null> {
    await this.until(() => this.closed || this.frames.some((f) => f.opcode === OP.close), 'a close', timeoutMs);
    return this.frames.find((f) => f.opcode === OP.close)?.closeCode ?? null;
  }

  /** The HTTP answer once complete (status and body), for refusals. */
  async response(timeoutMs = 8000): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    await this.until(
      () => this.status !== null && (this.closed || this.body.length >= Number(this.headers['content-length'] ?? Infinity)),
      'an HTTP answer',
      timeoutMs,
    );
    return { status: this.status!, headers: this.headers, body: this.body.toString() };
  }

  destroy(): void {
    this.socket.destroy();
  }

  describe(): string {
    return this.frames.map((f) => (f.opcode === OP.close ? `close(${f.closeCode ?? 'empty'})` : `op${f.opcode}`)).join(',');
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private parse(): void {
    if (this.headEnd < 0) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const lines = this.buf.subarray(0, i).toString('latin1').split('\r\n');
      this.status = Number(lines[0]!.split(' ')[1]);
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        if (c > 0) this.headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      this.headEnd = i + 4;
      this.buf = this.buf.subarray(this.headEnd);
    }
    if (this.status !== 101) {
      this.body = Buffer.concat([this.body, this.buf]);
      this.buf = Buffer.alloc(0);
      return;
    }
    while (this.buf.length >= 2) {
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const opcode = this.buf[0]! & 0x0f;
      const payload = this.buf.subarray(off, off + len);
      this.frames.push({ opcode, payload, closeCode: opcode === OP.close && payload.length >= 2 ? payload.readUInt16BE(0) : null });
      this.buf = this.buf.subarray(off + len);
    }
  }
}
