/**
 * Stream administration: the one stream that holds every channel (created, or brought to the
 * options' limits at start; re-created at most once a second after it was deleted — a new
 * stream means new epochs).
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { ResolvedJetStreamOptions } from './options.js';
import { ERR_STREAM_NOT_FOUND, errCode, sleep, toBrokerError } from './errors.js';

export function nanos(ms: number): number {
  return ms * 1_000_000;
}

export function streamConfig(o: ResolvedJetStreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: o.stream,
    subjects: [`${o.pubPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: o.replicas,
    max_msgs_per_subject: o.historySize,
    max_age: nanos(o.historyTtlMs),
    max_msgs: o.maxMessages,
    max_bytes: o.maxBytes,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(o.duplicateWindowMs),
    allow_direct: true,
    republish: { src: `${o.pubPrefix}.>`, dest: `${o.livePrefix}.>` },
  };
}

export class StreamAdmin {
  private lastEnsure = 0;

  constructor(
    private readonly o: ResolvedJetStreamOptions,
    private readonly jsm: () => JetStreamManager,
    private readonly isClosed: () => boolean,
  ) {}

  /** Creates the stream, or brings an existing one's limits to the options. */
  async ensure(): Promise<void> {
    const jsm = this.jsm();
    const cfg = streamConfig(this.o);
    try {
      const info = await jsm.streams.info(this.o.stream);
      if (!this.o.updateStream) return;
      const cur = info.config;
      const same =
        cur.max_msgs_per_subject === cfg.max_msgs_per_subject &&
        cur.max_age === cfg.max_age &&
        cur.max_msgs === cfg.max_msgs &&
        cur.max_bytes === cfg.max_bytes &&
        cur.duplicate_window === cfg.duplicate_window &&
        cur.republish?.dest === cfg.republish?.dest;
      if (!same) await jsm.streams.update(this.o.stream, { ...cur, ...cfg });
    } catch (err) {
      if (errCode(err) !== ERR_STREAM_NOT_FOUND) throw err;
      await jsm.streams.add(cfg);
    }
  }

  /** `ensure()`, retried until `ms` have passed (a cluster may still be electing). */
  async ensureWithin(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (let wait = 100; ; wait = Math.min(wait * 2, 1_000)) {
      try {
        await this.ensure();
        this.lastEnsure = Date.now();
        return;
      } catch (err) {
        if (Date.now() + wait > deadline) throw toBrokerError(err, 'create stream', this.isClosed());
        await sleep(wait);
      }
    }
  }

  /** Re-creates a deleted stream (at most once a second). */
  async ensureSoon(): Promise<void> {
    const now = Date.now();
    if (now - this.lastEnsure < 1_000 || this.isClosed()) return;
    this.lastEnsure = now;
    await this.ensure().catch(() => undefined);
  }

  /** Drops one channel's messages. */
  async purgeSubject(subject: string): Promise<void> {
    await this.jsm().streams.purge(this.o.stream, { filter: subject });
  }
}
