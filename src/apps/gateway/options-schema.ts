/**
 * The gateway process's own options (the server's settings and how the process runs), with their
 * defaults: the schemas `loadGatewayConfig` (options.ts) validates them with, and the keys that
 * tell them from core's options and the adapters' sections in one config file. Core's options
 * are core/options.ts; `jetstream:`, `kafka:` and `dashboard:` are their adapters'.
 */
import { z } from 'zod';

export type BrokerKind = 'memory' | 'nats';

export const DEFAULT_PORT = 3002;
/** Loopback unless told otherwise (--host 0.0.0.0, GATEWAY_HOST; the Docker image sets it): nothing is exposed by accident. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** Default shutdown drain window, ms: long enough for a load balancer's next readiness check to see 503 on most setups' fast probes. */
export const DEFAULT_DRAIN_MS = 1000;
/** Shortest server API key a gateway process starts with, characters. */
export const DEFAULT_API_KEY_MIN_LENGTH = 16;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The server's own settings: not core's business (core has no sockets, HTTP or logs of its own). */
export const serverSettingsSchema = z.object({
  host: z.string().default(DEFAULT_HOST),
  port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
  /** Key for the server HTTP API (X-API-Key). Empty: the API refuses every call. */
  apiKey: z.string().default(''),
  /** A process refuses to start with a shorter (non-empty) apiKey: a short key is guessed. */
  apiKeyMinLength: z.number().int().min(1).default(DEFAULT_API_KEY_MIN_LENGTH),
  logLevel: z.enum(LOG_LEVELS).default('info'),
});
export const SERVER_KEYS: readonly string[] = Object.keys(serverSettingsSchema.shape);

/** How the process runs: broker, workers, feeds, shutdown. Keys at the top of the file, beside core's. */
export const processSchema = z
  .object({
    broker: z.enum(['memory', 'nats'], { error: (i) => `expected "memory" or "nats" (got ${JSON.stringify(i.input)})` }).default('memory'),
    natsUrl: z.string().min(1).default(DEFAULT_NATS_URL),
    workers: z
      .number()
      .int()
      .min(1, { error: (i) => `expected at least 1 (got ${JSON.stringify(i.input)})` })
      .optional(),
    transport: z.string().default('ws'),
    drainMs: z.number().int().min(0).default(DEFAULT_DRAIN_MS),
    ingest: z.union([z.array(z.string()), z.string()], { error: 'expected a list of feeds, e.g. [nats]' }).optional(),
    /** An ingest further behind its backbone than this tells the channels it feeds `stale` (core/feed-lag.ts), ms; 0: off. */
    ingestStaleAfterMs: z.number().int().min(0).max(86_400_000).default(0),
  })
  .strict();
export const PROCESS_KEYS: readonly string[] = Object.keys(processSchema.shape);
export const SECTION_KEYS = ['jetstream', 'kafka', 'dashboard'] as const;
