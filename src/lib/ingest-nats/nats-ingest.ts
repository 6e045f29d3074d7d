/**
 * NatsIngest: existing Odin publishers write plain NATS subjects (`odin.token.BTC.trade`,
 * `odin.market.statistics`); this turns each message into a publication on a channel
 * (`BTC.trade`, `market.stats`) through the Ingest seam (core/ingest.ts, whose guarantees it
 * gives), into any broker: the memory broker needs no JetStream.
 *
 * Dedup only by a real message id: the `Nats-Msg-Id` header, else the Odin event's `id`
 * field; a message with neither is published as is, even when its bytes repeat an earlier one.
 *
 * Several gateway processes on one feed (a shared broker): with a lease (option `lease`, the
 * gateway's default on the JetStream broker, lease.ts) one process at a time reads the whole
 * feed, so the work per message is not multiplied and a channel's order is the feed's; another
 * takes over when it stops. A queue group (option `queue`) also ingests each message once but
 * spreads consecutive messages of a channel over processes, so their order may change. With
 * neither, every process publishes every message and the broker's idempotency window keeps one
 * copy of each message that has an id.
 */
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DEFAULT_INGEST_MAX_IN_FLIGHT, IngestTracker, type Ingest, type IngestHealth, type IngestSink } from '../core/ingest.js';
import type { PublishOptions } from '../core/broker.js';
import { utf8Text } from '../protocol/json-text.js';
import { jsonTooDeep } from '../protocol/limits.js';
import type { Clock } from '../core/clock.js';
import { Lease } from './lease.js';

export { DEFAULT_INGEST_MAX_IN_FLIGHT };

export interface IngestRule {
  /** NATS subject, with `*` (one token) and `>` (the rest) wildcards. */
  readonly subject: string;
  /** Channel template: `$1`, `$2`... are the subject's wildcard tokens in order (`>` as one). */
  readonly channel: string;
}

/** The Odin subjects: `odin.token.{SYMBOL}.{event}` → `{SYMBOL}.{event}`, statistics → `market.stats`. */
export const DEFAULT_INGEST_RULES: readonly IngestRule[] = Object.freeze([
  { subject: 'odin.token.*.*', channel: '$1.$2' },
  { subject: 'odin.token.*.balances.*', channel: '$1.balances.$2' },
  { subject: 'odin.market.statistics', channel: 'market.stats' },
]);
export interface NatsIngestOptions {
  /** Where publications go: the gateway's publish, or a broker. */
  readonly broker: IngestSink;
  /** NATS URLs; or `connection`. */
  readonly servers?: string | readonly string[];
  readonly connection?: NatsConnection;
  readonly rules?: readonly IngestRule[];
  /** Queue group: each message ingested by one member only. */
  readonly queue?: string;
  /** Lease (needs JetStream): one process at a time reads the feed. */
  readonly lease?: { readonly subject?: string; readonly ttlMs?: number };
  /** History options for a channel's publications (namespaces' sizes and TTLs). */
  readonly publishOptions?: (channel: string) => PublishOptions | undefined;
  readonly maxInFlight?: number;
  /** Lag is measured on it (the process's clock, or a test's). */
  readonly clock: Clock;
  readonly onError?: (err: unknown, channel: string) => void;
}

interface CompiledRule {
  readonly tokens: readonly string[];
  readonly channel: string;
}

function compile(rule: IngestRule): CompiledRule {
  const tokens = rule.subject.split('.');
  tokens.forEach((t, i) => {
    if (t === '' || (t === '>' && i !== tokens.length - 1)) throw new RangeError(`ingest rule subject is invalid: ${rule.subject}`);
  });
  const wild = tokens.filter((t) => t === '*' || t === '>').length;
  for (const m of rule.channel.matchAll(/\$(\d+)/g)) {
    const n = Number(m[1]);
    if (n < 1 || n > wild) throw new RangeError(`ingest rule channel ${rule.channel} uses $${n} but ${rule.subject} has ${wild} wildcards`);
  }
  return { tokens, channel: rule.channel };
}

/** The channel for `subject` under `rules` (first match wins), or null. */
export function mapSubject(rules: readonly CompiledRule[], subject: string): string | null {
  const parts = subject.split('.');
  for (const r of rules) {
    const caps: string[] = [];
    let ok = true;
    for (let i = 0; i < r.tokens.length; i++) {
      const t = r.tokens[i]!;
      if (t === '>') {
        if (i >= parts.length) ok = false;
        else caps.push(parts.slice(i).join('.'));
        break;
      }
      const p = parts[i];
      if (p === undefined) {
        ok = false;
        break;
      }
      if (t === '*') caps.push(p);
      else if (t !== p) {
        ok = false;
        break;
      }
      if (i === r.tokens.length - 1 && parts.length !== r.tokens.length) ok = false;
    }
    if (ok) return r.channel.replace(/\$(\d+)/g, (_, n: string) => caps[Number(n) - 1] ?? '');
  }
  return null;
}

export function compileRules(rules: readonly IngestRule[]): CompiledRule[] {
  return rules.map(compile);
}

