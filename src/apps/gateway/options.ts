/**
 * Resolving a gateway process's options once: `loadGatewayConfig` reads the rows of the option
 * table (options-table.ts) — defaults ← file ← environment ← flags —, hands each part its keys
 * (the server's and the process's: options-schema.ts; core's: core/options.ts; `jetstream:`,
 * `kafka:` and `dashboard:`: their adapters), decides every derived value here, and freezes it.
 */
import { availableParallelism } from 'node:os';
import type { z } from 'zod';
import { ConfigError, optionsError, resolveGatewayOptions, type GatewayOptions, type GatewayOptionsInput } from '../../lib/core/options.js';
import { jetStreamSectionSchema, type JetStreamSection } from '../../lib/broker-jetstream/config.js';
import { resolveIngestMode, resolveKafkaSection, type KafkaSection } from '../../lib/kafka/config.js';
import { resolveDashboardOptions, type DashboardOptions } from '../../lib/dashboard/options.js';
import { withStatsNamespace } from '../../lib/dashboard/stats-channel.js';
import { loadOptions } from '../../lib/runtime/option-table.js';
import { CONFIG_ENV, GATEWAY_OPTIONS } from './options-table.js';
import { PROCESS_KEYS, SECTION_KEYS, SERVER_KEYS, processSchema, serverSettingsSchema, type BrokerKind } from './options-schema.js';

/** Everything a running gateway server needs: its own settings and core's options, one frozen object. */
export type ServerSettings = Readonly<z.output<typeof serverSettingsSchema>>;
export type GatewayServerOptions = ServerSettings & GatewayOptions;
export type GatewayServerOptionsInput = Partial<z.input<typeof serverSettingsSchema>> & GatewayOptionsInput;

function split(input: unknown, keys: readonly string[]): [Record<string, unknown>, Record<string, unknown>] {
  const all = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const mine: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) (keys.includes(k) ? mine : rest)[k] = v;
  return [mine, rest];
}

/** Validates and freezes server settings and core options together; errors name every bad key. */
export function resolveGatewayServerOptions(input: unknown = {}): GatewayServerOptions {
  const [mine, rest] = split(input, SERVER_KEYS);
  const r = serverSettingsSchema.safeParse(mine);
  let core: GatewayOptions | null = null;
  let coreError: ConfigError | null = null;
  try {
    core = resolveGatewayOptions(typeof input === 'object' && input !== null && !Array.isArray(input) ? rest : input);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    coreError = e;
  }
  if (!r.success) {
    const mineError = optionsError('invalid gateway options', r.error.issues, mine, { secrets: ['apiKey'] });
    const more = coreError ? '\n  ' + coreError.message.split('\n').slice(1).join('\n') : '';
    throw new ConfigError(mineError.message + more);
  }
  if (coreError || !core) throw coreError ?? new ConfigError('invalid gateway options');
  return Object.freeze({ ...core, ...r.data });
}

/** Everything `odin-ws gateway` runs with, decided once and frozen. */
export interface GatewayConfig {
  readonly gateway: GatewayServerOptions;
  readonly broker: BrokerKind;
  readonly natsUrl: string;
  /** Processes sharing the port: the flag, else one per core with a shared broker, else 1. */
  readonly workers: number;
  /** Shutdown: how long the port keeps answering 503 after clients are told to reconnect, ms. */
  readonly drainMs: number;
  /** Backbone feeds turned into publications (core/ingest.ts): 'nats', 'kafka'; [] for none. */
  readonly ingest: readonly string[];
  /** Ingest lag past which the channels an ingest feeds are told `stale` (core/feed-lag.ts), ms; 0: off. */
  readonly ingestStaleAfterMs: number;
  /** Stream limits (derived from the namespaces where not set) and NATS ingest. */
  readonly jetstream: JetStreamSection & { readonly historySize: number; readonly maxAgeMs: number };
  /** `--ingest kafka`: the Kafka section with its mode and start decided; null otherwise. */
  readonly kafka: (KafkaSection & { readonly mode: 'each' | 'shared'; readonly start: 'latest' | 'committed' }) | null;
  /** /dashboard and the admin console. */
  readonly dashboard: DashboardOptions;
  readonly help: boolean;
}

