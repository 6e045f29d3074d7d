/**
 * Our Kafka seam: the few operations odin-ws needs (admin, produce, a consumer session), over
 * @platformatic/kafka, so the rest of the code never sees the library (docs/architecture.md says
 * why this client). Known defects of the library version we pin are avoided here:
 *  - idempotent production with several requests in flight silently lost batches (upstream #326):
 *    the producer is not idempotent (retried requests may duplicate; the ingest deduplicates by
 *    event id);
 *  - broker-recompressed snappy batches crash it: topics are created with compression.type=producer
 *    and we produce uncompressed;
 *  - its default partitioner takes murmur2 unsigned, so half of the keys would land in another
 *    partition than the Java client (and librdkafka's murmur2_random) puts them: we produce with
 *    its Java-compatible one, so a key's records share a partition with other producers'.
 */
import { readFileSync } from 'node:fs';
import { Admin, compatibilityPartitioner, Consumer, murmur2, Producer, stringSerializers, type MessagesStream } from '@platformatic/kafka';

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaConnectionOptions {
  /** `host:port` of one or more brokers. */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  /** TLS to the brokers (managed clusters); `caFile`: PEM of the CA when it is not a public one. */
  readonly tls?: { readonly caFile?: string; readonly rejectUnauthorized?: boolean; readonly serverName?: string };
  /** One request's time limit, ms (default 10000). */
  readonly requestTimeoutMs?: number;
}

export const DEFAULT_KAFKA_REQUEST_TIMEOUT_MS = 10_000;

/*
 * The consumer's fixed costs: what it asks the broker while the topics are quiet. Each within the
 * ranges Kafka's own clients use (docs/kafka.md "Consumer settings"); docs/performance.md "Fixed
 * costs" has what they cost idle.
 */
/** A member silent this long leaves the group and its partitions move, ms (also the rebalance timeout). */
const CONSUMER_SESSION_TIMEOUT_MS = 10_000;
/**
 * Heartbeats to the group coordinator, ms: Kafka's default (heartbeat.interval.ms 3000), a third of
 * the session timeout as Kafka advises, so two may be lost before the member is dropped.
 */
const CONSUMER_HEARTBEAT_INTERVAL_MS = 3_000;
/**
 * How long the broker holds a fetch that has no records, ms (Kafka's fetch.max.wait.ms is 500;
 * kafkajs and franz-go wait 5 s). With minBytes 1 a record ends the wait at once, so this adds no
 * latency; it sets how often an idle consumer asks again, and each fetch over all assigned
 * partitions is most of an idle consumer's CPU (docs/performance.md "Fixed costs": 0.6–0.9 % of a
 * core at 500 ms, 0.25 % at 2 s). The library fetches on its own connections (heartbeats are not
 * held behind a fetch) and sends the next fetch to a broker only when the one in flight returns,
 * so partitions gained in a rebalance are read at most this much later; a close does not wait.
 */
const CONSUMER_FETCH_MAX_WAIT_MS = 2_000;
/**
 * How old the cached topic metadata may be before the fetch loop asks again, ms (the library's
 * default is 5 s; Kafka's metadata.max.age.ms is 5 min). A leader change is not waited for: an
 * error that says the metadata is stale drops the cache at once.
 */
const CONSUMER_METADATA_MAX_AGE_MS = 60_000;

/** The library's base options from ours. */
function baseOptions(c: KafkaConnectionOptions, role: string) {
  let tls: { ca?: Buffer; rejectUnauthorized?: boolean; servername?: string } | undefined;
  if (c.tls) {
    tls = {};
    if (c.tls.caFile !== undefined) tls.ca = readFileSync(c.tls.caFile);
    if (c.tls.rejectUnauthorized !== undefined) tls.rejectUnauthorized = c.tls.rejectUnauthorized;
    if (c.tls.serverName !== undefined) tls.servername = c.tls.serverName;
  }
  return {
    clientId: `${c.clientId ?? 'odin-ws'}-${role}`,
    bootstrapBrokers: [...c.brokers],
    timeout: c.requestTimeoutMs ?? DEFAULT_KAFKA_REQUEST_TIMEOUT_MS,
    requestTimeout: c.requestTimeoutMs ?? DEFAULT_KAFKA_REQUEST_TIMEOUT_MS,
    connectTimeout: 5_000,
    retries: 2,
    retryDelay: 250,
    ...(c.sasl ? { sasl: { mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password } } : {}),
    ...(tls ? { tls } : {}),
  };
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly replicas: number;
  readonly configs: Readonly<Record<string, string>>;
}

