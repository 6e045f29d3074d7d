/**
 * Gateway options: one object, defaults ← file ← env ← flags (merged by the app), validated
 * once here with a message naming the bad key and value, then frozen.
 */
import { z } from 'zod';
import { MARKET_STATS_CHANNEL, PUBLIC_CHANNEL_EVENTS, USER_CHANNEL_EVENT } from '../protocol/events.js';
import { MAX_CADENCE_MS, parseCadenceSuffix } from './cadence.js';
import { DELTA_TYPES } from '../protocol/centrifuge-params.js';

/** Connections one process accepts; over it the upgrade gets HTTP 503. */
export const DEFAULT_MAX_CONNECTIONS = 19_000;
/** Connections from one IP address; over it the upgrade gets HTTP 429. 0 = no limit. */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 0;
/** Authenticated connections of one user (per process; on every node when the broker counts users cluster-wide); over it the new one is closed with 3504. 0 = no limit. */
export const DEFAULT_MAX_CONNECTIONS_PER_USER = 0;
/** New connections per second from one IP address (token bucket refill); 0 = no limit. */
export const DEFAULT_CONNECTION_RATE_PER_IP = 0;
/** New connections one IP address may open at once before the rate applies (bucket size). */
export const DEFAULT_CONNECTION_BURST_PER_IP = 20;
/** Largest client frame, bytes; larger frames close the connection with 1009. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 128;
/** Token bucket for client commands: refill per second and bucket size (the old Odin server's). */
export const DEFAULT_COMMAND_RATE_PER_SECOND = 10;
export const DEFAULT_COMMAND_BURST = 100;
/** A Centrifugo client must send `connect` within this time, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_PING_INTERVAL_MS = 25_000;
export const DEFAULT_PONG_TIMEOUT_MS = 8_000;
/** Bytes a connection may have queued and unsent before it is disconnected as slow (3008). */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** Connections told to reconnect at once during shutdown, per batch. */
export const DEFAULT_SHUTDOWN_BATCH = 500;
export const DEFAULT_HISTORY_SIZE = 1000;
export const DEFAULT_HISTORY_TTL_MS = 5 * 60_000;
/** Most publications a recovery may return; more missed means "not recovered" (Centrifugo's 300 is too low for trade bursts). */
export const DEFAULT_RECOVERY_MAX = 1000;

/**
 * A connection's writes (client.*). 0 ms: frames queued in one event-loop turn go out in one
 * write at the end of the turn. More: a connection written less than that long ago is hot and
 * its frames wait that long from the first of them, then go out in one write (fewer syscalls
 * and TCP segments on hot channels, for at most that much added latency); a quiet connection
 * is written at the end of the turn and replies never wait (FlushScheduler). Default 16 ms, one
 * frame of a 60 Hz display: a screen cannot show two updates of one connection closer together.
 * Measured (docs/performance.md, "Write window"): at 1,000 publications/s to 1,000 subscribers
 * 1.7× less CPU per delivery than 0, for 13–14 ms more p50. Set 0 where latency counts more than CPU.
 */
export const DEFAULT_WRITE_DELAY_MS = 16;
/**
 * Bounded recovery work (recovery.*), in payload bytes (the publications' JSON text):
 *  - per command: what one subscribe command may recover in total; a channel past it is
 *    refused with 106 (subscribe it again in another command);
 *  - per connection: recovered bytes queued and not yet sent; past it a new recovery is
 *    refused with 111 (temporary);
 *  - per node: a token bucket of recovered bytes per second (burst: one second's worth) shared
 *    by every connection, each publication charged RECOVERY_COST_PER_PUBLICATION (1,024) beside
 *    its payload (its fixed encoding cost: recovery-budget.ts); anonymous connections draw on their own share of it, so they cannot
 *    exhaust it for authenticated ones. Empty: refused with 111 (temporary).
 */
export const DEFAULT_RECOVERY_MAX_BYTES_PER_COMMAND = 4 * 1024 * 1024;
export const DEFAULT_RECOVERY_MAX_BYTES_PER_CONNECTION = 16 * 1024 * 1024;
export const DEFAULT_RECOVERY_BYTES_PER_SECOND = 64 * 1024 * 1024;
export const DEFAULT_RECOVERY_ANONYMOUS_SHARE = 0.25;
/**
 * Recoveries (history reads that return publications) one process runs at once, and how many
 * may wait for a turn; past that a recovery is refused with 111 (temporary) and a retry hint.
 * Bounds what a reconnect storm sends to the broker together (core/recovery-slots.ts).
 */
