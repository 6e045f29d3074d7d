/**
 * Every option of a gateway process, declared once: one row each in `GATEWAY_OPTIONS` (key in the
 * config file, flag, environment variable, unit, section, help), validated by the schema of the
 * part that owns it (server settings and process options here; core's options in core/options.ts;
 * `jetstream:`, `kafka:` and `dashboard:` in their adapters), resolved once by
 * `loadGatewayConfig` — defaults ← file ← environment ← flags — with every derived value decided
 * here, and frozen. `--help` and the table in docs/operations.md are rendered from the same rows.
 * Adding an option: its schema line where it is used, and one row here.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  ConfigError,
  gatewayOptionsSchema,
  optionsError,
  resolveGatewayOptions,
  type GatewayOptions,
  type GatewayOptionsInput,
} from '../../lib/core/options.js';
import { jetStreamSectionSchema, type JetStreamSection } from '../../lib/broker-jetstream/config.js';
import {
  KAFKA_CONNECTION_OPTIONS,
  KAFKA_INGEST_OPTIONS,
  kafkaSectionSchema,
  resolveIngestMode,
  resolveKafkaSection,
  type KafkaSection,
} from '../../lib/kafka/config.js';
import { dashboardOptionsSchema, resolveDashboardOptions, type DashboardOptions } from '../../lib/dashboard/options.js';
import { withStatsNamespace } from '../../lib/dashboard/stats-channel.js';
import { loadOptions, renderHelp, renderMarkdown, type OptionRow } from '../../lib/runtime/option-table.js';

export type BrokerKind = 'memory' | 'nats';

export const DEFAULT_PORT = 3002;
/** Loopback unless told otherwise (--host 0.0.0.0, GATEWAY_HOST; the Docker image sets it): nothing is exposed by accident. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** Default shutdown drain window, ms: long enough for a load balancer's next readiness check to see 503 on most setups' fast probes. */
export const DEFAULT_DRAIN_MS = 1000;
/** Shortest server API key a gateway process starts with, characters. */
export const DEFAULT_API_KEY_MIN_LENGTH = 16;
/** Why a secret is never a flag: the command line shows in `ps` and in shell history. */
const SECRET_FLAG = 'secrets are never flags, the command line shows in ps: set';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** The file every option may also come from. */
const CONFIG_ENV = 'GATEWAY_CONFIG';

/** The server's own settings: not core's business (core has no sockets, HTTP or logs of its own). */
const serverSettingsSchema = z.object({
  host: z.string().default(DEFAULT_HOST),
  port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
  /** Key for the server HTTP API (X-API-Key). Empty: the API refuses every call. */
  apiKey: z.string().default(''),
  /** A process refuses to start with a shorter (non-empty) apiKey: a short key is guessed. */
  apiKeyMinLength: z.number().int().min(1).default(DEFAULT_API_KEY_MIN_LENGTH),
  logLevel: z.enum(LOG_LEVELS).default('info'),
});
const SERVER_KEYS: readonly string[] = Object.keys(serverSettingsSchema.shape);

/** How the process runs: broker, workers, feeds, shutdown. Keys at the top of the file, beside core's. */
const processSchema = z
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
const PROCESS_KEYS: readonly string[] = Object.keys(processSchema.shape);
const SECTION_KEYS = ['jetstream', 'kafka', 'dashboard'] as const;

const S = {
  server: 'Server',
  process: 'Process',
  clients: 'Clients',
  limits: 'Limits',
  proxy: 'Proxies to the application',
  js: 'JetStream broker and NATS ingest',
  kafka: 'Kafka ingest',
  dash: 'Dashboard',
};

