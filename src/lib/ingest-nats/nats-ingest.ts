/**
 * NatsIngest: existing Odin publishers write plain NATS subjects (`odin.token.BTC.trade`,
 * `odin.market.statistics`); this turns each message into a publication on a channel
 * (`BTC.trade`, `market.stats`) through any Broker, so they keep working unchanged.
 *
 * Every gateway process may run an ingest on the same subjects: each message is published
 * with an idempotency key (its Nats-Msg-Id header, else a hash of subject and payload), so
 * the broker's dedup window keeps one copy, and since each ingest publishes a channel's
 * messages in arrival order, the channel's order is the publisher's order. A queue group
 * (option `queue`) ingests each message once instead, but then consecutive messages of one
 * channel may be published by different processes and lose their order.
 */
import { createHash } from 'node:crypto';
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Broker, PublishOptions } from '../core/broker.js';

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
/** Publications in flight from one ingest before new messages are dropped (and counted). */
export const DEFAULT_INGEST_MAX_IN_FLIGHT = 10_000;

export interface NatsIngestOptions {
  readonly broker: Pick<Broker, 'publish'>;
  /** NATS URLs; or `connection`. */
  readonly servers?: string | readonly string[];
  readonly connection?: NatsConnection;
  readonly rules?: readonly IngestRule[];
  /** Queue group: each message ingested by one member only (order across members is lost). */
  readonly queue?: string;
  /** Without a Nats-Msg-Id header, dedupe by a hash of subject + payload (default true). */
  readonly dedupByContent?: boolean;
  /** History options for a channel's publications (namespaces' sizes and TTLs). */
  readonly publishOptions?: (channel: string) => PublishOptions | undefined;
  readonly maxInFlight?: number;
  readonly onError?: (err: unknown, channel: string) => void;
}

export interface IngestStats {
  received: number;
  published: number;
  /** Not JSON, no matching rule, or over the in-flight limit. */
  dropped: number;
  /** The broker refused the publication (unavailable, bad channel). */
  failed: number;
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

const decoder = new TextDecoder();

export class NatsIngest {
  readonly stats: IngestStats = { received: 0, published: 0, dropped: 0, failed: 0 };
  private readonly rules: CompiledRule[];
  private readonly subjects: string[];
  private nc: NatsConnection | null = null;
  private subs: Subscription[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly dedupByContent: boolean;

  constructor(private readonly o: NatsIngestOptions) {
    const rules = o.rules ?? DEFAULT_INGEST_RULES;
    this.rules = compileRules(rules);
    this.subjects = rules.map((r) => r.subject);
    this.maxInFlight = o.maxInFlight ?? DEFAULT_INGEST_MAX_IN_FLIGHT;
    this.dedupByContent = o.dedupByContent ?? true;
    if (o.connection === undefined && o.servers === undefined) throw new RangeError('NatsIngest needs "servers" or "connection"');
  }

  async start(): Promise<void> {
    const nc =
      this.o.connection ??
      (await connect({
        servers: typeof this.o.servers === 'string' ? this.o.servers.split(',') : [...(this.o.servers ?? [])],
        name: `odin-ws-ingest-${process.pid}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }));
    this.nc = nc;
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
    await nc.flush();
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    const nc = this.nc;
    this.nc = null;
    if (nc && this.o.connection === undefined) await nc.drain().catch(() => nc.close());
  }

  private onMessage(m: Msg): void {
    this.stats.received++;
    const channel = mapSubject(this.rules, m.subject);
    if (channel === null || this.inFlight >= this.maxInFlight) {
      this.stats.dropped++;
      return;
    }
    const data = decoder.decode(m.data);
    let type: string | undefined;
    try {
      const v: unknown = JSON.parse(data);
      if (typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string') type = v.type;
    } catch {
      this.stats.dropped++;
      return;
    }
    const msgId = m.headers?.get('Nats-Msg-Id') ?? '';
    const key =
      msgId !== ''
        ? msgId
        : this.dedupByContent
          ? createHash('sha256').update(m.subject).update('\u0000').update(m.data).digest('base64url')
          : undefined;
    const base = this.o.publishOptions?.(channel);
    const opts: PublishOptions = {
      ...base,
      ...(key !== undefined ? { idempotencyKey: key } : {}),
      ...(type !== undefined ? { tags: { type } } : {}),
    };
    this.inFlight++;
    this.o.broker.publish(channel, data, opts).then(
      () => {
        this.inFlight--;
        this.stats.published++;
      },
      (err: unknown) => {
        this.inFlight--;
        this.stats.failed++;
        this.o.onError?.(err, channel);
      },
    );
  }
}