export const DEFAULT_RECOVERY_MAX_CONCURRENT = 64;
export const DEFAULT_RECOVERY_MAX_WAITING = 4096;
/**
 * Server-suggested delay before a client comes back (reconnect.*), ms: each hint is drawn
 * uniformly from [minDelayMs, maxDelayMs], so clients told at once (a shutdown, a full queue)
 * return spread over the window instead of together. Sent where the protocol has a field for
 * it: the Odin `disconnect` notice (`reconnect_delay_ms`) and temporary errors
 * (`retry_after_ms`), and `Retry-After` (whole seconds) on HTTP 503/429 at upgrade.
 */
export const DEFAULT_RECONNECT_MIN_DELAY_MS = 500;
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 5_000;
export const MAX_WRITE_DELAY_MS = 1000;
/** Longest wait for the application's answer to a proxy request, ms (then refused: 100, temporary). */
export const DEFAULT_PROXY_TIMEOUT_MS = 1_000;

/** One of Centrifugo's proxies (proxy.connect|subscribe|publish|refresh): where, how long, which client headers go along. */
const proxyEndpointSchema = z
  .object({
    /** http(s) URL the JSON request is POSTed to; '' = not proxied. */
    url: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    timeoutMs: z.number().int().min(1).max(60_000).default(DEFAULT_PROXY_TIMEOUT_MS),
    /** Names of the client's request headers passed to the backend (e.g. cookie, authorization). */
    headers: z
      .array(z.string().regex(/^[A-Za-z0-9-]+$/))
      .max(32)
      .default([])
      .transform((h) => h.map((n) => n.toLowerCase())),
  })
  .strict()
  .prefault({});
/**
 * Grace after a subscription token's grant ends before the subscription is ended (unsubscribe
 * 2501, "subscription expired"), ms: time for the client's `sub_refresh` with a new token to
 * arrive. Centrifugo's `ClientExpiredSubCloseDelay` (25 s).
 */
export const DEFAULT_EXPIRED_SUB_CLOSE_DELAY_MS = 25_000;
/** A JWKS endpoint (tokenJwksUrl): longest fetch, ms; and no refetch within this long of the last one, ms (jose's defaults). */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
/**
 * Node-wide bounds (limits.*), each refused with a counted code (docs/reliability.md,
 * "Resource bounds"):
 *  - maxChannels: channels this node holds — with subscribers here (both brokers), or with
 *    history (memory broker); a subscribe or publication that would add one more gets 106.
 *    Anonymous connections may open new channels only while fewer than
 *    `anonymousChannelShare` × maxChannels are held, so they cannot take them all.
 *  - maxHistoryBytes: payload bytes the memory broker keeps in history over all channels; a
 *    publication that would pass it is refused with 106 (the JetStream broker's bound is its
 *    stream's max_bytes, jetstream.maxBytes).
 */
export const DEFAULT_MAX_CHANNELS = 100_000;
export const DEFAULT_ANONYMOUS_CHANNEL_SHARE = 0.5;
export const DEFAULT_MAX_HISTORY_BYTES = 512 * 1024 * 1024;
/**
 * Work per server API request (api.*), refused with 106 naming the bound:
 *  - maxResponseBytes: payload bytes of publications one request (a batch or pipe included)
 *    may return from history;
 *  - maxBroadcastChannels: channels of one broadcast;
 *  - maxPublications: publications one request may create (broadcasts and publishes of a
 *    batch or pipe added up);
 *  - maxBatchCommands: commands of one batch or pipe.
 */
export const DEFAULT_API_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_API_MAX_BROADCAST_CHANNELS = 10_000;
export const DEFAULT_API_MAX_PUBLICATIONS = 10_000;
export const DEFAULT_API_MAX_BATCH_COMMANDS = 1000;

/**
 * The option names of one key set: the connection keys (`tokenHmacSecret`, `tokenAudience`...) or
 * a subscription-token set (`hmacSecret`, `audience`...). Each names a string option of the object
 * checked, so one check serves every set with its own names in the error paths and messages.
 */
