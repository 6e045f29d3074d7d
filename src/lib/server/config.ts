/**
 * Gateway configuration from the outside world: defaults ← file (--config, YAML or JSON) ←
 * environment ← flags. The merged object is validated once: the server's own settings (where
 * to listen, the API key, the log level) here, the rest by core's resolveGatewayOptions.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, resolveGatewayOptions, type GatewayOptions, type GatewayOptionsInput } from '../core/options.js';
import { loadJetStreamSection, type JetStreamSection } from '../broker-jetstream/config.js';
import { loadDashboardSection, type DashboardOptions } from '../dashboard/options.js';
import { parseFlags, toBool, toList, toNumber } from '../runtime/flags.js';
import { KAFKA_INGEST_FLAGS, KAFKA_INGEST_HELP, loadKafkaSection, resolveIngestMode, type KafkaSection } from '../kafka/config.js';

export type BrokerKind = 'memory' | 'nats';

export const DEFAULT_PORT = 3002;
export const DEFAULT_HOST = '0.0.0.0';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The server's own settings: not core's business (core has no sockets, HTTP or logs of its own). */
const serverSettingsSchema = z.object({
  host: z.string().default(DEFAULT_HOST),
  port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
  /** Key for the server HTTP API (X-API-Key). Empty: the API refuses every call. */
  apiKey: z.string().default(''),
  logLevel: z.enum(LOG_LEVELS).default('info'),
});
const SERVER_KEYS = Object.keys(serverSettingsSchema.shape) as readonly string[];

export type ServerSettings = Readonly<z.output<typeof serverSettingsSchema>>;
/** Everything a running gateway server needs: its own settings and core's options, one frozen object. */
export type GatewayServerOptions = ServerSettings & GatewayOptions;
export type GatewayServerOptionsInput = Partial<z.input<typeof serverSettingsSchema>> & GatewayOptionsInput;

/** Validates and freezes server settings and core options together; errors name every bad key. */
export function resolveGatewayServerOptions(input: unknown = {}): GatewayServerOptions {
  const all = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const mine: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) (SERVER_KEYS.includes(k) ? mine : rest)[k] = v;
  const r = serverSettingsSchema.safeParse(mine);
  let coreError: ConfigError | null = null;
  let core: GatewayOptions | null = null;
  try {
    core = resolveGatewayOptions(typeof input === 'object' && input !== null && !Array.isArray(input) ? rest : input);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    coreError = e;
  }
  if (!r.success) {
    const lines = r.error.issues.map(
      (i) => `${i.path.map(String).join('.')}: ${i.message} (got ${JSON.stringify(mine[String(i.path[0])])})`,
    );
    const more = coreError ? '\n  ' + coreError.message.split('\n').slice(1).join('\n') : '';
    throw new ConfigError('invalid gateway options:\n  ' + lines.join('\n  ') + more);
  }
  if (coreError || !core) throw coreError ?? new ConfigError('invalid gateway options');
  return Object.freeze({ ...core, ...r.data });
}

export interface GatewayAppConfig {
  readonly gateway: GatewayServerOptions;
  readonly broker: BrokerKind;
  readonly natsUrl: string;
  readonly workers: number | null;
  /** Shutdown: how long the port keeps answering 503 after clients are told to reconnect, ms. */
  readonly drainMs: number;
  /** Backbone feeds turned into publications (core/ingest.ts): 'nats'; [] for none. */
  readonly ingest: readonly string[];
  /** Stream limits and NATS ingest (`jetstream:` in the config file, NATS_STREAM_* env). */
  readonly jetstream: JetStreamSection;
  /** `--ingest kafka`: the Kafka section (`kafka:` in the file, KAFKA_* env, --kafka-* flags); null otherwise. */
  readonly kafka: KafkaSection | null;
  /** /dashboard and the admin console (`dashboard:` in the config file, GATEWAY_ADMIN_* env). */
  readonly dashboard: DashboardOptions;
}

export const GATEWAY_FLAGS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'api-key': { type: 'string' },
  'token-secret': { type: 'string' },
  'no-anonymous': { type: 'boolean' },
  'allowed-origins': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-ip': { type: 'string' },
  'log-level': { type: 'string' },
  broker: { type: 'string' },
  'nats-url': { type: 'string' },
  workers: { type: 'string' },
  transport: { type: 'string' },
  ingest: { type: 'string' },
  'drain-ms': { type: 'string' },
  ...KAFKA_INGEST_FLAGS,
  help: { type: 'boolean', short: 'h' },
} as const;

