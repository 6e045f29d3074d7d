/**
 * KafkaIngest: the Odin topics into channel publications, through whichever broker the gateway
 * runs. Two modes:
 *  - 'each': this node reads every partition (a consumer group of its own) for its own clients;
 *    the memory broker's mode. Positions are kept here, so a reconnect resumes exactly.
 *  - 'shared': every gateway process joins one group, so each record is ingested once; with the
 *    JetStream broker every node then gets it, at the same offset, from JetStream.
 *
 * Guarantees:
 *  - A partition's records are published in offset order (publications of one channel keep the
 *    order of its partition: one key, one partition).
 *  - An offset is committed only once its record and every earlier one of the partition were
 *    accepted by the broker (or skipped as bad). After a crash, restart or rebalance, reading
 *    resumes at the committed offset, so records published but not yet committed are read again.
 *  - Exactly once, in order, per channel: every publication carries its record's position
 *    (source `topic/partition`, offset) and the broker fences on it atomically with the append
 *    (Broker guarantee 6, source-chain.ts): a record the channel already holds is not stored
 *    again, whichever process (the old owner of a partition that moved, a restarted one)
 *    publishes it and however late; a record never lands after an earlier one of its channel
 *    that failed. The event id, when the value has one, is also the idempotency key (a record
 *    the producer wrote twice). Nothing is ever deduplicated by content.
 *  - A bad record (not JSON, no key, unknown type, over the size limit, a channel the gateway
 *    refuses) is counted by reason, logged with topic/partition/offset, and skipped.
 *  - Kafka unreachable or the broker refusing publications: not ready (with the reason), the
 *    session is closed and reopened with backoff from the last fully published positions.
 */
import type { Ingest, IngestHealth } from '../core/ingest.js';
import type { Logger } from '../core/logger.js';
import {
  describeError,
  KafkaConsumerSession,
  probeOffsets,
  type ConsumedRecord,
  type KafkaConnectionOptions,
  type PartitionOffset,
} from './client.js';
import type { PublishOptions, PublishResult } from '../core/broker.js';
import { BAD_RECORD_REASONS, RecordMapper, type BadRecordReason, type KafkaChannelRule } from './mapping.js';
import { PartitionProgress } from './progress.js';
import { KAFKA_RECORD_TAG, recordTag, SourceChain, sourceId } from './source-chain.js';

export type KafkaIngestMode = 'each' | 'shared';
export type KafkaStart = 'latest' | 'committed';

/** Publications in flight before reading pauses. */
export const DEFAULT_KAFKA_MAX_IN_FLIGHT = 5_000;
/** How often fully published offsets are committed, ms. */
export const DEFAULT_KAFKA_COMMIT_INTERVAL_MS = 1_000;
/** How often consumer lag is measured, ms. */
export const DEFAULT_KAFKA_LAG_INTERVAL_MS = 5_000;
/** Backoff between reconnects: from the first to the last, doubling, ms. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;
/** Longest wait for publications in flight when a session closes, ms. */
const SETTLE_WAIT_MS = 10_000;
/** Bad records logged per second at most (the rest are only counted). */
const BAD_LOGS_PER_SECOND = 10;

export interface KafkaIngestOptions {
  readonly connection: KafkaConnectionOptions;
  /** The group (shared mode), or the prefix of this node's own group (each mode). */
  readonly groupId: string;
  readonly mode: KafkaIngestMode;
  readonly start: KafkaStart;
  readonly rules?: readonly KafkaChannelRule[];
  readonly maxRecordBytes?: number;
  /**
   * Publishes one record (idempotency key, tags: its `kafka` position, `source`:
   * its fencing position); resolves once the broker accepted it or found it stored already.
   */
  readonly publish: (channel: string, data: string, opts: PublishOptions) => Promise<PublishResult>;
  /** True for a refusal that a retry cannot fix (a channel the gateway refuses): the record is skipped. */
  readonly isPermanent: (err: unknown) => boolean;
  readonly maxInFlight?: number;
  readonly commitIntervalMs?: number;
  readonly lagIntervalMs?: number;
  readonly log: Logger;
  /** Each accepted publication's end-to-end latency (record timestamp → broker accepted), ms. */
  readonly onLatency?: (ms: number) => void;
}