interface KeySetNames {
  readonly hmacSecret: string;
  readonly publicKey: string;
  readonly jwksUrl: string;
  readonly audience: string;
  readonly audienceRegex: string;
  readonly issuer: string;
  readonly issuerRegex: string;
}

const CONNECTION_KEY_NAMES: KeySetNames = {
  hmacSecret: 'tokenHmacSecret',
  publicKey: 'tokenPublicKey',
  jwksUrl: 'tokenJwksUrl',
  audience: 'tokenAudience',
  audienceRegex: 'tokenAudienceRegex',
  issuer: 'tokenIssuer',
  issuerRegex: 'tokenIssuerRegex',
};

const SUBSCRIPTION_KEY_NAMES: KeySetNames = {
  hmacSecret: 'hmacSecret',
  publicKey: 'publicKey',
  jwksUrl: 'jwksUrl',
  audience: 'audience',
  audienceRegex: 'audienceRegex',
  issuer: 'issuer',
  issuerRegex: 'issuerRegex',
};

/** What the issues of a zod refinement go to (the part of `z.RefinementCtx` a check uses). */
interface IssueSink {
  addIssue(issue: { code: 'custom'; path: PropertyKey[]; message: string }): void;
}

/**
 * The rules of one key set, each issue at the option it names (relative to the object checked):
 *  - audience and audienceRegex not both, nor issuer and issuerRegex;
 *  - a JWKS endpoint is the only source of keys (no HMAC secret or PEM key beside it);
 *  - both regular expressions compile;
 *  - with `checksNeedKey` (a subscription-token set, whose checks apply only to the tokens its own
 *    keys verify): no audience/issuer check without a key of the set.
 */
function checkKeySet(
  keys: Readonly<Record<string, unknown>>,
  names: KeySetNames,
  ctx: IssueSink,
  { checksNeedKey }: { readonly checksNeedKey: boolean },
): void {
  const set = (name: string): boolean => keys[name] !== undefined && keys[name] !== '';
  const hasKey = set(names.hmacSecret) || set(names.publicKey) || set(names.jwksUrl);
  const hasChecks = set(names.audience) || set(names.audienceRegex) || set(names.issuer) || set(names.issuerRegex);
  const issue = (name: string, message: string): void => ctx.addIssue({ code: 'custom', path: [name], message });
  if (checksNeedKey && !hasKey && hasChecks) {
    issue(
      names.hmacSecret,
      `${names.audience}/${names.issuer} checks need a key of this set (${names.hmacSecret}, ${names.publicKey} or ${names.jwksUrl})`,
    );
  }
  if (set(names.audience) && set(names.audienceRegex)) {
    issue(names.audienceRegex, `set ${names.audience} or ${names.audienceRegex}, not both`);
  }
  if (set(names.issuer) && set(names.issuerRegex)) {
    issue(names.issuerRegex, `set ${names.issuer} or ${names.issuerRegex}, not both`);
  }
  if (set(names.jwksUrl) && (set(names.hmacSecret) || set(names.publicKey))) {
    issue(names.jwksUrl, `a JWKS endpoint is the only source of keys: unset ${names.hmacSecret} and ${names.publicKey}`);
  }
  for (const name of [names.audienceRegex, names.issuerRegex]) {
    const problem = regexProblem(String(keys[name] ?? ''));
    if (problem !== null) issue(name, problem);
  }
}

/** Why `source` is not a regular expression (the message of an option's issue), or null when it compiles. */
function regexProblem(source: string): string | null {
  try {
    new RegExp(source);
    return null;
  } catch (e) {
    return `invalid regular expression: ${(e as Error).message}`;
  }
}

/**
 * A key set for subscription tokens apart from the connection tokens' (Centrifugo's
 * `client.subscription_token`): set globally (`subscriptionToken`) and/or per namespace
 * (`namespaces[].subscriptionToken`, an extension). A set with a key (`hmacSecret`,
 * `publicKey` or `jwksUrl`) is the only one that verifies that scope's subscription tokens, with
 * its own audience and issuer checks; a scope without one falls back to the global set, then to
 * the connection keys (`tokenHmacSecret`, `tokenPublicKey`, `tokenJwksUrl`, `tokenAudience`...).
 */