/** The table. File-only rows (no flag, no environment) are listed for the docs. */
export const GATEWAY_OPTIONS: readonly OptionRow[] = [
  {
    key: 'port',
    kind: 'int',
    flag: 'port',
    short: 'p',
    env: 'GATEWAY_PORT',
    section: S.server,
    help: 'TCP port of every endpoint (0: any free port)',
  },
  { key: 'host', kind: 'string', flag: 'host', env: 'GATEWAY_HOST', section: S.server, help: 'address to listen on' },
  {
    key: 'apiKey',
    kind: 'secret',
    flag: 'api-key',
    refusedFlag: `${SECRET_FLAG} GATEWAY_API_KEY or apiKey in the --config file`,
    env: 'GATEWAY_API_KEY',
    section: S.server,
    help: 'server API key (X-API-Key), at least apiKeyMinLength characters; none: the API refuses every call',
  },
  {
    key: 'apiKeyMinLength',
    kind: 'int',
    env: 'GATEWAY_API_KEY_MIN_LENGTH',
    unit: 'characters',
    section: S.server,
    help: 'a process refuses to start with a shorter apiKey',
  },
  {
    key: 'logLevel',
    kind: 'string',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    section: S.server,
    help: 'fatal|error|warn|info|debug|trace|silent',
  },
  {
    key: 'broker',
    kind: 'string',
    flag: 'broker',
    env: 'GATEWAY_BROKER',
    section: S.process,
    help: 'memory (one process) or nats (JetStream, shared)',
  },
  { key: 'natsUrl', kind: 'string', flag: 'nats-url', env: 'NATS_URL', section: S.process, help: 'NATS server(s), comma-separated' },
  {
    key: 'workers',
    kind: 'int',
    flag: 'workers',
    env: 'GATEWAY_WORKERS',
    defaultText: 'one per core with --broker nats, else 1',
    section: S.process,
    help: 'processes sharing the port (nats broker only)',
  },
  {
    key: 'transport',
    kind: 'string',
    flag: 'transport',
    env: 'GATEWAY_TRANSPORT',
    section: S.process,
    help: 'ws (the one WebSocket transport; "uws" was removed)',
  },
  {
    key: 'drainMs',
    kind: 'int',
    flag: 'drain-ms',
    env: 'GATEWAY_DRAIN_MS',
    unit: 'ms',
    section: S.process,
    help: 'at shutdown, 503 on /ready and upgrades at least this long',
  },
  {
    key: 'ingest',
    kind: 'list',
    flag: 'ingest',
    env: 'GATEWAY_INGEST',
    defaultText: 'nats with --broker nats, none with memory',
    section: S.process,
    help: 'feeds to ingest: nats, kafka, or none',
  },
  {
    key: 'ingestStaleAfterMs',
    kind: 'int',
    flag: 'ingest-stale-after-ms',
    env: 'GATEWAY_INGEST_STALE_AFTER_MS',
    unit: 'ms',
    section: S.process,
    help: 'an ingest lagging more than this tells the channels it feeds stale, fresh once it catches up (Odin; 0: off)',
  },
  {
    key: 'tokenHmacSecret',
    kind: 'secret',
    flag: 'token-secret',
    refusedFlag: `${SECRET_FLAG} GATEWAY_TOKEN_SECRET or tokenHmacSecret in the --config file`,
    env: 'GATEWAY_TOKEN_SECRET',
    section: S.clients,
    help: 'HMAC secret for connection JWTs',
  },
  { key: 'tokenPublicKey', kind: 'secret', section: S.clients, help: 'PEM public key (RSA, EC, Ed25519) for connection JWTs' },
  {
    key: 'tokenJwksUrl',
    kind: 'string',
    flag: 'token-jwks-url',
    env: 'GATEWAY_TOKEN_JWKS_URL',
    defaultText: 'none',
    section: S.clients,
    help: "identity provider's JWKS endpoint (keys by kid); the only key source when set",
  },
  { key: 'tokenJwksTimeoutMs', kind: 'int', unit: 'ms', section: S.clients, help: 'longest JWKS fetch (then the token is refused)' },
  {
    key: 'tokenJwksCooldownMs',
    kind: 'int',
    unit: 'ms',
    section: S.clients,
    help: 'no JWKS refetch (unknown kid) within this long of the last fetch',
  },
  {
    key: 'tokenAudience',
    kind: 'string',
    flag: 'token-audience',
    env: 'GATEWAY_TOKEN_AUDIENCE',
    defaultText: 'not checked',
    section: S.clients,
    help: 'tokens must carry this aud (connection and subscription)',
  },
  {
    key: 'tokenAudienceRegex',
    kind: 'string',
    env: 'GATEWAY_TOKEN_AUDIENCE_REGEX',
    defaultText: 'not checked',
    section: S.clients,
    help: 'some aud must match this regular expression (unanchored)',
  },
  {
    key: 'tokenIssuer',
    kind: 'string',
    flag: 'token-issuer',
    env: 'GATEWAY_TOKEN_ISSUER',
    defaultText: 'not checked',
    section: S.clients,
    help: 'tokens must carry this iss',
  },
  {
    key: 'tokenIssuerRegex',
    kind: 'string',
    env: 'GATEWAY_TOKEN_ISSUER_REGEX',
    defaultText: 'not checked',
    section: S.clients,
    help: 'iss must match this regular expression (unanchored)',
  },
  {
    key: 'subscriptionToken.hmacSecret',
    kind: 'secret',
    env: 'GATEWAY_SUBSCRIPTION_TOKEN_SECRET',
    defaultText: 'none (the connection keys)',
    section: S.clients,
    help: 'HMAC secret for subscription JWTs only; any subscriptionToken key replaces the connection keys for them',
  },
  {
    key: 'subscriptionToken.publicKey',
    kind: 'secret',
    defaultText: 'none',
    section: S.clients,
    help: 'PEM public key for subscription JWTs only',
  },
  {
    key: 'subscriptionToken.jwksUrl',
    kind: 'string',
    env: 'GATEWAY_SUBSCRIPTION_TOKEN_JWKS_URL',
    defaultText: 'none',
    section: S.clients,
    help: 'JWKS endpoint for subscription JWTs only (the only key source of the set when set)',
  },
  {
    key: 'subscriptionToken.audience',
    kind: 'string',
    env: 'GATEWAY_SUBSCRIPTION_TOKEN_AUDIENCE',
    defaultText: 'not checked',
    section: S.clients,
    help: 'subscription tokens verified by this set must carry this aud',
  },
  {
    key: 'subscriptionToken.audienceRegex',
    kind: 'string',
    defaultText: 'not checked',
    section: S.clients,
    help: 'some aud must match (unanchored)',
  },
  {
    key: 'subscriptionToken.issuer',
    kind: 'string',
    env: 'GATEWAY_SUBSCRIPTION_TOKEN_ISSUER',
    defaultText: 'not checked',
    section: S.clients,
    help: 'subscription tokens verified by this set must carry this iss',
  },
  {
    key: 'subscriptionToken.issuerRegex',
    kind: 'string',
    defaultText: 'not checked',
    section: S.clients,
    help: 'iss must match (unanchored)',
  },
  {
    key: 'allowAnonymous',
    kind: 'bool',
    flag: 'no-anonymous',
    flagSets: false,
    env: 'GATEWAY_ALLOW_ANONYMOUS',
    section: S.clients,
    help: 'accept connections without a token (--no-anonymous refuses them)',
  },
  {
    key: 'allowedOrigins',
    kind: 'list',
    flag: 'allowed-origins',
    env: 'GATEWAY_ALLOWED_ORIGINS',
    defaultText: 'any',
    section: S.clients,
    help: 'exact Origin values allowed (scheme://host[:port])',
  },
  {
    key: 'uniTransports',
    kind: 'bool',
    flag: 'uni-transports',
    env: 'GATEWAY_UNI_TRANSPORTS',
    section: S.clients,
    help: 'serve /connection/uni_websocket, uni_sse, uni_http_stream (SDK-free clients)',
  },
  { key: 'allowMissingOrigin', kind: 'bool', section: S.clients, help: 'accept upgrades without an Origin header (non-browser clients)' },
  {
    key: 'namespaces',
    kind: 'string',
    defaultText: 'balances, public (docs/protocol.md)',
    section: S.clients,
    help: 'channel namespaces: pattern, permissions, history, recovery (recoveryMode stream|cache), presence, conflation, conflationIntervalMs, cadences, allowTagsFilter, allowedDeltaTypes, staleAfterMs, subscriptionToken',
  },
  {
    key: 'proxy.connect.url',
    kind: 'string',
    env: 'GATEWAY_PROXY_CONNECT_URL',
    defaultText: 'none',
    section: S.proxy,
    help: 'the application decides a connect without a token (Centrifugo’s HTTP proxy)',
  },
  {
    key: 'proxy.connect.timeoutMs',
    kind: 'int',
    unit: 'ms',
    section: S.proxy,
    help: 'connect proxy answer deadline (then 100, temporary)',
  },
  {
    key: 'proxy.connect.headers',
    kind: 'list',
    defaultText: 'none',
    section: S.proxy,
    help: 'client request headers passed to the connect proxy',
  },
  {
    key: 'proxy.subscribe.url',
    kind: 'string',
    env: 'GATEWAY_PROXY_SUBSCRIBE_URL',
    defaultText: 'none',
    section: S.proxy,
    help: 'the application decides a subscribe in namespaces with proxySubscribe (Centrifugo’s HTTP proxy)',
  },
  {
    key: 'proxy.subscribe.timeoutMs',
    kind: 'int',
    unit: 'ms',
    section: S.proxy,
    help: 'subscribe proxy answer deadline (then 100, temporary)',
  },
  {
    key: 'proxy.subscribe.headers',
    kind: 'list',
    defaultText: 'none',
    section: S.proxy,
    help: 'client request headers passed to the subscribe proxy',
  },
  {
    key: 'proxy.publish.url',
    kind: 'string',
    env: 'GATEWAY_PROXY_PUBLISH_URL',
    defaultText: 'none',
    section: S.proxy,
    help: 'the application decides a client publish in namespaces with proxyPublish (Centrifugo’s HTTP proxy)',
  },
  {
    key: 'proxy.publish.timeoutMs',
    kind: 'int',
    unit: 'ms',
    section: S.proxy,
    help: 'publish proxy answer deadline (then 100, temporary)',
  },
  {
    key: 'proxy.publish.headers',
    kind: 'list',
    defaultText: 'none',
    section: S.proxy,
    help: 'client request headers passed to the publish proxy',
  },
  {
    key: 'proxy.refresh.url',
    kind: 'string',
    env: 'GATEWAY_PROXY_REFRESH_URL',
    defaultText: 'none',
    section: S.proxy,
    help: "the application decides a proxied connection's expiry (Centrifugo's HTTP proxy)",
  },
  {
    key: 'proxy.refresh.timeoutMs',
    kind: 'int',
    unit: 'ms',
    section: S.proxy,
    help: 'refresh proxy answer deadline (then 100, temporary)',
  },
  {
    key: 'proxy.refresh.headers',
    kind: 'list',
    defaultText: 'none',
    section: S.proxy,
    help: 'client request headers passed to the refresh proxy',
  },
  {
    key: 'maxConnections',
    kind: 'int',
    flag: 'max-connections',
    env: 'GATEWAY_MAX_CONNECTIONS',
    unit: 'connections',
    section: S.limits,
    help: 'connections one process accepts (503 past it)',
  },
  {
    key: 'maxConnectionsPerIp',
    kind: 'int',
    flag: 'max-connections-per-ip',
    env: 'GATEWAY_MAX_CONNECTIONS_PER_IP',
    defaultText: '0 (no limit)',
    section: S.limits,
    help: 'connections from one address (429 past it)',
  },
  {
    key: 'maxConnectionsPerUser',
    kind: 'int',
    flag: 'max-connections-per-user',
    env: 'GATEWAY_MAX_CONNECTIONS_PER_USER',
    defaultText: '0 (no limit)',
    section: S.limits,
    help: "one user's connections, on every node with --broker nats (else per process); the one over it is closed with 3504",
  },
  {
    key: 'connectionRatePerIp',
    kind: 'number',
    flag: 'connection-rate-per-ip',
    env: 'GATEWAY_CONNECTION_RATE_PER_IP',
    unit: '/s',
    defaultText: '0 (no limit)',
    section: S.limits,
    help: 'new connections per second from one address (429 + Retry-After past the burst)',
  },
  {
    key: 'connectionBurstPerIp',
    kind: 'int',
    env: 'GATEWAY_CONNECTION_BURST_PER_IP',
    section: S.limits,
    help: 'new connections one address may open at once before the rate applies',
  },
  { key: 'maxMessageBytes', kind: 'int', unit: 'bytes', section: S.limits, help: 'largest client frame (1009 past it)' },
  { key: 'maxChannelsPerConnection', kind: 'int', section: S.limits, help: 'subscriptions one connection may hold' },
  { key: 'commandRatePerSecond', kind: 'number', unit: '/s', section: S.limits, help: 'client command token bucket refill' },
  { key: 'commandBurst', kind: 'int', section: S.limits, help: 'client command token bucket size' },
  { key: 'handshakeTimeoutMs', kind: 'int', unit: 'ms', section: S.limits, help: 'a Centrifugo client must connect within this' },
  { key: 'pingIntervalMs', kind: 'int', unit: 'ms', section: S.limits, help: 'server ping interval' },
  { key: 'pongTimeoutMs', kind: 'int', unit: 'ms', section: S.limits, help: 'a pong must arrive within this' },
  { key: 'maxQueueBytes', kind: 'int', unit: 'bytes', section: S.limits, help: 'unsent bytes before a client is cut as slow (3008)' },
  { key: 'permessageDeflate', kind: 'bool', section: S.limits, help: 'WebSocket compression' },
  { key: 'shutdownTimeoutMs', kind: 'int', unit: 'ms', section: S.limits, help: 'longest graceful shutdown' },
  { key: 'shutdownBatch', kind: 'int', section: S.limits, help: 'connections told to reconnect at once at shutdown' },
  {
    key: 'client.writeDelayMs',
    kind: 'int',
    unit: 'ms',
    section: S.limits,
    help: 'write window of a hot connection (docs/performance.md)',
  },
  {
    key: 'client.expiredSubCloseDelayMs',
    kind: 'int',
    unit: 'ms',
    section: S.limits,
    help: "a subscription token's grant may run over by this before unsubscribe 2501",
  },
  {
    key: 'recovery.maxBytesPerCommand',
    kind: 'int',
    unit: 'bytes',
    section: S.limits,
    help: 'recovered bytes one subscribe command may return',
  },
  { key: 'recovery.maxBytesPerConnection', kind: 'int', unit: 'bytes', section: S.limits, help: 'recovered bytes queued per connection' },
  {
    key: 'recovery.bytesPerSecond',
    kind: 'int',
    unit: 'bytes/s',
    section: S.limits,
    help: 'node-wide recovery rate (payload bytes + 1,024 per publication)',
  },
  { key: 'recovery.anonymousShare', kind: 'number', section: S.limits, help: 'share of the recovery rate anonymous connections may use' },
  { key: 'recovery.maxConcurrent', kind: 'int', section: S.limits, help: 'recoveries running at once' },
  { key: 'recovery.maxWaiting', kind: 'int', section: S.limits, help: 'recoveries waiting for a turn (111 past it)' },
  {
    key: 'limits.maxChannels',
    kind: 'int',
    unit: 'channels',
    section: S.limits,
    help: 'channels held on this node: with subscribers here, or with history (memory broker); 106 past it',
  },
  {
    key: 'limits.anonymousChannelShare',
    kind: 'number',
    section: S.limits,
    help: 'share of limits.maxChannels anonymous connections may open',
  },
  {
    key: 'limits.maxHistoryBytes',
    kind: 'int',
    unit: 'bytes',
    section: S.limits,
    help: 'payload bytes the memory broker keeps in history (106 past it; JetStream: jetstream.maxBytes)',
  },
  {
    key: 'api.maxResponseBytes',
    kind: 'int',
    unit: 'bytes',
    section: S.limits,
    help: 'history bytes one server API request (a batch included) may return (106 past it)',
  },
  { key: 'api.maxBroadcastChannels', kind: 'int', section: S.limits, help: 'channels of one server API broadcast (106 past it)' },
  {
    key: 'api.maxPublications',
    kind: 'int',
    section: S.limits,
    help: 'publications one server API request (a batch included) may create (106 past it)',
  },
  { key: 'api.maxBatchCommands', kind: 'int', section: S.limits, help: 'commands of one server API batch or pipe (106 past it)' },
  { key: 'reconnect.minDelayMs', kind: 'int', unit: 'ms', section: S.limits, help: 'shortest reconnect hint' },
  { key: 'reconnect.maxDelayMs', kind: 'int', unit: 'ms', section: S.limits, help: 'longest reconnect hint' },
  { key: 'jetstream.stream', kind: 'string', env: 'NATS_STREAM', defaultText: 'ODIN_WS', section: S.js, help: 'stream name' },
  {
    key: 'jetstream.replicas',
    kind: 'int',
    env: 'NATS_STREAM_REPLICAS',
    defaultText: '1',
    section: S.js,
    help: 'stream replicas (3 on a 3-node cluster)',
  },
  {
    key: 'jetstream.historySize',
    kind: 'int',
    defaultText: 'largest namespace historySize',
    section: S.js,
    help: 'publications kept per channel',
  },
  {
    key: 'jetstream.maxAgeMs',
    kind: 'int',
    env: 'NATS_STREAM_MAX_AGE_MS',
    defaultText: 'largest namespace historyTtlMs',
    section: S.js,
    help: 'stream max age, ms',
  },
  {
    key: 'jetstream.maxMessages',
    kind: 'int',
    env: 'NATS_STREAM_MAX_MSGS',
    defaultText: '-1 (no limit)',
    section: S.js,
    help: 'messages in the whole stream',
  },
  {
    key: 'jetstream.maxBytes',
    kind: 'int',
    env: 'NATS_STREAM_MAX_BYTES',
    defaultText: '-1 (no limit)',
    section: S.js,
    help: 'bytes in the whole stream',
  },
  { key: 'jetstream.duplicateWindowMs', kind: 'int', defaultText: '120000 ms', section: S.js, help: 'idempotency window' },
  { key: 'jetstream.storage', kind: 'string', defaultText: 'file', section: S.js, help: 'file or memory' },
  {
    key: 'jetstream.presenceTtlMs',
    kind: 'int',
    env: 'NATS_PRESENCE_TTL_MS',
    defaultText: '60000 ms',
    section: S.js,
    help: "a crashed node's clients leave presence after this",
  },
  {
    key: 'jetstream.userTtlMs',
    kind: 'int',
    env: 'NATS_USER_TTL_MS',
    defaultText: '30000 ms',
    section: S.js,
    help: "maxConnectionsPerUser across nodes: a crashed node's connections stop counting after this",
  },
  {
    key: 'jetstream.ingest.enabled',
    kind: 'bool',
    env: 'NATS_INGEST',
    defaultText: 'on with the nats broker',
    section: S.js,
    help: 'ingest the NATS subjects of existing publishers',
  },
  { key: 'jetstream.ingest.rules', kind: 'string', defaultText: 'odin.token.*.* → $1.$2', section: S.js, help: 'subject → channel rules' },
  { key: 'jetstream.ingest.queue', kind: 'string', section: S.js, help: 'queue group (each message into one process)' },
  {
    key: 'jetstream.ingest.lease',
    kind: 'bool',
    defaultText: 'true unless queue',
    section: S.js,
    help: 'one process at a time reads the feed',
  },
  { key: 'jetstream.ingest.leaseTtlMs', kind: 'int', unit: 'ms', section: S.js, help: 'lease time to live' },
  ...[...KAFKA_CONNECTION_OPTIONS, ...KAFKA_INGEST_OPTIONS].map((r) => ({ ...r, key: `kafka.${r.key}`, section: S.kafka })),
  {
    key: 'dashboard.enabled',
    kind: 'bool',
    env: 'GATEWAY_DASHBOARD',
    section: S.dash,
    help: 'serve /dashboard and publish the stats channel',
  },
  {
    key: 'dashboard.adminPassword',
    kind: 'secret',
    env: 'GATEWAY_ADMIN_PASSWORD',
    section: S.dash,
    help: 'admin console login password (≥ 8 characters; never a flag)',
  },
  {
    key: 'dashboard.adminToken',
    kind: 'secret',
    env: 'GATEWAY_ADMIN_TOKEN',
    section: S.dash,
    help: 'admin bearer token for scripts (≥ 8 characters; never a flag)',
  },
  {
    key: 'dashboard.publisherUrl',
    kind: 'string',
    env: 'PUBLISHER_URL',
    section: S.dash,
    help: 'publisher control API proxied for the console',
  },
  { key: 'dashboard.statsIntervalMs', kind: 'int', unit: 'ms', section: S.dash, help: 'how often each process publishes its stats row' },
  { key: 'dashboard.sessionTtlMs', kind: 'int', unit: 'ms', section: S.dash, help: 'admin session lifetime' },
  { key: 'dashboard.loginAttemptsPerMinute', kind: 'int', section: S.dash, help: 'wrong logins per address per minute before 429' },
  {
    key: 'dashboard.loadtestMaxConnections',
    kind: 'int',
    section: S.dash,
    help: 'most connections of a load test started from the console',
  },
  {
    key: 'dashboard.loadtestMaxDurationSeconds',
    kind: 'int',
    unit: 's',
    section: S.dash,
    help: 'longest load test started from the console',
  },
  {
    key: 'dashboard.loadtestMaxRate',
    kind: 'int',
    unit: '/s',
    section: S.dash,
    help: 'highest publication rate of a load test started from the console',
  },
];

