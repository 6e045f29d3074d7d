/**
 * Ordered appends: one message at the channel's next offset, made conditional on the
 * channel's previous stream sequence (`Nats-Expected-Last-Subject-Sequence`), so writers on
 * any number of nodes agree on offsets 1, 2, 3... (see the broker's doc comment).
 */
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { BrokerError, type PublishOptions } from '../core/broker.js';
import type { ResolvedJetStreamOptions } from './options.js';
import { buildHeaders, newEpoch, type Head } from './records.js';
import type { StreamReader } from './reader.js';
import { ERR_STREAM_NOT_FOUND, ERR_WRONG_LAST_SEQ, sleep, unreachable } from './errors.js';

const EMPTY = new Uint8Array(0);
/** Publish heads cached per process; beyond this the cache is cleared (reads refill it). */
const MAX_CACHED_HEADS = 100_000;

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

export class Appender {
  private readonly heads = new Map<string, Head>();
  private readonly chains = new Map<string, Promise<unknown>>();

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

  /** Runs `fn` after the channel's earlier appends from this process (no self-conflicts). */
  serialized<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(channel) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(channel, tail);
    void tail.then(() => {
      if (this.chains.get(channel) === tail) this.chains.delete(channel);
    });
    return run;
  }

  /** Appends one publication (queued behind the channel's earlier appends from this process). */
  publish(channel: string, subject: string, payload: Uint8Array, msgId: string, opts: PublishOptions | undefined): Promise<Head> {
    const deadline = Date.now() + this.o.publishTimeoutMs;
    return this.serialized(channel, () => this.append(channel, subject, payload, msgId, opts, false, deadline));
  }

  /** Writes an epoch marker (offset 0) into an empty channel so its epoch exists before any publication. */
  writeMarker(channel: string, subject: string): Promise<Head> {
    const deadline = Date.now() + this.o.publishTimeoutMs;
    return this.serialized(channel, () => this.append(channel, subject, EMPTY, 'm' + nuid.next(), undefined, true, deadline));
  }

  /**
   * Appends one message at the channel's next offset (compare-and-set on the channel's last
   * stream sequence), retrying on conflicts and on transient unavailability until `deadline`.
   * The same msgId is used on every attempt, so an attempt that was stored but whose ack was
   * lost is recognised by JetStream's dedup and never stored twice.
   */
  private async append(
    channel: string,
    subject: string,
    payload: Uint8Array,
    msgId: string,
    opts: PublishOptions | undefined,
    marker: boolean,
    deadline: number,
  ): Promise<Head> {
    let backoff = 25;
    for (let attempt = 0; ; attempt++) {
      this.env.checkOpen();
      if (!this.env.connected()) throw unreachable();
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new BrokerError('unavailable', `publish not acknowledged within ${this.o.publishTimeoutMs} ms`);
      let transient: unknown;
      try {
        const head = this.heads.get(channel) ?? (await this.reader.head(channel));
        if (marker && head.seq !== 0) return head; // someone wrote first: use their epoch
        const offset = marker ? 0 : head.offset + 1;
        const epoch = head.seq === 0 ? newEpoch() : head.epoch;
        const h = buildHeaders(this.o.stream, msgId, head.seq, offset, epoch, Date.now(), opts);
        const timeout = Math.max(10, Math.min(this.o.requestTimeoutMs, remaining));
        const reply = await this.env.conn().request(subject, payload, { headers: h, timeout });
        const ack = reply.json<PubAck>();
        if (ack.error === undefined && typeof ack.seq === 'number') {
          if (ack.duplicate === true) {
            this.heads.delete(channel);
            return await this.reader.at(ack.seq);
          }
          const next = { seq: ack.seq, offset, epoch };
          this.cacheHead(channel, next);
          return next;
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