export const subscriptionTokenSchema = z
  .object({
    /** HMAC secret for HS256/384/512 subscription tokens. */
    hmacSecret: z.string().default(''),
    /** PEM public key (RSA, EC or Ed25519). */
    publicKey: z.string().default(''),
    /** JWKS endpoint (keys by `kid`); the only source of keys when set. Timeout and cooldown: `tokenJwks*`. */
    jwksUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    audience: z.string().default(''),
    audienceRegex: z.string().default(''),
    issuer: z.string().default(''),
    issuerRegex: z.string().default(''),
  })
  .strict()
  .superRefine((k, ctx) => checkKeySet(k, SUBSCRIPTION_KEY_NAMES, ctx, { checksNeedKey: true }));

export type SubscriptionTokenKeys = z.output<typeof subscriptionTokenSchema>;

/** A key set has a key: it verifies its scope's subscription tokens alone. */
export function hasSubscriptionKeys(k: SubscriptionTokenKeys | undefined): k is SubscriptionTokenKeys {
  return k !== undefined && (k.hmacSecret !== '' || k.publicKey !== '' || k.jwksUrl !== '');
}

const namespaceSchema = z
  .object({
    name: z.string().min(1),
    /** Regular expression a channel must match in full. */
    pattern: z.string().min(1),
    /**
     * Who may subscribe: anyone (`anonymous`), only connections with a user (`authenticated`), or
     * only with a subscription token for the channel (`token`; no token: 103). A valid
     * subscription token grants its channel in any namespace.
     */
    subscribe: z.enum(['anonymous', 'authenticated', 'token']).default('anonymous'),
    /** The last dot-separated token of the channel must be the connection's user id. */
    userChannel: z.boolean().default(false),
    /** Clients may publish into the channel (server API publishing is always allowed). */
    publish: z.boolean().default(false),
    historySize: z.number().int().min(0).default(DEFAULT_HISTORY_SIZE),
    historyTtlMs: z.number().int().min(0).default(DEFAULT_HISTORY_TTL_MS),
    recovery: z.boolean().default(true),
    recoveryMax: z.number().int().min(1).default(DEFAULT_RECOVERY_MAX),
    presence: z.boolean().default(false),
    /**
     * Join and leave pushes (Centrifugo protocol) to the channel's subscribers when a client
     * subscribes or leaves; needs `presence`. Reaches every node with the JetStream broker (docs/protocol.md).
     */
    joinLeave: z.boolean().default(false),
    /**
     * `latest`: a connection's unsent publications of one channel are conflated to the newest
     * (price-like channels, where only the last value matters); offsets then skip. Only frames
     * still queued in the connection's write window are conflated (see client.writeDelayMs).
     */
    conflation: z.enum(['none', 'latest']).default('none'),
    /** Ask the application (`proxy.subscribe`) whether a client may subscribe without a subscription token. */
    proxySubscribe: z.boolean().default(false),
    /** Ask the application (`proxy.publish`) whether a client publish goes on (it decides instead of `publish`). */
    proxyPublish: z.boolean().default(false),
    /**
     * `stream` (default): a subscriber recovers from the position it sends, else starts live.
     * `cache` (Centrifugo's cache recovery mode with `auto_cache_recover`): a subscriber with no
     * position, or with one that cannot be recovered, gets the channel's newest publication in
     * the subscribe reply (Odin: right after the ack), so a quiet state-like channel shows its
     * value at once. Needs history (`historySize` ≥ 1) and `recovery`.
     */
    recoveryMode: z.enum(['stream', 'cache']).default('stream'),
    /**
     * Subscribers may give a tags filter (Centrifugo's `tf`, centrifuge-js `tagsFilter`; Odin
     * `"filter"`): they get only the publications whose tags pass it, live and recovered.
     * Without it a filter is refused with 107, as Centrifugo does.
     */
    allowTagsFilter: z.boolean().default(false),
    /**
     * Delta compression subscribers may negotiate (Centrifugo's `allowed_delta_types`): with
     * ["fossil"] a subscriber asking for `delta: "fossil"` gets each publication as a Fossil
     * patch against the last one it received, when smaller. Every publication is eligible
     * (Centrifugo's `delta_publish: true`). Empty (default): none.
     */
    allowedDeltaTypes: z.array(z.enum(DELTA_TYPES)).max(DELTA_TYPES.length).default([]),
    /**
     * Feed staleness, ms: a channel without a publication for this long gets its Odin subscribers
     * a `stale` notice, and `fresh` before the next publication (UIs grey out prices). 0
     * (default): not watched. One timer per watched channel on a node, at most one firing per period.
     */
    staleAfterMs: z.number().int().min(0).max(86_400_000).default(0),
    /**
     * At most one publication per this many ms to each subscriber (the newest; the first after a
     * quiet interval at once), whatever the publisher's rate; 0 (default): every publication.
     * Independent of client.writeDelayMs. History and recovery keep every publication.
     */
    conflationIntervalMs: z.number().int().min(0).max(MAX_CADENCE_MS).default(0),
    /**
     * Cadences a client may choose with a channel name suffix (`BTC.price@1s` serves BTC.price at
     * most once a second): suffixes of a number and `ms` or `s`, e.g. ["100ms", "1s"]. Empty (default): none.
     */
    cadences: z
      .array(
        z
          .string()
          .refine((c) => parseCadenceSuffix('x@' + c) !== null, { message: `a cadence is <n>ms or <n>s, at most ${MAX_CADENCE_MS} ms` }),
      )
      .max(16)
      .default([]),
    /**
     * Publications published without a `type` tag get one from their data's top-level `type`
     * string, so Centrifugo-protocol subscribers see `tags.type`. Off by default, as Centrifugo:
     * tags are sent only when published (Odin pushes read `type` from the data either way).
     */
    typeTag: z.boolean().default(false),
    /** This namespace's own subscription-token keys (see subscriptionTokenSchema); none: the global set, then the connection keys. */
    subscriptionToken: subscriptionTokenSchema.optional(),
  })
  .strict()
  .refine((n) => !n.joinLeave || n.presence, { message: 'joinLeave needs presence: true', path: ['joinLeave'] })
  .refine((n) => n.recoveryMode !== 'cache' || (n.historySize > 0 && n.recovery), {
    message: 'recoveryMode cache needs historySize >= 1 and recovery: true',
    path: ['recoveryMode'],
  });