/** Every option's default, read from the owning schemas (for --help and the docs table). */
function schemaDefaults(): Record<string, unknown> {
  return {
    ...gatewayOptionsSchema.parse({}),
    ...serverSettingsSchema.parse({}),
    ...processSchema.parse({}),
    jetstream: jetStreamSectionSchema.parse({}),
    kafka: kafkaSectionSchema.parse({}),
    dashboard: dashboardOptionsSchema.parse({}),
  };
}

export const GATEWAY_HELP_INTRO = `Usage: odin-ws gateway [options]

Runs the WebSocket gateway: /ws (Odin protocol), /connection/websocket (Centrifugo protocol),
/api/* (server API), /health, /ready, /metrics, /stats, /dashboard — all on one port.
The admin console is off until GATEWAY_ADMIN_PASSWORD or GATEWAY_ADMIN_TOKEN is set
(or dashboard.adminPassword in the config file; docs/dashboard.md).

Options (flag | environment | what it is [default]); every key can also be set in the --config file:
`;

export function gatewayHelp(): string {
  return GATEWAY_HELP_INTRO + renderHelp(GATEWAY_OPTIONS, schemaDefaults(), CONFIG_ENV);
}

/** The options table of docs/operations.md (test/gateway/config.test.ts checks the docs hold it). */
export function gatewayOptionsMarkdown(): string {
  return renderMarkdown(GATEWAY_OPTIONS, schemaDefaults());
}

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
