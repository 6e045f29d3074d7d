/**
 * Publishes to the gateway's HTTP server API (Centrifugo shape): one event →
 * `POST /api/publish {channel, data, idempotency_key, tags}`; several →
 * `POST /api/batch {"commands":[{"publish":{…}}, …]}`, one request per `maxBatch` events.
 * `tags.type` carries the event type so the gateway can label legacy Odin frames without
 * parsing `data`. Bodies are built by string concatenation: each event is serialized once.
 */
import type { OdinEvent } from '../../protocol/events.js';
import { RouteCache } from '../routes.js';
import type { EventSink, SinkInfo, SinkResult } from './sink.js';

export interface GatewaySinkOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:3002. */
  readonly url: string;
  /** Sent as `X-API-Key` when set. */
  readonly apiKey?: string;
  /** Most events per HTTP request. Default 200. */
  readonly maxBatch?: number;
  /** Per-request timeout, ms. Default 10000. */
  readonly timeoutMs?: number;
  /** While the gateway is unreachable, probe it this often, ms. Default 2000. */
  readonly probeIntervalMs?: number;
}

export const DEFAULT_GATEWAY_MAX_BATCH = 200;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_PROBE_MS = 2_000;

interface ReplyCount {
  failed: number;
  error?: string;
}

export class GatewaySink implements EventSink {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly probeMs: number;
  private readonly routes = new RouteCache();
  private connected = false;
  private closed = false;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: GatewaySinkOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/json' };
    if (opts.apiKey) this.headers['x-api-key'] = opts.apiKey;
    this.maxBatch = opts.maxBatch ?? DEFAULT_GATEWAY_MAX_BATCH;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.probeMs = opts.probeIntervalMs ?? DEFAULT_PROBE_MS;
  }

  /** Probes the gateway once; never rejects (an unreachable gateway is retried). */
  async connect(): Promise<void> {
    await this.probe();
  }

  async publish(events: readonly OdinEvent[]): Promise<SinkResult> {
    if (events.length === 0) return { published: 0, failed: 0 };
    if (events.length <= this.maxBatch) return this.send(events, 0, events.length);
    const parts: Promise<SinkResult>[] = [];
    for (let i = 0; i < events.length; i += this.maxBatch) parts.push(this.send(events, i, Math.min(i + this.maxBatch, events.length)));
    let published = 0;
    let failed = 0;
    let error: string | undefined;
    for (const r of await Promise.all(parts)) {
      published += r.published;
      failed += r.failed;
      error ??= r.error;
    }
    return error === undefined ? { published, failed } : { published, failed, error };
  }

  isConnected(): boolean {
    return this.connected;
  }

  info(): SinkInfo {
    return { kind: 'gateway', connected: this.connected, target: this.base };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private command(e: OdinEvent): string {
    const channel = this.routes.route(e).channel;
    return `{"channel":"${channel}","data":${JSON.stringify(e)},"idempotency_key":"${e.id}","tags":{"type":"${e.type}"}}`;
  }

  private async send(events: readonly OdinEvent[], from: number, to: number): Promise<SinkResult> {
    const n = to - from;
    let path: string;
    let body: string;
    if (n === 1) {
      path = '/api/publish';
      body = this.command(events[from]!);
    } else {
      path = '/api/batch';
      body = '{"commands":[';
      for (let i = from; i < to; i++) body += (i === from ? '{"publish":' : ',{"publish":') + this.command(events[i]!) + '}';
      body += ']}';
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.base + path, { method: 'POST', headers: this.headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      this.setConnected(false);
      return { published: 0, failed: n, error: `gateway unreachable: ${errorMessage(err)}` };
    }
    if (!res.ok) {
      // 5xx and refused credentials mean nothing will get through until someone acts.
      this.setConnected(!(res.status >= 500 || res.status === 401 || res.status === 403));
      return { published: 0, failed: n, error: `gateway answered HTTP ${res.status}: ${text.slice(0, 200)}` };
    }
    this.setConnected(true);
    const r = countReplyErrors(text, n);
    return r.error === undefined
      ? { published: n - r.failed, failed: r.failed }
      : { published: n - r.failed, failed: r.failed, error: r.error };
  }

  private setConnected(up: boolean): void {
    this.connected = up;
    if (!up && !this.closed && this.probeTimer === null) {
      this.probeTimer = setTimeout(() => {
        this.probeTimer = null;
        void this.probe();
      }, this.probeMs);
      this.probeTimer.unref();
    }
  }

  /** Any HTTP answer from the gateway's /health means it is reachable. */
  private async probe(): Promise<void> {
    if (this.closed) return;
    try {
      const res = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(Math.min(this.timeoutMs, 2000)) });
      await res.arrayBuffer();
      this.setConnected(true);
    } catch {
      this.setConnected(false);
    }
  }
}

/**
 * Counts per-command errors in a server API answer: `{"result":…}` / `{"error":…}` for
 * publish, `{"replies":[…]}` (or `{"result":{"replies":[…]}}`) for batch. An answer without
 * replies counts as all accepted.
 */
function countReplyErrors(text: string, n: number): ReplyCount {
  if (!text.includes('"error"')) return { failed: 0 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { failed: 0 };
  }
  if (!isObject(parsed)) return { failed: 0 };
  if (isObject(parsed['error'])) return { failed: n, error: `gateway error: ${JSON.stringify(parsed['error'])}` };
  const result = parsed['result'];
  const replies = Array.isArray(parsed['replies'])
    ? parsed['replies']
    : isObject(result) && Array.isArray(result['replies'])
      ? result['replies']
      : [];
  let failed = 0;
  let error: string | undefined;
  for (const r of replies as unknown[]) {
    if (isObject(r) && isObject(r['error'])) {
      failed++;
      error ??= `gateway error: ${JSON.stringify(r['error'])}`;
    }
  }
  return error === undefined ? { failed } : { failed, error };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return err.message + cause;
  }
  return String(err);
}