export interface KafkaIngestStats {
  consumed: number;
  published: number;
  failed: Record<BadRecordReason, number>;
  /** Publications the broker refused for a while (each one retried after a reconnect). */
  publishErrors: number;
  /** Records the channel held already (published by an earlier session or another process): not stored again. */
  duplicates: number;
  reconnects: number;
}

export class KafkaIngest implements Ingest {
  readonly kind = 'kafka';
  readonly stats: KafkaIngestStats = {
    consumed: 0,
    published: 0,
    failed: Object.fromEntries(BAD_RECORD_REASONS.map((r) => [r, 0])) as Record<BadRecordReason, number>,
    publishErrors: 0,
    duplicates: 0,
    reconnects: 0,
  };
  /** Lag per `topic/partition` this node owns, records (from the last measurement). */
  readonly lag = new Map<string, { topic: string; partition: number; lag: number }>();
  private readonly mapper: RecordMapper;
  private readonly progress = new PartitionProgress();
  private readonly chain = new SourceChain();
  private readonly groupId: string;
  private session: KafkaConsumerSession | null = null;
  private inFlight = 0;
  private paused = false;
  private failure: ((reason: string) => void) | null = null;
  private notReady: string | null = 'kafka: connecting';
  private stopped = false;
  private firstStart = true;
  private loop: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private badLogWindow = { second: 0, count: 0 };
  private settledWaiters: Array<() => void> = [];

  constructor(
    private readonly o: KafkaIngestOptions,
    /** This node's name in its own group (each mode): host and port, stable across restarts. */
    nodeName = `${process.pid}`,
  ) {
    this.mapper = new RecordMapper(o.rules, o.maxRecordBytes);
    this.groupId = o.mode === 'each' ? `${o.groupId}-${nodeName}` : o.groupId;
    if (o.mode === 'shared' && o.start === 'latest') {
      throw new RangeError('kafka: start "latest" needs mode "each" (a shared group resumes from its committed offsets)');
    }
  }

  get topics(): string[] {
    return this.mapper.topics;
  }

  get group(): string {
    return this.groupId;
  }

  isReady(): boolean {
    return this.notReady === null;
  }

  /** Core's ingest health: bad records count as dropped, refused publications as failed. */
  health(): IngestHealth {
    const s = this.stats;
    return {
      kind: this.kind,
      running: this.loop !== null && !this.stopped,
      connected: this.notReady === null,
      // Partitions split the work: this process reads while the group gives it any.
      reading: this.session !== null && this.session.assignments().some((a) => a.partitions.length > 0),
      received: s.consumed,
      published: s.published,
      dropped: Object.values(s.failed).reduce((a, b) => a + b, 0),
      failed: s.publishErrors,
      inFlight: this.inFlight,
      lagMs: this.progress.oldestUnsettledAgeMs(),
    };
  }

  /** Why it is not ready (null when it is). */
  readiness(): string | null {
    return this.notReady;
  }

  /** Starts reading; resolves after the first attempt to connect (ready or not: it keeps trying). */
  async start(): Promise<void> {
    let first!: () => void;
    const attempted = new Promise<void>((r) => (first = r));
    this.loop = this.run(first);
    this.timers.push(setInterval(() => void this.commit(), this.o.commitIntervalMs ?? DEFAULT_KAFKA_COMMIT_INTERVAL_MS));
    this.timers.push(setInterval(() => void this.measureLag(), this.o.lagIntervalMs ?? DEFAULT_KAFKA_LAG_INTERVAL_MS));
    for (const t of this.timers) t.unref();
    await attempted;
  }

