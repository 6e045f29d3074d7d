/**
 * Ordered appends with group commit.
 *
 * Each channel has one queue per process and at most one append in flight. An idle channel's
 * publications of one event-loop turn go out together at the end of that turn (a keyed one at
 * once); publications that arrive while an append is in flight wait and go out together in the
 * next one: one JetStream message holding the group (records.ts), so a hot channel's throughput
 * is the group size per round trip instead of one publication per round trip, and a burst read
 * in one turn is delivered on every node as one message (one write per client).
 *
 * Every append carries `Odin-Offset` = its last publication's offset, is made conditional on
 * the channel's previous stream sequence (`Nats-Expected-Last-Subject-Sequence`), and so
 * writers on any number of nodes agree on offsets 1, 2, 3...: a writer that lost the race gets
 * "wrong last sequence" (nothing of its group was stored), re-reads the head and retries.
 * A group is one message, so it is stored whole or not at all, and every node reads the same
 * offsets from it. Retries after an unknown outcome (timeout, leader change) reuse the group's
 * `Nats-Msg-Id`, so a group stored but not acknowledged is never stored twice.
 *
 * Idempotency keys: a keyed publication appended alone carries `Nats-Msg-Id` derived from the
 * key (JetStream's window dedups it on any node); inside a group, keys are checked against this
 * process's window (same length as JetStream's). So a key is honoured across nodes when its
 * publication is appended alone, and always within one process.
 *
 * Source fencing (Broker guarantee 6): every message carries the channel's source positions
 * (`Odin-Sources`, carried forward by every append). Which publications of a group are
 * appended is decided against the head the append is conditional on, so the decision and the
 * append are one atomic step: a writer that lost the race re-reads the head and decides again.
 * Fenced-out publications resolve as duplicates or reject with 'conflict'; the rest go out as
 * one message (its `Nats-Msg-Id` names the subset, so a retry of the same subset is deduped).
 *
 * Overload: at most `maxBacklog` publications wait per process; past it `publish` rejects at
 * once with 'unavailable' (counted in `rejected`), and a publication that waited past its
 * deadline is rejected rather than appended late.
 */
import { createHash } from 'node:crypto';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { BrokerError, type PublishOptions, type PublishResult, type SourcePosition } from '../core/broker.js';
import { encodeSourcePositions, FATE_APPEND, FATE_DUPLICATE, fenceSources, type SourceFate } from '../core/source-fence.js';
import type { ResolvedJetStreamOptions } from './options.js';
import { buildHeaders, encodeParts, metaOf, newEpoch, type Head, type Part } from './records.js';
import type { StreamReader } from './reader.js';
import { ERR_STREAM_NOT_FOUND, ERR_WRONG_LAST_SEQ, sleep, unreachable } from './errors.js';

/** Publish heads cached per process; beyond this the cache is cleared (reads refill it). */
const MAX_CACHED_HEADS = 100_000;
/** Idempotency keys remembered per process; past it the oldest are forgotten early. */
const MAX_LOCAL_KEYS = 100_000;
const encoder = new TextEncoder();

interface PubAck {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code?: number; description?: string };
}

export interface AppenderEnv {
  conn(): NatsConnection;
  connected(): boolean;
  /** Throws BrokerError('closed') once the broker is closed. */
  checkOpen(): void;
  /** Asks stream admin to re-create a missing stream (rate-limited). */
  ensureStreamSoon(): void;
}

interface PendingPub {
  readonly kind: 'pub';
  readonly part: Part;
  readonly key: string | undefined;
  readonly source: SourcePosition | undefined;
  readonly deadline: number;
  resolve(pos: PublishResult): void;
  reject(err: unknown): void;
}

/** Work that must not interleave with appends (epoch marker, purge). */
interface PendingTask {
  readonly kind: 'task';
  run(): Promise<void>;
}

interface ChannelQueue {
  readonly subject: string;
  items: (PendingPub | PendingTask)[];
  running: boolean;
}

