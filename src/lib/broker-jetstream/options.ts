import type { NatsConnection } from '@nats-io/transport-node';

/** Stream name. */
export const DEFAULT_JS_STREAM = 'ODIN_WS';
/** Subjects: publications are stored under `<prefix>.pub.<channel>`, fanned out on `<prefix>.live.<channel>`. */
export const DEFAULT_JS_SUBJECT_PREFIX = 'odin-ws';
/** Replicas of the stream (3 on a 3-node cluster for quorum-acknowledged publishes). */
export const DEFAULT_JS_REPLICAS = 1;
/** History kept per channel, messages (the gateway's default history size). */
export const DEFAULT_JS_HISTORY_SIZE = 1000;
/** History time to live, ms (the gateway's default history TTL: 5 minutes). */
export const DEFAULT_JS_HISTORY_TTL_MS = 300_000;
/** Stream-wide message cap; -1 = unlimited (the per-channel cap and TTL bound it). */
export const DEFAULT_JS_MAX_MESSAGES = -1;
/** Stream-wide byte cap; -1 = unlimited. */
export const DEFAULT_JS_MAX_BYTES = -1;
/** How long an idempotency key (Nats-Msg-Id) is remembered, ms. Clamped to the TTL. */
export const DEFAULT_JS_DUPLICATE_WINDOW_MS = 120_000;
/** Whole publish budget, retries included, ms; after it the publish rejects 'unavailable'. */
export const DEFAULT_JS_PUBLISH_TIMEOUT_MS = 5_000;
/** One JetStream API request, ms. */
export const DEFAULT_JS_REQUEST_TIMEOUT_MS = 2_000;
/** Reconnect wait between attempts, ms (the client adds jitter). */
export const DEFAULT_JS_RECONNECT_WAIT_MS = 250;
/** Gaps of at most this many publications are filled by walking back from the head. */
export const DEFAULT_JS_WALK_BACK_MAX = 32;

/**
 * Presence entry time to live, ms: a node that stops without removing its clients' entries
 * (crash, network loss) has them expire after this (Centrifugo's presence_ttl: 60 s).
 */
export const DEFAULT_JS_PRESENCE_TTL_MS = 60_000;

/**
 * Per-user connection entry time to live, ms (`maxConnectionsPerUser` across nodes): a crashed
 * node's connections stop counting after this. Refreshed every third of it.
 */
export const DEFAULT_JS_USER_TTL_MS = 30_000;

/** Most publications in one appended message (group commit). */
export const DEFAULT_JS_MAX_GROUP = 512;
/** Most payload bytes in one appended message (NATS' default max_payload is 1 MiB). */
export const DEFAULT_JS_MAX_GROUP_BYTES = 256 * 1024;
/** Publications waiting to be appended per process before publish rejects 'unavailable'. */
export const DEFAULT_JS_MAX_BACKLOG = 100_000;

export interface JetStreamBrokerOptions {
  /** NATS URLs (`nats://host:port`); several for a cluster. Ignored when `connection` is given. */
  readonly servers?: string | readonly string[];
  /** A connection owned by the caller (not closed by the broker). */
  readonly connection?: NatsConnection;
  /** Connection name shown in NATS monitoring. */
  readonly name?: string;
  readonly stream?: string;
  readonly subjectPrefix?: string;
  readonly replicas?: number;
  /** Per-channel history cap (stream `max_msgs_per_subject`), messages. */
  readonly historySize?: number;
  /** Stream `max_age`, ms. */
  readonly historyTtlMs?: number;
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly duplicateWindowMs?: number;
  readonly storage?: 'file' | 'memory';
  readonly publishTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly reconnectWaitMs?: number;
  readonly walkBackMax?: number;
  /** Group commit: most publications per appended message (1 turns grouping off). */
  readonly maxGroup?: number;
  readonly maxGroupBytes?: number;
  /** Publications waiting per process before publish rejects (overload). */
  readonly maxBacklog?: number;
  /**
   * Update an existing stream's limits to these options at start (default true). False: use
   * the stream as found (its limits win) and only check that its subjects match.
   */
  readonly updateStream?: boolean;
  /** Presence entry TTL, ms (KV bucket max_age; default {@link DEFAULT_JS_PRESENCE_TTL_MS}). */
  readonly presenceTtlMs?: number;
  /** How often a node rewrites its live entries, ms (default: a third of the TTL). */
  readonly presenceRefreshMs?: number;
  /** KV bucket holding presence (default `<stream>_presence`). */
  readonly presenceBucket?: string;
  /** Per-user connection entry TTL, ms (default {@link DEFAULT_JS_USER_TTL_MS}). */
  readonly userTtlMs?: number;
  /** KV bucket counting each user's connections on every node (default `<stream>_users`). */
  readonly userBucket?: string;
}