/** Default shutdown drain window, ms: long enough for a load balancer's next readiness check to see 503 on most setups' fast probes. */
export const DEFAULT_DRAIN_MS = 1000;

export const GATEWAY_HELP = `Usage: odin-ws gateway [options]

Runs the WebSocket gateway: /ws (Odin protocol), /connection/websocket (Centrifugo protocol),
/api/* (server API), /health, /ready, /metrics, /stats, /dashboard — all on one port.
The admin console is off until GATEWAY_ADMIN_PASSWORD or GATEWAY_ADMIN_TOKEN is set
(or dashboard.adminPassword in the config file; docs/dashboard.md).

Options (flag | environment | default):
  -c, --config FILE             GATEWAY_CONFIG             YAML or JSON options file (docs/operations.md)
  -p, --port N                  GATEWAY_PORT               3002
      --host ADDR               GATEWAY_HOST               0.0.0.0
      --api-key KEY             GATEWAY_API_KEY            (none: server API refuses every call)
      --token-secret SECRET     GATEWAY_TOKEN_SECRET       HMAC secret for connection JWTs
      --no-anonymous            GATEWAY_ALLOW_ANONYMOUS=false  refuse connections without a token
      --allowed-origins LIST    GATEWAY_ALLOWED_ORIGINS    comma-separated exact origins (default: any)
      --max-connections N       GATEWAY_MAX_CONNECTIONS    19000
      --max-connections-per-ip N GATEWAY_MAX_CONNECTIONS_PER_IP 0 (no limit)
      --log-level LEVEL         LOG_LEVEL                  info
      --broker memory|nats      GATEWAY_BROKER             memory
      --nats-url URL            NATS_URL                   nats://127.0.0.1:4222
      --workers N               GATEWAY_WORKERS            processes sharing the port (nats broker only; default: cores)
      --transport ws            GATEWAY_TRANSPORT          ws (the one WebSocket transport; "uws" was removed)
      --drain-ms N              GATEWAY_DRAIN_MS           ${DEFAULT_DRAIN_MS} (shutdown: 503 on /ready and upgrades this long at least)
      --ingest LIST             GATEWAY_INGEST             feeds to ingest: nats, kafka, or none (default: nats with
                                                           --broker nats, none with memory; NATS_INGEST=true|false)
${KAFKA_INGEST_HELP}  -h, --help
`;