export interface AppendStats {
  /** Publications waiting on this process (backlog). */
  backlog: number;
  /** Publications refused because the backlog was full or their deadline passed. */
  rejected: number;
  /** Append round trips that stored a group, and the publications they stored. */
  appends: number;
  appended: number;
  /** Called per stored group: seconds from the group's first send to its ack, its size. */
  onAppend: ((seconds: number, publications: number) => void) | null;
}

export class Appender {
  readonly stats: AppendStats = { backlog: 0, rejected: 0, appends: 0, appended: 0, onAppend: null };
  private readonly heads = new Map<string, Head>();
  private readonly queues = new Map<string, ChannelQueue>();
  private readonly keys = new Map<string, { pos: Promise<PublishResult>; expires: number }>();

  constructor(
    private readonly o: ResolvedJetStreamOptions,
    private readonly reader: StreamReader,
    private readonly env: AppenderEnv,
  ) {}

  /** Forgets every cached head (after a reconnect another node may have appended). */
  clearHeads(): void {
    this.heads.clear();
  }

  forget(channel: string): void {
    this.heads.delete(channel);
  }

  /** Queues one publication; resolves with its position once its group is stored (or it is fenced out). */
  publish(channel: string, subject: string, data: string, opts: PublishOptions | undefined): Promise<PublishResult> {
    const key = opts?.idempotencyKey;
    const now = Date.now();
    const keyId = key === undefined ? undefined : channel + '\u0000' + key;
    if (keyId !== undefined) {
      const seen = this.keys.get(keyId);
      if (seen && seen.expires > now) return seen.pos;
    }
    if (this.stats.backlog >= this.o.maxBacklog) {
      this.stats.rejected++;
      return Promise.reject(new BrokerError('unavailable', `overloaded: ${this.stats.backlog} publications waiting to be appended`));
    }
    const pos = new Promise<PublishResult>((resolve, reject) => {
      this.stats.backlog++;
      this.enqueue(channel, subject, {
        kind: 'pub',
        part: { data: encoder.encode(data), meta: metaOf(opts) },
        key,
        source: opts?.source,
        deadline: now + this.o.publishTimeoutMs,
        resolve,
        reject,
      });
    });
    if (keyId !== undefined) this.remember(keyId, pos, now);
    return pos;
  }

