import WebSocket from 'ws';
import { waitFor } from './wait.js';

export type Json = Record<string, unknown>;

/**
 * A WebSocket test client that keeps every message and lets a test wait for the next one
 * matching a predicate (no sleeps).
 */
export class TestClient {
  readonly messages: Json[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: { pred: (m: Json) => boolean; resolve: (m: Json) => void; from: number }[] = [];
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      for (const line of data.toString('utf8').split('\n')) {
        if (line === '') continue;
        const m = JSON.parse(line) as Json;
        this.messages.push(m);
        this.waiters = this.waiters.filter((w) => {
          if (w.pred(m)) {
            w.resolve(m);
            return false;
          }
          return true;
        });
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
    });
    ws.on('error', () => {});
  }

  static connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, opts);
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The first message (already received or future) matching `pred`, after index `from`. */
  next(pred: (m: Json) => boolean, timeoutMs = 5000, from = 0): Promise<Json> {
    const have = this.messages.slice(from).find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(-5))}`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        from,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Waits until `n` messages match. */
  async waitCount(pred: (m: Json) => boolean, n: number, timeoutMs = 5000): Promise<Json[]> {
    await waitFor(() => this.messages.filter(pred).length >= n, timeoutMs, `${n} matching messages`).catch(() => {
      throw new Error(`only ${this.messages.filter(pred).length}/${n} matching messages within ${timeoutMs} ms`);
    });
    return this.messages.filter(pred);
  }

  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection not closed in time')), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** POSTs a server API method; `headers` adds request headers (e.g. X-Centrifugo-Error-Mode). */
export async function api(
  baseUrl: string,
  key: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${baseUrl}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}