export interface ResolvedJetStreamOptions {
  readonly servers: readonly string[];
  readonly connection: NatsConnection | undefined;
  readonly name: string;
  readonly stream: string;
  readonly pubPrefix: string;
  readonly livePrefix: string;
  readonly replicas: number;
  readonly historySize: number;
  readonly historyTtlMs: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly duplicateWindowMs: number;
  readonly storage: 'file' | 'memory';
  readonly publishTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly reconnectWaitMs: number;
  readonly walkBackMax: number;
  readonly maxGroup: number;
  readonly maxGroupBytes: number;
  readonly maxBacklog: number;
  readonly updateStream: boolean;
  /** Core NATS subject of the control channel between nodes. */
  readonly controlSubject: string;
  readonly presenceTtlMs: number;
  readonly presenceRefreshMs: number;
  readonly presenceBucket: string;
  readonly userTtlMs: number;
  readonly userBucket: string;
}

function int(key: string, v: number | undefined, dflt: number, min: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`JetStreamBroker option "${key}" must be an integer >= ${min} (got ${String(v)})`);
  }
  return n;
}

/** Validates once, fills defaults, freezes. Throws RangeError naming the bad key. */
export function resolveJetStreamOptions(o: JetStreamBrokerOptions): ResolvedJetStreamOptions {
  const servers = o.servers === undefined ? [] : typeof o.servers === 'string' ? o.servers.split(',') : [...o.servers];
  if (o.connection === undefined && servers.length === 0) {
    throw new RangeError('JetStreamBroker option "servers" is required (or pass "connection")');
  }
  const stream = o.stream ?? DEFAULT_JS_STREAM;
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new RangeError(`JetStreamBroker option "stream" is not a valid stream name: ${stream}`);
  const prefix = o.subjectPrefix ?? DEFAULT_JS_SUBJECT_PREFIX;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new RangeError(`JetStreamBroker option "subjectPrefix" must be literal subject tokens: ${prefix}`);
  }
  const presenceTtlMs = int('presenceTtlMs', o.presenceTtlMs, DEFAULT_JS_PRESENCE_TTL_MS, 1_000);
  const presenceRefreshMs = int('presenceRefreshMs', o.presenceRefreshMs, Math.floor(presenceTtlMs / 3), 100);
  if (presenceRefreshMs >= presenceTtlMs) {
    throw new RangeError(
      `JetStreamBroker option "presenceRefreshMs" must be below presenceTtlMs (${presenceRefreshMs} >= ${presenceTtlMs})`,
    );
  }
  const presenceBucket = o.presenceBucket ?? `${stream}_presence`;
  if (!/^[-\w]+$/.test(presenceBucket))
    throw new RangeError(`JetStreamBroker option "presenceBucket" is not a valid bucket name: ${presenceBucket}`);
  const userBucket = o.userBucket ?? `${stream}_users`;
  if (!/^[-\w]+$/.test(userBucket)) throw new RangeError(`JetStreamBroker option "userBucket" is not a valid bucket name: ${userBucket}`);
  const historyTtlMs = int('historyTtlMs', o.historyTtlMs, DEFAULT_JS_HISTORY_TTL_MS, 1_000);
  const dup = int('duplicateWindowMs', o.duplicateWindowMs, DEFAULT_JS_DUPLICATE_WINDOW_MS, 1_000);
  const storage = o.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') throw new RangeError('JetStreamBroker option "storage" must be file or memory');
  return Object.freeze({
    servers: Object.freeze(servers.map((s) => s.trim()).filter((s) => s.length > 0)),
    connection: o.connection,
    name: o.name ?? `odin-ws-${process.pid}`,
    stream,
    pubPrefix: `${prefix}.pub`,
    livePrefix: `${prefix}.live`,
    replicas: int('replicas', o.replicas, DEFAULT_JS_REPLICAS, 1),
    historySize: int('historySize', o.historySize, DEFAULT_JS_HISTORY_SIZE, 1),
    historyTtlMs,
    maxMessages: int('maxMessages', o.maxMessages, DEFAULT_JS_MAX_MESSAGES, -1),
    maxBytes: int('maxBytes', o.maxBytes, DEFAULT_JS_MAX_BYTES, -1),
    // JetStream refuses a duplicate window longer than max_age.
    duplicateWindowMs: Math.min(dup, historyTtlMs),
    storage,
    publishTimeoutMs: int('publishTimeoutMs', o.publishTimeoutMs, DEFAULT_JS_PUBLISH_TIMEOUT_MS, 100),
    requestTimeoutMs: int('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_JS_REQUEST_TIMEOUT_MS, 50),
    reconnectWaitMs: int('reconnectWaitMs', o.reconnectWaitMs, DEFAULT_JS_RECONNECT_WAIT_MS, 10),
    walkBackMax: int('walkBackMax', o.walkBackMax, DEFAULT_JS_WALK_BACK_MAX, 0),
    maxGroup: int('maxGroup', o.maxGroup, DEFAULT_JS_MAX_GROUP, 1),
    maxGroupBytes: int('maxGroupBytes', o.maxGroupBytes, DEFAULT_JS_MAX_GROUP_BYTES, 1024),
    maxBacklog: int('maxBacklog', o.maxBacklog, DEFAULT_JS_MAX_BACKLOG, 1),
    updateStream: o.updateStream ?? true,
    controlSubject: `${prefix}.control`,
    presenceTtlMs,
    presenceRefreshMs,
    presenceBucket,
    userTtlMs: int('userTtlMs', o.userTtlMs, DEFAULT_JS_USER_TTL_MS, 1_000),
    userBucket,
  });
}