  /** Runs `fn` between the channel's appends from this process (nothing interleaves). */
  serialized<T>(channel: string, subject: string, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue(channel, subject, { kind: 'task', run: () => fn().then(resolve, reject) });
    });
  }

  /** Writes an epoch marker (offset 0) into an empty channel so its epoch exists before any publication. */
  writeMarker(channel: string, subject: string): Promise<Head> {
    const deadline = Date.now() + this.o.publishTimeoutMs;
    const marker: Part = { data: new Uint8Array(0), meta: undefined };
    return this.serialized(
      channel,
      subject,
      async () => (await this.append(channel, subject, [marker], 'm' + nuid.next(), true, deadline)).head,
    );
  }

  private remember(keyId: string, pos: Promise<PublishResult>, now: number): void {
    if (this.keys.size >= MAX_LOCAL_KEYS) {
      for (const [k, v] of this.keys) {
        if (v.expires > now && this.keys.size < MAX_LOCAL_KEYS) break;
        this.keys.delete(k);
      }
    }
    const entry = { pos, expires: now + this.o.duplicateWindowMs };
    this.keys.set(keyId, entry);
    // A refused publication may be retried with the same key.
    pos.catch(() => {
      if (this.keys.get(keyId) === entry) this.keys.delete(keyId);
    });
  }

  private enqueue(channel: string, subject: string, item: PendingPub | PendingTask): void {
    let q = this.queues.get(channel);
    if (!q) {
      q = { subject, items: [], running: false };
      this.queues.set(channel, q);
    }
    q.items.push(item);
    if (q.running) return;
    q.running = true;
    // An idle channel's first publication waits for the end of this event-loop turn, so the
    // publications of one turn (a feed's socket read, a publisher's tick) go out as one group,
    // are republished as one message and reach every client in one write. Sent at once, the
    // first would go alone and the rest in a second append: two live messages, two writes per
    // client per turn. A keyed publication still starts at once (appended alone, its key is
    // deduplicated by JetStream on any node). Tasks (marker, purge) start at once too.
    if (item.kind === 'pub' && item.key === undefined) setImmediate(() => void this.drain(channel, q));
    else void this.drain(channel, q);
  }

  /** Appends the channel's queue, a group at a time, until it is empty. */
  private async drain(channel: string, q: ChannelQueue): Promise<void> {
    while (q.items.length > 0) {
      const first = q.items[0]!;
      if (first.kind === 'task') {
        q.items.shift();
        await first.run();
        continue;
      }
      const group = this.takeGroup(q);
      if (group.length === 0) continue;
      this.stats.backlog -= group.length;
      try {
        const only = group.length === 1 ? group[0]! : undefined;
        const msgId =
          only?.key !== undefined
            ? 'k' + createHash('sha256').update(channel).update('\u0000').update(only.key).digest('base64url')
            : (group.length === 1 ? 'r' : 'g') + nuid.next();
        const deadline = Math.min(...group.map((p) => p.deadline));
        const t0 = performance.now();
        const sources = group.some((p) => p.source !== undefined) ? group.map((p) => p.source) : undefined;
        const { head, fates, appended } = await this.append(
          channel,
          q.subject,
          group.map((p) => p.part),
          msgId,
          false,
          deadline,
          sources,
        );
        if (appended > 0) {
          this.stats.appends++;
          this.stats.appended += appended;
          this.stats.onAppend?.((performance.now() - t0) / 1000, appended);
        }
        settleGroup(channel, group, fates, head, appended);
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    q.running = false;
    if (this.queues.get(channel) === q) this.queues.delete(channel);
  }

  /** The leading publications of the queue that fit one message; expired ones are refused. */
  private takeGroup(q: ChannelQueue): PendingPub[] {
    const group: PendingPub[] = [];
    let bytes = 0;
    const now = Date.now();
    while (q.items.length > 0 && group.length < this.o.maxGroup) {
      const p = q.items[0]!;
      if (p.kind !== 'pub') break;
      const size = p.part.data.length + (p.part.meta?.length ?? 0) + 8;
      if (group.length > 0 && bytes + size > this.o.maxGroupBytes) break;
      q.items.shift();
      if (p.deadline <= now) {
        this.stats.backlog--;
        this.stats.rejected++;
        p.reject(new BrokerError('unavailable', `overloaded: not appended within ${this.o.publishTimeoutMs} ms`));
        continue;
      }
      bytes += size;
      group.push(p);
    }
    return group;
  }

  /**
   * Appends one message holding `parts` after the channel's last one (compare-and-set on the
   * channel's last stream sequence), retrying on conflicts and on transient unavailability
   * until `deadline`. With `sources`, only the parts the fence lets through against that same
   * head are in the message (all fenced out: nothing is sent). Returns the head after it (the
   * message's offset is its last part's) and each part's fate.
   */
  private async append(
    channel: string,
    subject: string,
    parts: readonly Part[],
    msgId: string,
    marker: boolean,
    deadline: number,
    sources?: readonly (SourcePosition | undefined)[],
  ): Promise<{ head: Head; fates: readonly SourceFate[]; appended: number }> {
    let backoff = 25;
    const all: readonly SourceFate[] = parts.map(() => FATE_APPEND);
    const payloads = new Map<string, Uint8Array>();
    for (let attempt = 0; ; attempt++) {
      this.env.checkOpen();
      if (!this.env.connected()) throw unreachable();
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new BrokerError('unavailable', `publish not acknowledged within ${this.o.publishTimeoutMs} ms`);
      let transient: unknown;
      try {
        const head = this.heads.get(channel) ?? (await this.reader.head(channel));
        if (marker && head.seq !== 0) return { head, fates: all, appended: 0 }; // someone wrote first: use their epoch
        // A new epoch starts with no source positions (the history they described is gone).
        const fence = sources ? fenceSources(head.seq === 0 ? undefined : head.sources, sources) : null;
        const fates = fence?.fates ?? all;
        const kept = fence === null || fence.appended === parts.length ? parts : parts.filter((_, i) => fates[i] === FATE_APPEND);
        if (kept.length === 0) return { head, fates, appended: 0 };
        // The message id names the subset sent, so a retry of this very message is deduped.
        const id = kept === parts ? msgId : `${msgId}.${createHash('sha256').update(fates.join('')).digest('base64url').slice(0, 16)}`;
        let payload = payloads.get(id);
        if (payload === undefined) payloads.set(id, (payload = encodeParts(kept)));
        const offset = marker ? 0 : head.offset + kept.length;
        const epoch = head.seq === 0 ? newEpoch() : head.epoch;
        const nextSources = fence ? fence.next : head.seq === 0 ? undefined : head.sources;
        const h = buildHeaders(this.o.stream, id, head.seq, offset, epoch, Date.now(), kept, encodeSourcePositions(nextSources));
        const timeout = Math.max(10, Math.min(this.o.requestTimeoutMs, remaining));
        const reply = await this.env.conn().request(subject, payload, { headers: h, timeout });
        const ack = reply.json<PubAck>();
        if (ack.error === undefined && typeof ack.seq === 'number') {
          if (ack.duplicate === true) {
            this.heads.delete(channel);
            return { head: await this.reader.at(ack.seq), fates, appended: kept.length };
          }
          const next = { seq: ack.seq, offset, epoch, sources: nextSources };
          this.cacheHead(channel, next);
          return { head: next, fates, appended: kept.length };
        }
        this.heads.delete(channel);
        const code = ack.error?.err_code;
        if (code === ERR_WRONG_LAST_SEQ) continue; // another writer won this offset: re-read
        if (ack.error?.code === 503 || code === ERR_STREAM_NOT_FOUND) {
          transient = new Error(ack.error?.description ?? 'stream unavailable');
        } else {
          throw new BrokerError('internal', `JetStream refused the publication: ${ack.error?.description ?? 'no ack'}`);
        }
      } catch (err) {
        if (err instanceof BrokerError) throw err;
        // Timeouts, no responders (leader election, stream missing) and connection loss are
        // transient: retry with the same msgId until the deadline.
        transient = err;
        this.heads.delete(channel);
      }
      if (transient !== undefined) {
        if (attempt >= 2) this.env.ensureStreamSoon();
        const wait = Math.min(backoff, deadline - Date.now());
        if (wait <= 0) throw new BrokerError('unavailable', 'JetStream did not acknowledge the publication', { cause: transient });
        await sleep(wait);
        backoff = Math.min(backoff * 2, 500);
      }
    }
  }

  private cacheHead(channel: string, head: Head): void {
    if (this.heads.size >= MAX_CACHED_HEADS) this.heads.clear();
    this.heads.set(channel, head);
  }
}

/** Resolves a group's publications by their fates: appended ones get the offsets ending at the head's. */
function settleGroup(channel: string, group: readonly PendingPub[], fates: readonly SourceFate[], head: Head, appended: number): void {
  let offset = head.offset - appended;
  for (let i = 0; i < group.length; i++) {
    const p = group[i]!;
    const fate = fates[i];
    if (fate === FATE_APPEND) p.resolve({ offset: ++offset, epoch: head.epoch });
    else if (fate === FATE_DUPLICATE) p.resolve({ offset: head.offset, epoch: head.epoch, duplicate: true });
    else {
      const s = p.source!;
      p.reject(new BrokerError('conflict', `${s.id} at ${s.after ?? '?'} is not in ${channel}: publish it before ${s.seq}`));
    }
  }
}