export type NamespaceOptions = z.infer<typeof namespaceSchema>;

/** Odin's channels: personal balances for their user only; public market channels for anyone. */
export const DEFAULT_NAMESPACES: readonly NamespaceOptions[] = [
  {
    name: 'balances',
    pattern: `[A-Za-z0-9_-]{1,32}\\.${USER_CHANNEL_EVENT}\\.[A-Za-z0-9_:@-]{1,128}`,
    subscribe: 'authenticated',
    userChannel: true,
    historySize: 100,
  },
  {
    name: 'public',
    pattern: `[A-Za-z0-9_-]{1,32}\\.(${PUBLIC_CHANNEL_EVENTS.join('|')})|${MARKET_STATS_CHANNEL.replace('.', '\\.')}`,
    presence: true,
  },
].map((n) => namespaceSchema.parse(n));

export const gatewayOptionsSchema = z
  .object({
    /** Accept connections without a token (they get user ""). */
    allowAnonymous: z.boolean().default(true),
    /** HMAC secret for HS256/384/512 connection tokens. */
    tokenHmacSecret: z.string().default(''),
    /** PEM public key (RSA, EC or Ed25519) for asymmetric tokens. */
    tokenPublicKey: z.string().default(''),
    /**
     * A JWKS endpoint (an identity provider's keys, chosen by `kid`): fetched at first use,
     * cached, fetched again for an unknown `kid` at most once per `tokenJwksCooldownMs`. When set
     * it is the only source of keys (no HMAC secret or PEM key beside it).
     */
    tokenJwksUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    tokenJwksTimeoutMs: z.number().int().min(1).default(DEFAULT_JWKS_TIMEOUT_MS),
    tokenJwksCooldownMs: z.number().int().min(0).default(DEFAULT_JWKS_COOLDOWN_MS),
    /** Tokens' `aud` must contain this (connection and subscription tokens). */
    tokenAudience: z.string().default(''),
    /** Some `aud` must match this regular expression (unanchored, as Centrifugo's). */
    tokenAudienceRegex: z.string().default(''),
    /** Tokens' `iss` must equal this. */
    tokenIssuer: z.string().default(''),
    /** `iss` must match this regular expression (unanchored, as Centrifugo's). */
    tokenIssuerRegex: z.string().default(''),
    /** Subscription-token keys apart from the connection keys (Centrifugo's client.subscription_token; see subscriptionTokenSchema). */
    subscriptionToken: subscriptionTokenSchema.prefault({}),
    /** Allowed Origin values, exact (scheme://host[:port]). Empty: any origin. */
    allowedOrigins: z.array(z.string().url()).default([]),
    /**
     * Serve Centrifugo's unidirectional transports (`/connection/uni_websocket`, `uni_sse`,
     * `uni_http_stream`): clients without an SDK (curl, EventSource, a plain WebSocket) send a
     * connect request and only receive pushes.
     */
    uniTransports: z.boolean().default(false),
    /** Accept upgrades without an Origin header (non-browser clients). */
    allowMissingOrigin: z.boolean().default(true),
    maxConnections: z.number().int().min(1).default(DEFAULT_MAX_CONNECTIONS),
    maxConnectionsPerIp: z.number().int().min(0).default(DEFAULT_MAX_CONNECTIONS_PER_IP),
    /** Per user id, per process, and on every node with a broker that counts users (JetStream); anonymous connections are not counted; the connection over it is closed with 3504. */
    maxConnectionsPerUser: z.number().int().min(0).default(DEFAULT_MAX_CONNECTIONS_PER_USER),
    /** New connections per second per IP address; past the burst the upgrade gets HTTP 429 with Retry-After. 0: off. */
    connectionRatePerIp: z.number().min(0).default(DEFAULT_CONNECTION_RATE_PER_IP),
    connectionBurstPerIp: z.number().int().min(1).default(DEFAULT_CONNECTION_BURST_PER_IP),
    maxMessageBytes: z
      .number()
      .int()
      .min(128)
      .max(16 * 1024 * 1024)
      .default(DEFAULT_MAX_MESSAGE_BYTES),
    maxChannelsPerConnection: z.number().int().min(1).default(DEFAULT_MAX_CHANNELS_PER_CONNECTION),
    commandRatePerSecond: z.number().positive().default(DEFAULT_COMMAND_RATE_PER_SECOND),
    commandBurst: z.number().int().min(1).default(DEFAULT_COMMAND_BURST),
    handshakeTimeoutMs: z.number().int().min(1).default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
    pingIntervalMs: z.number().int().min(10).default(DEFAULT_PING_INTERVAL_MS),
    pongTimeoutMs: z.number().int().min(10).default(DEFAULT_PONG_TIMEOUT_MS),
    maxQueueBytes: z.number().int().min(1024).default(DEFAULT_MAX_QUEUE_BYTES),
    permessageDeflate: z.boolean().default(false),
    shutdownTimeoutMs: z.number().int().min(0).default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
    shutdownBatch: z.number().int().min(1).default(DEFAULT_SHUTDOWN_BATCH),
    namespaces: z
      .array(namespaceSchema)
      .min(1)
      .default(() => DEFAULT_NAMESPACES.map((n) => ({ ...n }))),
    recovery: z
      .object({
        maxBytesPerCommand: z.number().int().min(1024).default(DEFAULT_RECOVERY_MAX_BYTES_PER_COMMAND),
        maxBytesPerConnection: z.number().int().min(1024).default(DEFAULT_RECOVERY_MAX_BYTES_PER_CONNECTION),
        bytesPerSecond: z.number().int().min(1024).default(DEFAULT_RECOVERY_BYTES_PER_SECOND),
        anonymousShare: z.number().min(0).max(1).default(DEFAULT_RECOVERY_ANONYMOUS_SHARE),
        maxConcurrent: z.number().int().min(1).default(DEFAULT_RECOVERY_MAX_CONCURRENT),
        maxWaiting: z.number().int().min(0).default(DEFAULT_RECOVERY_MAX_WAITING),
      })
      .strict()
      .prefault({}),
    reconnect: z
      .object({
        minDelayMs: z.number().int().min(0).default(DEFAULT_RECONNECT_MIN_DELAY_MS),
        maxDelayMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_RECONNECT_MAX_DELAY_MS),
      })
      .strict()
      .prefault({}),
    /** Centrifugo's proxies to the application, over HTTP (docs/protocol.md, "Proxies"). */
    proxy: z
      .object({ connect: proxyEndpointSchema, subscribe: proxyEndpointSchema, publish: proxyEndpointSchema, refresh: proxyEndpointSchema })
      .strict()
      .prefault({}),
    client: z
      .object({
        writeDelayMs: z.number().int().min(0).max(MAX_WRITE_DELAY_MS).default(DEFAULT_WRITE_DELAY_MS),
        expiredSubCloseDelayMs: z.number().int().min(0).default(DEFAULT_EXPIRED_SUB_CLOSE_DELAY_MS),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxChannels: z.number().int().min(1).default(DEFAULT_MAX_CHANNELS),
        anonymousChannelShare: z.number().min(0).max(1).default(DEFAULT_ANONYMOUS_CHANNEL_SHARE),
        maxHistoryBytes: z.number().int().min(1024).default(DEFAULT_MAX_HISTORY_BYTES),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        maxResponseBytes: z.number().int().min(1024).default(DEFAULT_API_MAX_RESPONSE_BYTES),
        maxBroadcastChannels: z.number().int().min(1).default(DEFAULT_API_MAX_BROADCAST_CHANNELS),
        maxPublications: z.number().int().min(1).default(DEFAULT_API_MAX_PUBLICATIONS),
        maxBatchCommands: z.number().int().min(1).default(DEFAULT_API_MAX_BATCH_COMMANDS),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.reconnect.minDelayMs > o.reconnect.maxDelayMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['reconnect', 'minDelayMs'],
        message: `must be at most reconnect.maxDelayMs (${o.reconnect.maxDelayMs})`,
      });
    }
    if (o.pongTimeoutMs >= o.pingIntervalMs) {
      ctx.addIssue({ code: 'custom', path: ['pongTimeoutMs'], message: `must be less than pingIntervalMs (${o.pingIntervalMs})` });
    }
    checkKeySet(o, CONNECTION_KEY_NAMES, ctx, { checksNeedKey: false });
    o.namespaces.forEach((ns, i) => {
      const problem = regexProblem(ns.pattern);
      if (problem !== null) ctx.addIssue({ code: 'custom', path: ['namespaces', i, 'pattern'], message: problem });
    });
  });

