/**
 * Publishing for load runs: a rate-controlled publisher with profiles (sustained, burst, ramp)
 * that sends stamped payloads to a target — the server HTTP API (our gateway, the naive
 * baseline, Centrifugo) or a NATS connection — plus a client for the publisher service's
 * control API, for runs that drive the real publisher instead.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { monoNowUs } from './scan.js';

export interface Outgoing {
  readonly channel: string;
  /** JSON text. */
  readonly data: string;
}

export interface PublishTarget {
  /** Sends a batch; resolves when the server accepted it. */
  send(batch: readonly Outgoing[]): Promise<void>;
  close(): Promise<void>;
}

const SIDES = ['buy', 'sell'] as const;

/**
 * A trade-shaped event (about 150 bytes) with `s` (per-channel sequence from 1) and `t`
 * (CLOCK_MONOTONIC µs) so any server's deliveries can be checked for gaps and timed.
 */
export function benchPayload(channel: string, seq: number, tUs: number): string {
  const dot = channel.indexOf('.');
  const token = dot > 0 ? channel.slice(0, dot) : channel;
  return (
    '{"type":"trade:new","tokenId":"' +
    token +
    '","side":"' +
    SIDES[seq & 1] +
    '","price":' +
    (43250 + (seq % 100) / 4) +
    ',"amountToken":1.25,"amountBtc":0.0289,"source":"odin-ws-loadtest","s":' +
    seq +
    ',"t":' +
    Math.round(tUs) +
    '}'
  );
}

/** POST /api/publish or /api/batch with X-API-Key: our gateway, Centrifugo, the naive baseline. */
export class HttpApiTarget implements PublishTarget {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private readonly url: URL;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
  ) {
    this.url = new URL(baseUrl);
  }

  send(batch: readonly Outgoing[]): Promise<void> {
    if (batch.length === 0) return Promise.resolve();
    let path: string;
    let body: string;
    if (batch.length === 1) {
      path = '/api/publish';
      body = '{"channel":' + JSON.stringify(batch[0]!.channel) + ',"data":' + batch[0]!.data + '}';
    } else {
      path = '/api/batch';
      body =
        '{"commands":[' +
        batch.map((m) => '{"publish":{"channel":' + JSON.stringify(m.channel) + ',"data":' + m.data + '}}').join(',') +
        ']}';
    }
    return this.post(path, body);
  }

  post(path: string, body: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': this.apiKey },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            // The server API (ours and Centrifugo's) answers errors with HTTP 200 and an `error` object.
            else if (text.startsWith('{"error"')) reject(new Error(`API error: ${text.slice(0, 200)}`));
            else resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** Publishes over a plain NATS TCP connection (PUB lines, pipelined in one write per batch). */
export class NatsTarget implements PublishTarget {
  private constructor(private readonly socket: Socket) {}