const int = (name: string, v: string): number => toNumber(name, v, { integer: true, error: ConfigError }, 0);
const bool = (name: string, v: string): boolean => toBool(name, v, ConfigError);

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`config: cannot read ${path}: ${(cause as Error).message}`);
  }
  let v: unknown;
  try {
    v = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`config: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(cause as Error).message}`);
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config: ${path} must hold an object of options`);
  return v as Record<string, unknown>;
}

/**
 * `ws` is the one WebSocket transport; the option stays so that configurations naming it keep
 * working. `uws` gets the reason it is gone instead of a bare "unknown value".
 */
function checkTransport(name: unknown): void {
  if (name === 'ws') return;
  if (name === 'uws')
    throw new ConfigError(
      'transport: "uws" (uWebSockets.js) was removed: its native frame parser drops bad frames without the RFC 6455 close codes (1002/1007) and its npm build does not load on Node 24; use "ws", the default (docs/protocol.md, "Transports")',
    );
  throw new ConfigError(`transport: expected "ws" (got ${JSON.stringify(name)})`);
}

/** Merges file, env and flags; throws ConfigError with the bad key and value. */
export function loadGatewayConfig(argv: readonly string[], env: NodeJS.ProcessEnv): GatewayAppConfig & { help: boolean } {
  const f = parseFlags(argv, GATEWAY_FLAGS, { error: ConfigError }).values;
  const configPath = f.config ?? env.GATEWAY_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  const {
    broker: fileBroker,
    natsUrl: fileNats,
    workers: fileWorkers,
    transport: fileTransport,
    drainMs: fileDrainMs,
    jetstream: fileJetstream,
    ingest: fileIngest,
    kafka: fileKafka,
    dashboard: fileDashboard,
    ...gw
  } = file as Record<string, unknown>;
  const o: Record<string, unknown> = { ...gw };
  const set = (key: string, v: unknown): void => {
    if (v !== undefined) o[key] = v;
  };
  // Environment.
  if (env.GATEWAY_PORT) set('port', int('GATEWAY_PORT', env.GATEWAY_PORT));
  set('host', env.GATEWAY_HOST || undefined);
  set('apiKey', env.GATEWAY_API_KEY || undefined);
  set('tokenHmacSecret', env.GATEWAY_TOKEN_SECRET || undefined);
  if (env.GATEWAY_ALLOW_ANONYMOUS) set('allowAnonymous', bool('GATEWAY_ALLOW_ANONYMOUS', env.GATEWAY_ALLOW_ANONYMOUS));
  if (env.GATEWAY_ALLOWED_ORIGINS) set('allowedOrigins', toList(env.GATEWAY_ALLOWED_ORIGINS));
  if (env.GATEWAY_MAX_CONNECTIONS) set('maxConnections', int('GATEWAY_MAX_CONNECTIONS', env.GATEWAY_MAX_CONNECTIONS));
  if (env.GATEWAY_MAX_CONNECTIONS_PER_IP)
    set('maxConnectionsPerIp', int('GATEWAY_MAX_CONNECTIONS_PER_IP', env.GATEWAY_MAX_CONNECTIONS_PER_IP));
  set('logLevel', env.LOG_LEVEL || undefined);
  // Flags.
  if (f.port !== undefined) set('port', int('--port', f.port));
  set('host', f.host);
  set('apiKey', f['api-key']);
  set('tokenHmacSecret', f['token-secret']);
  if (f['no-anonymous']) set('allowAnonymous', false);
  if (f['allowed-origins'] !== undefined) set('allowedOrigins', toList(f['allowed-origins']));
  if (f['max-connections'] !== undefined) set('maxConnections', int('--max-connections', f['max-connections']));
  if (f['max-connections-per-ip'] !== undefined) set('maxConnectionsPerIp', int('--max-connections-per-ip', f['max-connections-per-ip']));
  set('logLevel', f['log-level']);

  const broker = (f.broker ?? env.GATEWAY_BROKER ?? fileBroker ?? 'memory') as string;
  if (broker !== 'memory' && broker !== 'nats')
    throw new ConfigError(`broker: expected "memory" or "nats" (got ${JSON.stringify(broker)})`);
  checkTransport(f.transport ?? env.GATEWAY_TRANSPORT ?? fileTransport ?? 'ws');
  const drainRaw = f['drain-ms'] ?? env.GATEWAY_DRAIN_MS ?? (fileDrainMs === undefined ? undefined : String(fileDrainMs));
  const drainMs = toNumber('drainMs', drainRaw, { integer: true, min: 0, error: ConfigError }, DEFAULT_DRAIN_MS);
  const workersRaw = f.workers ?? env.GATEWAY_WORKERS ?? (fileWorkers === undefined ? undefined : String(fileWorkers));
  const workers = workersRaw === undefined ? null : int('workers', workersRaw);
  if (workers !== null && workers < 1) throw new ConfigError(`workers: expected at least 1 (got ${workers})`);
  if (workers !== null && broker === 'memory') {
    throw new ConfigError(
      'workers: several processes need a shared broker; use --broker nats (the memory broker lives inside one process)',
    );
  }
  const jetstream = loadJetStreamSection(fileJetstream, env);
  const ingestRaw =
    f.ingest ??
    (env.GATEWAY_INGEST || undefined) ??
    (Array.isArray(fileIngest) ? fileIngest.join(',') : typeof fileIngest === 'string' ? fileIngest : undefined);
  if (fileIngest !== undefined && !Array.isArray(fileIngest) && typeof fileIngest !== 'string')
    throw new ConfigError('ingest: expected a list of feeds, e.g. [nats]');
  const ingest =
    ingestRaw !== undefined
      ? ingestRaw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '' && s !== 'none')
      : (jetstream.ingest.enabled ?? broker === 'nats')
        ? ['nats']
        : [];
  for (const k of ingest) if (!/^[a-z][a-z0-9-]*$/.test(k)) throw new ConfigError(`ingest: unknown feed ${JSON.stringify(k)}`);
  const kafka = ingest.includes('kafka') ? loadKafkaSection(fileKafka, env, f) : null;
  if (kafka) resolveIngestMode(kafka, broker);
  return {
    gateway: resolveGatewayServerOptions(o),
    kafka,
    broker,
    natsUrl: f['nats-url'] ?? env.NATS_URL ?? (typeof fileNats === 'string' ? fileNats : 'nats://127.0.0.1:4222'),
    workers,
    drainMs,
    jetstream,
    ingest: [...new Set(ingest)],
    dashboard: loadDashboardSection(fileDashboard, env),
    help: f.help === true,
  };
}
