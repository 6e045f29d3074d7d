/**
 * A lease in JetStream: which one of several gateway processes reads the NATS feed.
 *
 * Why not a queue group: NATS spreads a queue group's messages over its members, so two
 * consecutive trades of one channel would be appended by two processes racing each other and
 * could be stored out of order. With a lease, one process reads the whole feed (work per
 * message is not multiplied, order is the feed's), and another takes over when it stops.
 *
 * The lease is the only message of a subject in a small memory stream with `max_age` = ttl and
 * one message per subject. Taking it is an append conditional on the subject being empty
 * (`Nats-Expected-Last-Subject-Sequence: 0`); renewing is an append conditional on our own last
 * sequence, every ttl/3. A holder that cannot renew within 2/3 of the ttl considers itself
 * lost before anyone else can take the lease (so at most one reader, barring clock stalls
 * longer than ttl/3); `release()` deletes it so a successor takes over within ttl/3. Messages
 * published while nobody holds the lease (a crashed holder: up to ttl + ttl/3) are not read:
 * core NATS keeps nothing for absent subscribers.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';

export const DEFAULT_LEASE_TTL_MS = 3_000;
const ERR_STREAM_NOT_FOUND = 10059;

export interface LeaseOptions {
  readonly stream?: string;
  /** The lease's subject (one per feed). */
  readonly subject: string;
  readonly ttlMs?: number;
  /** Called when this process gains (true) or loses (false) the lease. */
  readonly onChange: (held: boolean) => void;
}

interface PubAck {
  seq?: number;
  error?: { code: number; err_code?: number; description?: string };
}

export class Lease {
  private readonly ttlMs: number;
  private readonly stream: string;
  private seq = 0;
  private heldSince = 0;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: LeaseOptions,
  ) {
    this.ttlMs = o.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.stream = o.stream ?? 'ODIN_WS_LEASES';
  }

  /** Held, and renewed recently enough that nobody else can hold it. */
  held(now = Date.now()): boolean {
    return this.seq !== 0 && now - this.lastRenew < (this.ttlMs * 2) / 3;
  }

  /** Creates the lease stream if needed and makes a first attempt (a lone process holds it at once). */
  async start(): Promise<void> {
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    const ttlNs = this.ttlMs * 1_000_000;
    try {
      await jsm.streams.info(this.stream);
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== ERR_STREAM_NOT_FOUND) throw err;
      await jsm.streams
        .add({
          name: this.stream,
          subjects: [`${this.o.subject.split('.')[0]}.lease.>`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.Memory,
          max_msgs_per_subject: 1,
          max_age: ttlNs,
          duplicate_window: ttlNs,
          discard: DiscardPolicy.Old,
        })
        .catch(async (e: unknown) => {
          // Another process created it first.
          await jsm.streams.info(this.stream).catch(() => {
            throw e;
          });
        });
    }
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick());
    }, this.ttlMs / 3);
    this.timer.unref();
  }

  /** Stops renewing and deletes the lease if held, so a successor takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    if (this.seq !== 0) {
      const seq = this.seq;
      this.lose();
      const jsm = await jetstreamManager(this.nc, { checkAPI: false }).catch(() => null);
      await jsm?.streams.deleteMessage(this.stream, seq, false).catch(() => undefined);
    }
  }

  private lose(): void {
    if (this.seq === 0) return;
    this.seq = 0;
    this.o.onChange(false);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.seq !== 0 && !this.held()) this.lose(); // could not renew in time
    const h = headers();
    h.set('Nats-Expected-Last-Subject-Sequence', String(this.seq));
    const sent = Date.now();
    let ack: PubAck;
    try {
      const m = await this.nc.request(this.o.subject, new Uint8Array(0), { headers: h, timeout: Math.max(100, this.ttlMs / 3) });
      ack = m.json<PubAck>();
    } catch {
      return; // unknown outcome: the next tick tells (a lost renewal is a lost lease)
    }
    if (this.stopped) return;
    if (ack.error === undefined && typeof ack.seq === 'number') {
      const had = this.seq !== 0;
      this.seq = ack.seq;
      this.lastRenew = sent;
      if (!had) {
        this.heldSince = sent;
        this.o.onChange(true);
      }
    } else if (this.seq !== 0) {
      this.lose(); // someone else holds it now
    }
  }

  /** When this process took the lease (0 when not held). */
  get since(): number {
    return this.seq === 0 ? 0 : this.heldSince;
  }
}