export interface TopicInfo {
  readonly topic: string;
  readonly partitions: number;
  /** Partitions with a leader right now. */
  readonly withLeader: number;
}

export class KafkaAdmin {
  private readonly admin: Admin;

  constructor(conn: KafkaConnectionOptions) {
    this.admin = new Admin(baseOptions(conn, 'admin'));
  }

  /** Topics (internal ones left out), sorted. */
  async listTopics(): Promise<string[]> {
    return (await this.admin.listTopics({ includeInternals: false })).sort();
  }

  async describe(topics: readonly string[]): Promise<TopicInfo[]> {
    const md = await this.admin.metadata({ topics: [...topics], forceUpdate: true });
    return topics.flatMap((topic) => {
      const t = md.topics.get(topic);
      if (!t) return [];
      return [{ topic, partitions: t.partitionsCount, withLeader: t.partitions.filter((p) => p && p.leader >= 0).length }];
    });
  }

  /**
   * Creates the missing topics, then waits until every partition of every one has a leader
   * (a producer writing before that retries whole requests and duplicates records). Returns the
   * topics it created.
   */
  async ensureTopics(specs: readonly TopicSpec[], timeoutMs = 30_000): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics({ includeInternals: false }));
    const created: string[] = [];
    for (const s of specs) {
      if (existing.has(s.topic)) continue;
      try {
        await this.admin.createTopics({
          topics: [s.topic],
          partitions: s.partitions,
          replicas: s.replicas,
          configs: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
        });
        created.push(s.topic);
      } catch (err) {
        // Created meanwhile by another process: fine.
        if (!/already exists/i.test(describeError(err))) throw err;
      }
    }
    const names = specs.map((s) => s.topic);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let ready = false;
      try {
        const info = await this.describe(names);
        ready = info.length === names.length && info.every((t) => t.partitions > 0 && t.withLeader === t.partitions);
      } catch {
        // Metadata of a just-created topic may be missing for a moment.
      }
      if (ready) return created;
      if (Date.now() > deadline) throw new Error(`kafka: partitions of ${names.join(', ')} have no leader after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}

export interface RecordToProduce {
  readonly topic: string;
  readonly key: string;
  /** JSON text. */
  readonly value: string;
  /** ms since the epoch (the event's time). */
  readonly timestamp: number;
}

/** The partition of `key` among `partitions`, as the Java client computes it (murmur2, made positive). */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;
}

/** acks=all, not idempotent, Java-compatible partitions by key (see the file comment). */
export class KafkaProducer {
  private readonly producer: Producer<string, string, string, string>;

  constructor(conn: KafkaConnectionOptions) {
    this.producer = new Producer({
      ...baseOptions(conn, 'producer'),
      serializers: stringSerializers,
      idempotent: false,
      acks: -1,
      partitioner: compatibilityPartitioner,
    });
  }

  async send(records: readonly RecordToProduce[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.send({
      messages: records.map((r) => ({ topic: r.topic, key: r.key, value: r.value, timestamp: BigInt(r.timestamp) })),
    });
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | undefined;
  readonly value: Buffer | undefined;
  /** The record's timestamp, ms. */
  readonly timestamp: number;
}

export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: bigint;
}

export interface ConsumerSessionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * 'committed': the group's commits (partitions without one: the end); 'earliest' | 'latest':
   * the oldest kept or the next new record of every partition; else exact positions.
   */
  readonly start: 'committed' | 'earliest' | 'latest' | readonly PartitionOffset[];
  /** Records of one fetch handed over before backpressure applies. */
  readonly highWaterMark?: number;
  /** Called when the group (re)assigns partitions to this member, with what it owns now. */
  readonly onAssigned?: (owned: Array<{ topic: string; partitions: number[] }>) => void;
}

/**
 * One consumer in a group, reading records in partition order. `onRecord` is called
 * synchronously per record; `pause()`/`resume()` apply backpressure. The session ends with the
 * promise of `done`: it rejects when the connection fails for good (the caller opens a new one).
 */
export class KafkaConsumerSession {
  readonly done: Promise<void>;
  private constructor(
    private readonly consumer: Consumer,
    private readonly stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>,
    onRecord: (r: ConsumedRecord) => void,
  ) {
    this.done = new Promise((resolve, reject) => {
      stream.on('data', (m) => {
        onRecord({ topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, value: m.value, timestamp: Number(m.timestamp) });
      });
      stream.once('error', reject);
      stream.once('close', () => resolve());
    });
    this.done.catch(() => undefined);
  }

  static async open(
    conn: KafkaConnectionOptions,
    o: ConsumerSessionOptions,
    onRecord: (r: ConsumedRecord) => void,
  ): Promise<KafkaConsumerSession> {
    const consumer = new Consumer({
      ...baseOptions(conn, 'consumer'),
      groupId: o.groupId,
      sessionTimeout: CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: CONSUMER_HEARTBEAT_INTERVAL_MS,
      rebalanceTimeout: CONSUMER_SESSION_TIMEOUT_MS,
      maxWaitTime: CONSUMER_FETCH_MAX_WAIT_MS,
      minBytes: 1,
      metadataMaxAge: CONSUMER_METADATA_MAX_AGE_MS,
      highWaterMark: o.highWaterMark ?? 1024,
    });
    const onAssigned = o.onAssigned;
    if (onAssigned) consumer.on('consumer:group:join', () => onAssigned(ownedBy(consumer)));
    try {
      const stream = await consumer.consume({
        topics: [...o.topics],
        autocommit: false,
        ...(o.start === 'committed'
          ? { mode: 'committed', fallbackMode: 'latest' }
          : typeof o.start === 'string'
            ? { mode: o.start }
            : { mode: 'manual', offsets: o.start.map((p) => ({ ...p })) }),
      });
      return new KafkaConsumerSession(consumer, stream as MessagesStream<Buffer, Buffer, Buffer, Buffer>, onRecord);
    } catch (err) {
      await forceClose(consumer);
      throw err;
    }
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  /** The partitions this member owns now. */
  assignments(): Array<{ topic: string; partitions: number[] }> {
    return ownedBy(this.consumer);
  }

  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commit({ offsets: offsets.map((o) => ({ ...o, leaderEpoch: -1 })) });
  }

  /** Committed offsets of the group (-1: none), per topic and partition. */
  async committed(topics: ReadonlyArray<{ topic: string; partitions: number[] }>): Promise<Map<string, bigint[]>> {
    return this.consumer.listCommittedOffsets({ topics: topics.map((t) => ({ topic: t.topic, partitions: [...t.partitions] })) });
  }

  /** The end (high watermark) of each partition of `topics`. */
  async endOffsets(topics: readonly string[]): Promise<Map<string, bigint[]>> {
    return this.consumer.listOffsets({ topics: [...topics] });
  }

  /** Leaves the group (others take the partitions over). Idempotent. */
  async close(): Promise<void> {
    await this.stream.close().catch(() => undefined);
    await forceClose(this.consumer);
  }
}

/**
 * End offsets of every partition of `topics` and the commits of `groupId` (-1: none), without
 * joining the group.
 */
export async function probeOffsets(
  conn: KafkaConnectionOptions,
  groupId: string,
  topics: readonly string[],
): Promise<{ ends: Map<string, bigint[]>; committed: Map<string, bigint[]> }> {
  const c = new Consumer({ ...baseOptions(conn, 'probe'), groupId });
  try {
    const ends = await c.listOffsets({ topics: [...topics] });
    const committed = await c.listCommittedOffsets({
      topics: [...ends].map(([topic, parts]) => ({ topic, partitions: parts.map((_, i) => i) })),
    });
    return { ends, committed };
  } finally {
    await forceClose(c);
  }
}

function ownedBy(c: Consumer): Array<{ topic: string; partitions: number[] }> {
  return (c.assignments ?? []).map((a) => ({ topic: a.topic, partitions: [...a.partitions] }));
}

/** Closes without waiting for in-flight commits; never rejects. */
function forceClose(c: Consumer): Promise<void> {
  return new Promise((resolve) => c.close(true, () => resolve()));
}

/** A readable one-line description of a client error (its cause chain included). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message];
  const nested = (err as { errors?: unknown[] }).errors;
  if (Array.isArray(nested) && nested[0] instanceof Error) parts.push(nested[0].message);
  if (err.cause instanceof Error) parts.push(err.cause.message);
  return parts.join(': ');
}