  /** Stops reading, waits for publications in flight, commits, leaves the group. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return this.loop ?? undefined;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.failure?.('stopping');
    await this.loop;
  }

  private async run(firstAttempt: () => void): Promise<void> {
    let backoff = RECONNECT_MIN_MS;
    while (!this.stopped) {
      let reason: string;
      try {
        const start = await this.startPositions();
        const failed = new Promise<string>((r) => (this.failure = r));
        // Nothing of the last session in flight (closeSession waited): no record to chain to.
        if (this.inFlight === 0) this.chain.reset();
        this.session = await KafkaConsumerSession.open(
          this.o.connection,
          { groupId: this.groupId, topics: this.mapper.topics, start, onAssigned: (owned) => this.onAssigned(owned) },
          (r) => this.onRecord(r),
        );
        if (this.o.mode === 'shared') await this.seedCommits();
        this.firstStart = false;
        this.notReady = null;
        backoff = RECONNECT_MIN_MS;
        firstAttempt();
        this.o.log.info({ group: this.groupId, mode: this.o.mode, topics: this.mapper.topics.length }, 'kafka ingest: consuming');
        reason = await Promise.race([
          failed,
          this.session.done.then(
            () => 'consumer closed',
            (err: unknown) => describeError(err),
          ),
        ]);
      } catch (err) {
        reason = describeError(err);
      }
      if (!this.stopped) {
        this.notReady = `kafka: ${reason}`;
        this.stats.reconnects++;
        this.o.log.warn({ reason, retryInMs: backoff }, 'kafka ingest: not consuming; reconnecting');
      }
      firstAttempt();
      await this.closeSession();
      if (this.stopped) break;
      await delay(backoff);
      backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
    }
    this.notReady = 'kafka: stopped';
  }

  /** Where a new session starts: exact positions when known (each mode), else the group's commits. */
  private async startPositions(): Promise<'committed' | PartitionOffset[]> {
    if (this.o.mode === 'shared') return 'committed';
    if (!this.firstStart) return this.progress.positions();
    // Each mode, first start: every partition's position, from the group's commits or the end.
    const probe = await probeOffsets(this.o.connection, this.groupId, this.mapper.topics);
    const out: PartitionOffset[] = [];
    for (const [topic, ends] of probe.ends) {
      const commits = probe.committed.get(topic) ?? [];
      ends.forEach((end, partition) => {
        const c = commits[partition] ?? -1n;
        const offset = this.o.start === 'committed' && c >= 0n ? c : end;
        this.progress.seed(topic, partition, offset);
        out.push({ topic, partition, offset });
      });
    }
    return out;
  }

  /** Shared mode: partitions the group never committed get the position they start at now, so a restart cannot skip ahead. */
  private async seedCommits(): Promise<void> {
    const s = this.session;
    if (!s) return;
    const owned = s.assignments();
    const committed = await s.committed(owned);
    const ends = await s.endOffsets(owned.map((a) => a.topic));
    const seed: PartitionOffset[] = [];
    for (const a of owned) {
      for (const partition of a.partitions) {
        if ((committed.get(a.topic)?.[partition] ?? -1n) >= 0n) continue;
        const end = ends.get(a.topic)?.[partition];
        if (end !== undefined) seed.push({ topic: a.topic, partition, offset: end });
      }
    }
    await s.commit(seed);
  }

  /**
   * The group (re)assigned partitions. Nothing to undo: publications in flight for partitions
   * that moved, and records of fetches made before the move, are fenced by the broker.
   */
  private onAssigned(owned: ReadonlyArray<{ topic: string; partitions: number[] }>): void {
    const partitions = owned.reduce((n, a) => n + a.partitions.length, 0);
    this.o.log.info({ group: this.groupId, partitions }, 'kafka ingest: partitions assigned');
  }