  static connect(host: string, port: number): Promise<NatsTarget> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      // Without it, Nagle holds each batch until the previous one is acknowledged.
      s.setNoDelay(true);
      s.once('error', reject);
      s.once('data', () => {
        s.off('error', reject);
        s.on('error', () => undefined);
        s.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n');
        // Answer server pings so a long run is not dropped.
        s.on('data', (d: Buffer) => {
          if (d.includes('PING\r\n')) s.write('PONG\r\n');
        });
        resolve(new NatsTarget(s));
      });
    });
  }

  send(batch: readonly Outgoing[]): Promise<void> {
    let text = '';
    for (const m of batch) text += `PUB ${m.channel} ${Buffer.byteLength(m.data)}\r\n${m.data}\r\n`;
    return new Promise<void>((resolve, reject) => this.socket.write(text, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    this.socket.end();
  }
}

export type ProfileName = 'sustained' | 'burst' | 'ramp';
export const PROFILES: readonly ProfileName[] = ['sustained', 'burst', 'ramp'];

/** Burst profile: `BURST_FACTOR` × the rate for `BURST_MS` every `BURST_PERIOD_MS`, the base rate otherwise. */
export const BURST_FACTOR = 5;
export const BURST_MS = 1000;
export const BURST_PERIOD_MS = 10_000;

/** Publications due from time 0 to `tMs` for a profile with base rate `rate`/s over `durationMs`. */
export function publicationsDue(profile: ProfileName, rate: number, durationMs: number, tMs: number): number {
  const t = Math.min(Math.max(0, tMs), durationMs);
  switch (profile) {
    case 'sustained':
      return Math.floor((rate * t) / 1000);
    case 'ramp':
      // Linear from 0 to `rate` over the run: the integral of rate·t/T.
      return Math.floor((rate * t * t) / (2 * durationMs * 1000));
    case 'burst': {
      const periods = Math.floor(t / BURST_PERIOD_MS);
      const inPeriod = t - periods * BURST_PERIOD_MS;
      const perPeriod = (rate * (BURST_PERIOD_MS + (BURST_FACTOR - 1) * BURST_MS)) / 1000;
      const partial = (rate * (inPeriod + (BURST_FACTOR - 1) * Math.min(inPeriod, BURST_MS))) / 1000;
      return Math.floor(periods * perPeriod + partial);
    }
  }
}

/** Ticks between publisher batches, ms. */
export const PUBLISH_TICK_MS = 10;
/** Batches in flight before the publisher counts itself behind. */
export const MAX_IN_FLIGHT = 32;

export interface PublisherStats {
  published: number;
  failed: number;
  /** Ticks skipped because too many batches were in flight (the target or the publisher is slow). */
  behindTicks: number;
  lastError: string;
}

/** Publishes round-robin over `channels` following a profile, in one batch per tick. */
export class RatePublisher {
  readonly stats: PublisherStats = { published: 0, failed: 0, behindTicks: 0, lastError: '' };
  private readonly seq = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private next = 0;
  private startedAt = 0;
  private sent = 0;
  private idle: (() => void) | null = null;

  constructor(
    private readonly target: PublishTarget,
    private readonly channels: readonly string[],
    private profile: ProfileName,
    private rate: number,
    private durationMs: number,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.sent = 0;
    this.timer = setInterval(() => this.tick(), PUBLISH_TICK_MS);
  }

  /** Changes the sustained rate from now on (bench stepping). */
  setRate(rate: number): void {
    this.stop();
    this.profile = 'sustained';
    this.rate = rate;
    this.durationMs = Number.MAX_SAFE_INTEGER;
    this.start();
  }

  private tick(): void {
    const due = publicationsDue(this.profile, this.rate, this.durationMs, performance.now() - this.startedAt) - this.sent;
    if (due <= 0) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.stats.behindTicks++;
      return;
    }
    const n = Math.min(due, 5000);
    const t = monoNowUs();
    const batch: Outgoing[] = new Array<Outgoing>(n);
    for (let i = 0; i < n; i++) {
      const channel = this.channels[this.next++ % this.channels.length]!;
      const s = (this.seq.get(channel) ?? 0) + 1;
      this.seq.set(channel, s);
      batch[i] = { channel, data: benchPayload(channel, s, t) };
    }
    this.sent += n;
    this.inFlight++;
    this.target.send(batch).then(
      () => {
        this.stats.published += n;
        this.settle();
      },
      (err: unknown) => {
        this.stats.failed += n;
        this.stats.lastError = (err as Error).message;
        this.settle();
      },
    );
  }

  private settle(): void {
    if (--this.inFlight === 0 && this.idle) this.idle();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops and waits for batches in flight. */
  async drain(): Promise<void> {
    this.stop();
    if (this.inFlight > 0) await new Promise<void>((r) => (this.idle = r));
  }
}

/** The publisher service's control API (POST /control, GET /stats), with its key when it has one. */
export class PublisherControl {
  constructor(
    private readonly baseUrl: string,
    private readonly key: string | null = null,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: { 'content-type': 'application/json', ...(this.key !== null ? { 'x-api-key': this.key } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(5000),
    });
    const json: unknown = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`publisher ${path}: HTTP ${res.status} ${JSON.stringify(json).slice(0, 200)}`);
    return json;
  }

  /** Configures profile and rate for the run, then starts publishing. */
  async start(opts: {
    messagesPerSecond: number;
    durationSeconds: number;
    profile: ProfileName;
    tokens?: readonly string[];
  }): Promise<void> {
    await this.call('POST', '/control', {
      action: 'configure',
      messagesPerSecond: opts.messagesPerSecond,
      duration: opts.durationSeconds,
      profile: opts.profile,
      // The publisher ramps from its floor up to the rate over rampSeconds (its default when the run is open-ended).
      ...(opts.profile === 'ramp' && opts.durationSeconds > 0 ? { rampSeconds: opts.durationSeconds } : {}),
      ...(opts.tokens ? { tokens: opts.tokens } : {}),
    });
    await this.call('POST', '/control', { action: 'start' });
  }

  /** Stops publishing; resolves with the publisher's count of published and failed events. */
  async stop(): Promise<{ published: number; failed: number }> {
    await this.call('POST', '/control', { action: 'stop' });
    const s = (await this.call('GET', '/stats')) as { stats?: { messagesPublished?: unknown; errors?: unknown } };
    const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
    return { published: num(s.stats?.messagesPublished), failed: num(s.stats?.errors) };
  }
}