/**
 * `ws` is the one WebSocket transport; the option stays so that configurations naming it keep
 * working. `uws` gets the reason it is gone instead of a bare "unknown value".
 */
function checkTransport(name: string): void {
  if (name === 'ws') return;
  if (name === 'uws')
    throw new ConfigError(
      'transport: "uws" (uWebSockets.js) was removed: its native frame parser drops bad frames without the RFC 6455 close codes (1002/1007) and its npm build does not load on Node 24; use "ws", the default (docs/protocol.md, "Transports")',
    );
  throw new ConfigError(`transport: expected "ws" (got ${JSON.stringify(name)})`);
}

function sectionOf(values: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = values[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${name}: must be an object`);
  return v as Record<string, unknown>;
}

function parseSection<T extends z.ZodType>(schema: T, name: string, input: unknown, secrets: readonly string[] = []): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw optionsError(`invalid ${name} options`, r.error.issues, input, { prefix: `${name}.`, secrets });
  return r.data;
}

/** Merges file, env and flags; validates; decides every derived value. Throws ConfigError naming the key. */
export function loadGatewayConfig(argv: readonly string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const { values, help } = loadOptions(GATEWAY_OPTIONS, argv, env, CONFIG_ENV);
  const [proc, rest] = split(values, PROCESS_KEYS);
  const [, coreAndServer] = split(rest, SECTION_KEYS);
  const p = processSchema.safeParse(proc);
  if (!p.success) {
    const i = p.error.issues[0]!;
    throw new ConfigError(`${i.path.map(String).join('.')}: ${i.message}`);
  }
  const { broker, natsUrl, transport, drainMs, ingestStaleAfterMs } = p.data;
  checkTransport(transport);
  if (p.data.workers !== undefined && broker === 'memory')
    throw new ConfigError(
      'workers: several processes need a shared broker; use --broker nats (the memory broker lives inside one process)',
    );
  const js = parseSection(jetStreamSectionSchema, 'jetstream', sectionOf(values, 'jetstream'));
  const requested = p.data.ingest === undefined ? undefined : typeof p.data.ingest === 'string' ? p.data.ingest.split(',') : p.data.ingest;
  const ingest = (requested ?? ((js.ingest.enabled ?? broker === 'nats') ? ['nats'] : []))
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'none');
  for (const k of ingest) if (!/^[a-z][a-z0-9-]*$/.test(k)) throw new ConfigError(`ingest: unknown feed ${JSON.stringify(k)}`);
  let kafka: GatewayConfig['kafka'] = null;
  if (ingest.includes('kafka')) {
    const section = resolveKafkaSection(sectionOf(values, 'kafka'));
    kafka = { ...section, ...resolveIngestMode(section, broker) };
  }
  const dashboard = resolveDashboardOptions(sectionOf(values, 'dashboard'));
  // The dashboard's reserved channels come first, so no user pattern can shadow them.
  const gateway = resolveGatewayServerOptions(dashboard.enabled ? withStatsNamespace(coreAndServer) : coreAndServer);
  if (gateway.apiKey !== '' && gateway.apiKey.length < gateway.apiKeyMinLength)
    throw new ConfigError(
      `apiKey: at least ${gateway.apiKeyMinLength} characters (got ${gateway.apiKey.length}); set a longer GATEWAY_API_KEY (apiKeyMinLength)`,
    );
  const nss = gateway.namespaces;
  return Object.freeze({
    gateway,
    broker,
    natsUrl,
    workers: p.data.workers ?? (broker === 'nats' ? availableParallelism() : 1),
    drainMs,
    ingest: Object.freeze([...new Set(ingest)]),
    ingestStaleAfterMs,
    jetstream: Object.freeze({
      ...js,
      historySize: js.historySize ?? Math.max(1, ...nss.map((n) => n.historySize)),
      maxAgeMs: js.maxAgeMs ?? Math.max(1_000, ...nss.map((n) => n.historyTtlMs)),
    }),
    kafka: kafka && Object.freeze(kafka),
    dashboard,
    help,
  });
}