export type GatewayOptions = Readonly<z.output<typeof gatewayOptionsSchema>>;
export type GatewayOptionsInput = z.input<typeof gatewayOptionsSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG';
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** What a schema check reports about one key (zod's issue, narrowed to what the message needs). */
export interface OptionIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly keys?: readonly string[];
}

/**
 * The one format of an invalid option, for every part's options: `<title>:` then a line per bad key,
 * `prefix.key: why (got value)`. Keys listed in `secrets` never show their value.
 */
export function optionsError(
  title: string,
  issues: readonly OptionIssue[],
  input: unknown,
  { prefix = '', secrets = [] as readonly string[] } = {},
): ConfigError {
  const lines = issues.map((i) => {
    const key = i.path.map(String).join('.') || '(root)';
    const extra = i.code === 'unrecognized_keys' && i.keys ? ` ${i.keys.join(', ')}` : '';
    const got = secrets.includes(key) ? '' : ` (got ${describe(valueAt(input, i.path))})`;
    return `${prefix}${key}${extra}: ${i.message}${got}`;
  });
  return new ConfigError(`${title}:\n  ` + lines.join('\n  '));
}

/** Keys whose value an error never shows. */
const SECRET_KEYS: readonly string[] = ['tokenHmacSecret', 'subscriptionToken.hmacSecret'];

/** Validates and freezes options; throws ConfigError naming every bad key and its value. */
export function resolveGatewayOptions(input: unknown = {}): GatewayOptions {
  const r = gatewayOptionsSchema.safeParse(input);
  if (!r.success) {
    // A namespace's subscription-token secret too (namespaces.<i>.subscriptionToken.hmacSecret).
    const keys = r.error.issues.map((i) => i.path.map(String).join('.'));
    const secrets = [...SECRET_KEYS, ...keys.filter((k) => k.endsWith('.hmacSecret'))];
    throw optionsError('invalid gateway options', r.error.issues, input, { secrets });
  }
  const o = r.data;
  Object.freeze(o.subscriptionToken);
  Object.freeze(o.allowedOrigins);
  Object.freeze(o.client);
  Object.freeze(o.recovery);
  Object.freeze(o.reconnect);
  Object.freeze(o.proxy);
  Object.freeze(o.limits);
  Object.freeze(o.api);
  for (const ns of o.namespaces) Object.freeze(ns);
  Object.freeze(o.namespaces);
  return Object.freeze(o);
}
