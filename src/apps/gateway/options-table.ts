/**
 * Every option of a gateway process, declared once: one row each in `GATEWAY_OPTIONS` (key in the
 * config file, flag, environment variable, unit, section, help), validated by the schema of the
 * part that owns it (server settings and process options in options-schema.ts; core's options in
 * core/options.ts; `jetstream:`, `kafka:` and `dashboard:` in their adapters) and resolved once by
 * `loadGatewayConfig` (options.ts). `--help` and the table in docs/operations.md are rendered from
 * the same rows, with each default read from its schema.
 * Adding an option: its schema line where it is used, and one row here.
 */
import { gatewayOptionsSchema } from '../../lib/core/options.js';
import { jetStreamSectionSchema } from '../../lib/broker-jetstream/config.js';
import { KAFKA_CONNECTION_OPTIONS, KAFKA_INGEST_OPTIONS, kafkaSectionSchema } from '../../lib/kafka/config.js';
import { dashboardOptionsSchema } from '../../lib/dashboard/options.js';
import { renderHelp, renderMarkdown, type OptionRow } from '../../lib/runtime/option-table.js';
import { processSchema, serverSettingsSchema } from './options-schema.js';

/** Why a secret is never a flag: the command line shows in `ps` and in shell history. */
const SECRET_FLAG = 'secrets are never flags, the command line shows in ps: set';
/** The file every option may also come from. */
export const CONFIG_ENV = 'GATEWAY_CONFIG';

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

/**
 * The three rows of one of Centrifugo's proxies (`proxy.<name>.*`, core's proxyEndpointSchema): its
 * URL (from the file or `GATEWAY_PROXY_<NAME>_URL`), its answer deadline, the client headers passed on.
 */
function proxyRows(name: 'connect' | 'subscribe' | 'publish' | 'refresh', urlHelp: string): OptionRow[] {
  return [
    {
      key: `proxy.${name}.url`,
      kind: 'string',
      env: `GATEWAY_PROXY_${name.toUpperCase()}_URL`,
      defaultText: 'none',
      section: S.proxy,
      help: urlHelp,
    },
    {
      key: `proxy.${name}.timeoutMs`,
      kind: 'int',
      unit: 'ms',
      section: S.proxy,
      help: `${name} proxy answer deadline (then 100, temporary)`,
    },
    {
      key: `proxy.${name}.headers`,
      kind: 'list',
      defaultText: 'none',
      section: S.proxy,
      help: `client request headers passed to the ${name} proxy`,
    },
  ];
}

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
  ...proxyRows('connect', 'the application decides a connect without a token (Centrifugo’s HTTP proxy)'),
  ...proxyRows('subscribe', 'the application decides a subscribe in namespaces with proxySubscribe (Centrifugo’s HTTP proxy)'),
  ...proxyRows('publish', 'the application decides a client publish in namespaces with proxyPublish (Centrifugo’s HTTP proxy)'),
  ...proxyRows('refresh', "the application decides a proxied connection's expiry (Centrifugo's HTTP proxy)"),
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