/** The dedup key of a message: its Nats-Msg-Id, else the event's own `id`; never its content. */
export function messageId(headerId: string | undefined, event: unknown): string | undefined {
  if (headerId !== undefined && headerId !== '') return headerId;
  if (typeof event === 'object' && event !== null && 'id' in event) {
    const id = (event as { id: unknown }).id;
    if (typeof id === 'string' && id !== '') return id;
  }
  return undefined;
}

export class NatsIngest implements Ingest {
  readonly kind = 'nats';
  private readonly tracker: IngestTracker;
  private readonly rules: CompiledRule[];
  private readonly subjects: string[];
  private nc: NatsConnection | null = null;
  private subs: Subscription[] = [];
  private connected = false;
  private running = false;
  private lease: Lease | null = null;
  /** The server has confirmed the current subscriptions (a flush after them returned). */
  private confirmed = false;
  /** Bumped at each (un)subscribe, so a late confirmation of an older set is ignored. */
  private generation = 0;

  constructor(private readonly o: NatsIngestOptions) {
    const rules = o.rules ?? DEFAULT_INGEST_RULES;
    this.rules = compileRules(rules);
    this.subjects = rules.map((r) => r.subject);
    this.tracker = new IngestTracker(o.clock, o.maxInFlight ?? DEFAULT_INGEST_MAX_IN_FLIGHT);
    if (o.connection === undefined && o.servers === undefined) throw new RangeError('NatsIngest needs "servers" or "connection"');
  }

  /** A snapshot of health() (kept for callers that read counters). */
  get stats(): IngestHealth {
    return this.health();
  }

  health(): IngestHealth {
    return {
      ...this.tracker.counters,
      kind: this.kind,
      running: this.running,
      connected: this.connected,
      reading: this.confirmed,
      inFlight: this.tracker.inFlight,
      lagMs: this.tracker.lagMs(),
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const nc =
      this.o.connection ??
      (await connect({
        servers: typeof this.o.servers === 'string' ? this.o.servers.split(',') : [...(this.o.servers ?? [])],
        name: `odin-ws-ingest-${process.pid}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }));
    this.nc = nc;
    this.connected = !nc.isClosed();
    void this.watch(nc);
    this.running = true;
    if (this.o.lease !== undefined) {
      this.lease = new Lease(nc, {
        subject: this.o.lease.subject ?? 'odin-ws.lease.ingest-nats',
        ...(this.o.lease.ttlMs !== undefined ? { ttlMs: this.o.lease.ttlMs } : {}),
        onChange: (held) => (held ? this.subscribeAll(nc) : this.unsubscribeAll()),
      });
      await this.lease.start();
    } else {
      this.subscribeAll(nc);
    }
    await nc.flush();
  }

  private subscribeAll(nc: NatsConnection): void {
    if (!this.running || this.subs.length > 0) return;
    for (const subject of this.subjects) {
      this.subs.push(
        nc.subscribe(subject, {
          ...(this.o.queue !== undefined ? { queue: this.o.queue } : {}),
          callback: (err, m) => {
            if (err === null) this.onMessage(m);
          },
        }),
      );
    }
    this.generation++;
    this.confirm(nc);
  }

  /**
   * Reading only once the server has the subscriptions: until then a message published from
   * another connection may reach the server first and go to nobody.
   */
  private confirm(nc: NatsConnection): void {
    const generation = this.generation;
    nc.flush().then(
      () => {
        if (generation === this.generation && this.subs.length > 0) this.confirmed = true;
      },
      () => undefined, // disconnected: the client resubscribes at reconnect, and watch() confirms again
    );
  }

  private unsubscribeAll(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    this.generation++;
    this.confirmed = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.lease?.release();
    this.lease = null;
    this.unsubscribeAll();
    const nc = this.nc;
    this.nc = null;
    await this.tracker.whenIdle();
    if (nc && this.o.connection === undefined) await nc.drain().catch(() => nc.close());
    this.connected = false;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      else if (s.type === 'reconnect') {
        this.connected = true;
        if (this.subs.length > 0 && !this.confirmed) this.confirm(nc);
      } else if (s.type === 'close') {
        this.connected = false;
        return;
      }
    }
  }

  private onMessage(m: Msg): void {
    if (this.nc === null) return; // stopped: nothing reaches the sink after stop()
    const c = this.tracker.counters;
    c.received++;
    const channel = mapSubject(this.rules, m.subject);
    if (channel === null) {
      c.dropped++;
      return;
    }
    // The message is published as the bytes that arrived: strict UTF-8 JSON within the depth
    // limit, else dropped. It is parsed only to read its id; Odin pushes read its `type` from
    // the text, and no tag is added (tags are sent only when published).
    const data = utf8Text(m.data);
    let event: unknown;
    try {
      if (data === null) throw new TypeError('not UTF-8');
      event = JSON.parse(data);
    } catch {
      c.dropped++;
      return;
    }
    if (jsonTooDeep(event)) {
      c.dropped++;
      return;
    }
    const key = messageId(m.headers?.get('Nats-Msg-Id'), event);
    const base = this.o.publishOptions?.(channel);
    const opts: PublishOptions = {
      ...base,
      ...(key !== undefined ? { idempotencyKey: key } : {}),
    };
    this.tracker.track(
      () => this.o.broker.publish(channel, data, opts),
      (err) => this.o.onError?.(err, channel),
    );
  }
}
