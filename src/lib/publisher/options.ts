/**
 * Publisher options: one object, validated once (a clear message naming the bad key), then
 * frozen. Only main.ts builds it from flags and the environment.
 */
import { z } from 'zod';
import { silentLogger, type Logger } from '../core/logger.js';
import { isLoopback } from '../http/loopback.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../runtime/clock.js';
import { PublisherError } from './errors.js';
import { DEFAULT_EVENT_WEIGHTS, EVENT_KINDS, type EventKind, type EventWeights } from './generator.js';
import { DEFAULT_TOKEN_SYMBOLS } from './market.js';
import { DEFAULT_RAMP_SECONDS, PROFILES, type Profile } from './profiles.js';
import type { EventSink } from './sinks/sink.js';
import type { KafkaConnectionOptions } from '../kafka/client.js';

export const DEFAULT_PORT = 3003;
/** Loopback: the control API starts and stops load, so it is reachable from elsewhere only when asked (and then with a key). */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:3002';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** Market summary period, ms. */
export const DEFAULT_STATS_INTERVAL_MS = 30_000;
/** Scheduler tick, ms. */
export const DEFAULT_TICK_MS = 10;
/** Batches handed to the sink and not yet answered; beyond it the publisher waits. */
export const DEFAULT_MAX_IN_FLIGHT = 32;
/** Highest accepted target rate, events/s. */
export const MAX_RATE = 100_000;
/** Most tokens a run may use. */
export const MAX_TOKENS = 1000;

export type SinkOptions =
  | { readonly kind: 'gateway'; readonly url: string; readonly apiKey?: string; readonly maxBatch?: number }
  | { readonly kind: 'nats'; readonly url: string; readonly jetstream?: boolean; readonly stream?: string }
  /** Kafka: the Odin topics, created when missing with `partitions` (default 12) and `replicas` (default 1). */
  | { readonly kind: 'kafka'; readonly connection: KafkaConnectionOptions; readonly partitions?: number; readonly replicas?: number }
  /** A ready sink (tests, embedding); the publisher connects and closes it. */
  | { readonly kind: 'custom'; readonly sink: EventSink };

/** Symbols (upper case) or a count (the defaults first, then generated tokens). */
export type TokensSpec = readonly string[] | number;
/** Kinds to mix at their default weights, or explicit weights (absent kinds: 0). */
export type EventsSpec = readonly EventKind[] | Partial<EventWeights>;

export interface PublisherOptions {
  /** Control API port; 0 picks a free one. Default 3003. */
  readonly port?: number;
  /** Default 127.0.0.1. Any other address needs `controlKey`. */
  readonly host?: string;
  /**
   * Key POST /control requires (X-API-Key, or Authorization: apikey KEY) when set; required when
   * `host` is not a loopback address. GET /health, /stats and /metrics stay open (read-only).
   */
  readonly controlKey?: string;
  /** Default: gateway at http://127.0.0.1:3002. */
  readonly sink?: SinkOptions;
  /** Default sustained. */
  readonly profile?: Profile;
  /** Target rate, events/s. Default: the profile's (sustained 1000, burst/ramp 2000). */
  readonly messagesPerSecond?: number;
  /** Run length, s; 0 = until stopped. Default: the profile's (burst 300, others 0). */
  readonly duration?: number;
  /** Ramp length, s. Default 60. */
  readonly rampSeconds?: number;
  /** Default: BTC, ETH, ODIN, SOL, DOGE. */
  readonly tokens?: TokensSpec;
  /** Default: DEFAULT_EVENT_WEIGHTS. */
  readonly events?: EventsSpec;
  /** Start publishing as soon as the server listens. Default false. */
  readonly autostart?: boolean;
  readonly statsIntervalMs?: number;
  readonly tickMs?: number;
  readonly maxInFlight?: number;
  /** PRNG seed, for reproducible runs. Default: random. */
  readonly seed?: number;
  /** Also export Node process metrics (once per process). Default false. */
  readonly processMetrics?: boolean;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface ResolvedOptions {
  readonly port: number;
  readonly host: string;
  /** '' = no key (loopback only). */
  readonly controlKey: string;
  readonly sink: SinkOptions;
  readonly profile: Profile;
  readonly messagesPerSecond: number | undefined;
  readonly duration: number | undefined;
  readonly rampSeconds: number;
  readonly tokens: TokensSpec;
  readonly events: EventsSpec;
  readonly autostart: boolean;
  readonly statsIntervalMs: number;
  readonly tickMs: number;
  readonly maxInFlight: number;
  readonly seed: number;
  readonly processMetrics: boolean;
  readonly clock: Clock;
  readonly logger: Logger;
}

// --- Schemas shared with the control API -------------------------------------------------

const SYMBOL = /^[A-Z0-9]{1,16}$/;

export const rateSchema = z.number().positive().max(MAX_RATE);
export const durationSchema = z
  .number()
  .min(0)
  .max(7 * 24 * 3600);
export const rampSecondsSchema = z
  .number()
  .positive()
  .max(24 * 3600);
export const profileSchema = z.enum(PROFILES);
export const tokensSchema = z.union(
  [
    z
      .array(
        z
          .string()
          .transform((s) => s.toUpperCase())
          .pipe(z.string().regex(SYMBOL, 'a token symbol is 1-16 letters or digits')),
      )
      .min(1)
      .max(MAX_TOKENS),
    z.number().int().min(1).max(MAX_TOKENS),
  ],
  { error: `expected an array of token symbols or a whole number of tokens 1-${MAX_TOKENS}` },
);
const kindSchema = z.enum(EVENT_KINDS);
export const eventsSchema = z.union(
  [
    z.array(kindSchema).min(1),
    z
      .partialRecord(kindSchema, z.number().min(0))
      .refine((w) => Object.values(w).some((v) => v !== undefined && v > 0), 'at least one weight must be > 0'),
  ],
  { error: `expected an array of event kinds or {kind: weight}; kinds: ${EVENT_KINDS.join(', ')}` },
);

const sinkSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('gateway'),
    url: z.url(),
    apiKey: z.string().optional(),
    maxBatch: z.number().int().min(1).max(10_000).optional(),
  }),
  z.strictObject({
    kind: z.literal('nats'),
    url: z.string().min(1),
    jetstream: z.boolean().optional(),
    stream: z.string().min(1).optional(),
  }),
  z.strictObject({
    kind: z.literal('kafka'),
    connection: z.custom<KafkaConnectionOptions>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        Array.isArray((v as { brokers?: unknown }).brokers) &&
        (v as { brokers: unknown[] }).brokers.length > 0,
    ),
    partitions: z.number().int().min(1).max(1000).optional(),
    replicas: z.number().int().min(1).max(10).optional(),
  }),
  z.strictObject({ kind: z.literal('custom'), sink: z.custom<EventSink>((v) => typeof v === 'object' && v !== null && 'publish' in v) }),
]);

const optionsSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  controlKey: z.string().min(8, 'a control key has at least 8 characters').optional(),
  sink: sinkSchema.optional(),
  profile: profileSchema.optional(),
  messagesPerSecond: rateSchema.optional(),
  duration: durationSchema.optional(),
  rampSeconds: rampSecondsSchema.optional(),
  tokens: tokensSchema.optional(),
  events: eventsSchema.optional(),
  autostart: z.boolean().optional(),
  statsIntervalMs: z.number().int().positive().optional(),
  tickMs: z.number().positive().max(1000).optional(),
  maxInFlight: z.number().int().min(1).max(10_000).optional(),
  seed: z.number().int().optional(),
  processMetrics: z.boolean().optional(),
  clock: z.custom<Clock>((v) => typeof v === 'object' && v !== null && 'now' in v).optional(),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && 'info' in v).optional(),
});

/** "field: problem; field2: problem" for a zod error. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys')
        return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${[...i.path, k].join('.')}"`).join(', ')}`;
      const path = i.path.length > 0 ? i.path.join('.') : '(body)';
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

export function resolveOptions(input: PublisherOptions = {}): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) throw new PublisherError('invalid_options', `invalid publisher options: ${describeIssues(parsed.error)}`);
  const o = parsed.data;
  const host = o.host ?? DEFAULT_HOST;
  if (!isLoopback(host) && o.controlKey === undefined)
    throw new PublisherError(
      'invalid_options',
      `invalid publisher options: host: the control API on ${host} (beyond loopback) needs a key (--control-key or PUBLISHER_CONTROL_KEY)`,
    );
  return Object.freeze({
    port: o.port ?? DEFAULT_PORT,
    host,
    controlKey: o.controlKey ?? '',
    sink: Object.freeze(o.sink ?? { kind: 'gateway', url: DEFAULT_GATEWAY_URL }) as SinkOptions,
    profile: o.profile ?? 'sustained',
    messagesPerSecond: o.messagesPerSecond,
    duration: o.duration,
    rampSeconds: o.rampSeconds ?? DEFAULT_RAMP_SECONDS,
    tokens: o.tokens ?? DEFAULT_TOKEN_SYMBOLS,
    events: o.events ?? DEFAULT_EVENT_WEIGHTS,
    autostart: o.autostart ?? false,
    statsIntervalMs: o.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS,
    tickMs: o.tickMs ?? DEFAULT_TICK_MS,
    maxInFlight: o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 31),
    processMetrics: o.processMetrics ?? false,
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
  });
}

/** Weights from an `events` spec. */
export function weightsOf(spec: EventsSpec): EventWeights {
  const w: Record<EventKind, number> = {
    trade: 0,
    price: 0,
    holders: 0,
    liquidity: 0,
    creation: 0,
    metadata: 0,
    social: 0,
    favorites: 0,
    balances: 0,
  };
  if (Array.isArray(spec)) {
    for (const k of spec as readonly EventKind[]) w[k] = DEFAULT_EVENT_WEIGHTS[k];
  } else {
    for (const k of EVENT_KINDS) w[k] = (spec as Partial<EventWeights>)[k] ?? 0;
  }
  return Object.freeze(w);
}