  private onRecord(r: ConsumedRecord): void {
    this.stats.consumed++;
    const entry = this.progress.received(r.topic, r.partition, r.offset);
    const m = this.mapper.map(r.topic, r.key, r.value, r.timestamp);
    if (typeof m === 'string') {
      this.bad(m, r);
      this.progress.settle(entry);
      return;
    }
    this.inFlight++;
    if (this.inFlight >= (this.o.maxInFlight ?? DEFAULT_KAFKA_MAX_IN_FLIGHT) && !this.paused) {
      this.paused = true;
      this.session?.pause();
    }
    const source = sourceId(r.topic, r.partition);
    const after = this.chain.handOff(m.channel, source, r.offset);
    // The position is the fence (a record read again reaches the broker and is found stored);
    // the event id, when the value has one, also folds a record the producer wrote twice.
    const opts: PublishOptions = {
      ...(m.eventId !== undefined ? { idempotencyKey: m.eventId } : {}),
      tags: { [KAFKA_RECORD_TAG]: recordTag(r.topic, r.partition, r.offset) },
      source: after === undefined ? { id: source, seq: r.offset } : { id: source, seq: r.offset, after },
    };
    this.o.publish(m.channel, m.data, opts).then(
      (res) => {
        this.chain.settled(m.channel, source, r.offset);
        if (res.duplicate === true) this.stats.duplicates++;
        else {
          this.stats.published++;
          this.o.onLatency?.(Date.now() - m.timestamp);
        }
        this.progress.settle(entry);
        this.settled();
      },
      (err: unknown) => {
        if (this.o.isPermanent(err)) {
          // Refused for the channel itself (not by the broker): every record of it is, so the chain goes on.
          this.chain.settled(m.channel, source, r.offset);
          this.bad('bad_channel', r, err);
          this.progress.settle(entry);
        } else {
          // Not settled: the position stays before this record, which is read again after the
          // reconnect; later records of its channel are refused until then (source-chain.ts).
          this.stats.publishErrors++;
          this.failure?.(`broker refused a publication: ${describeError(err)}`);
        }
        this.settled();
      },
    );
  }

  private settled(): void {
    this.inFlight--;
    if (this.paused && this.inFlight <= (this.o.maxInFlight ?? DEFAULT_KAFKA_MAX_IN_FLIGHT) / 2) {
      this.paused = false;
      this.session?.resume();
    }
    if (this.inFlight === 0) for (const w of this.settledWaiters.splice(0)) w();
  }

  private bad(reason: BadRecordReason, r: ConsumedRecord, err?: unknown): void {
    this.stats.failed[reason]++;
    const second = Math.floor(Date.now() / 1000);
    if (this.badLogWindow.second !== second) this.badLogWindow = { second, count: 0 };
    if (this.badLogWindow.count++ < BAD_LOGS_PER_SECOND) {
      this.o.log.warn(
        { reason, topic: r.topic, partition: r.partition, offset: String(r.offset), ...(err ? { err: describeError(err) } : {}) },
        'kafka ingest: bad record skipped',
      );
    }
  }

  /** Commits the fully published positions of the partitions this member owns. */
  private async commit(): Promise<void> {
    const s = this.session;
    if (!s || this.notReady !== null) return;
    const owned = new Set(s.assignments().flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`)));
    const due = this.progress.dueCommits(owned);
    try {
      await s.commit(due);
      this.progress.committed(due);
    } catch (err) {
      this.o.log.warn({ err: describeError(err) }, 'kafka ingest: commit failed (retried at the next interval)');
    }
  }

  private async measureLag(): Promise<void> {
    const s = this.session;
    if (!s || this.notReady !== null) return;
    try {
      const ends = await s.endOffsets(this.mapper.topics);
      this.lag.clear();
      for (const a of s.assignments()) {
        for (const partition of a.partitions) {
          const end = ends.get(a.topic)?.[partition];
          const done = this.progress.done(a.topic, partition);
          if (end !== undefined && done !== undefined)
            this.lag.set(`${a.topic}/${partition}`, { topic: a.topic, partition, lag: Number(end - done) });
        }
      }
    } catch {
      // Kafka unreachable: the session notices and readiness says so.
    }
  }

  private async closeSession(): Promise<void> {
    const s = this.session;
    this.session = null;
    this.failure = null;
    this.paused = false;
    if (!s) return;
    s.pause();
    // Publications time out in the broker; the bound here only keeps a hung one from stalling shutdown.
    if (this.inFlight > 0) await Promise.race([new Promise<void>((r) => this.settledWaiters.push(r)), delay(SETTLE_WAIT_MS)]);
    // Commit what is fully published while the group still lists us (harmless if Kafka is gone).
    const owned = new Set(s.assignments().flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`)));
    const due = this.progress.dueCommits(owned);
    await Promise.race([s.commit(due).then(() => this.progress.committed(due)), delay(2_000)]).catch(() => undefined);
    await s.close();
    // What was read but not published is read again by the next session.
    this.progress.rewind();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
