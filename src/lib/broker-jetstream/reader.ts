/**
 * Reads from the stream: a channel's head, one record, a range of records (walking back along
 * the per-message back pointers, or through a short-lived filtered consumer), and `history()`.
 * Reads go to the stream leader (STREAM.MSG.GET), the server that also republishes.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nuid } from '@nats-io/transport-node';
import { BrokerError, type HistoryOptions, type HistoryResult, type Publication } from '../core/broker.js';
import type { ResolvedJetStreamOptions } from './options.js';
import { headOf, readRecord, toPublications, type Head, type StoredRecord } from './records.js';
import { nanos } from './stream-admin.js';

export class StreamReader {
  constructor(
    private readonly o: ResolvedJetStreamOptions,
    private readonly jsm: () => JetStreamManager,
    private readonly js: () => JetStreamClient,
    private readonly storeSubject: (channel: string) => string,
  ) {}

  /**
   * The channel's last message, or seq 0 (epoch '') when it has none. Answered by the stream
   * leader: on one route our subscription's interest reaches it before this request does.
   */
  async head(channel: string): Promise<Head> {
    const m = await this.jsm().streams.getMessage(this.o.stream, { last_by_subj: this.storeSubject(channel) });
    if (m === null) return { seq: 0, offset: 0, epoch: '' };
    const r = readRecord(m.seq, m.header, m.data);
    if (r === null) throw new BrokerError('internal', `foreign message at seq ${m.seq} on ${m.subject}`);
    return headOf(r);
  }

  /** The head of the record stored at `seq` (a duplicate's original). */
  async at(seq: number): Promise<Head> {
    const m = await this.jsm().streams.getMessage(this.o.stream, { seq });
    const r = m === null ? null : readRecord(m.seq, m.header, m.data);
    if (r === null) throw new BrokerError('internal', `duplicate publication at seq ${seq} is no longer readable`);
    return headOf(r);
  }

  /**
   * Messages of the head's epoch holding publications with offset > after, oldest first, up
   * to the head (the first may also hold older ones: a group straddling `after`). Short ranges
   * walk back from the head along the per-message back pointers; long ones read the channel
   * through a short-lived filtered consumer.
   */
  async range(channel: string, head: Head, after: number): Promise<StoredRecord[]> {
    const need = head.offset - after;
    if (need <= 0) return [];
    if (need <= this.o.walkBackMax) {
      const out: StoredRecord[] = [];
      let seq = head.seq;
      let covered = 0;
      while (seq > 0 && covered < need) {
        const m = await this.jsm().streams.getMessage(this.o.stream, { seq });
        const r = m === null ? null : readRecord(m.seq, m.header, m.data);
        if (r === null || r.epoch !== head.epoch || r.offset <= after) break;
        out.push(r);
        covered += Math.min(r.count, r.offset - after);
        seq = r.prevSeq;
      }
      out.reverse();
      return out.filter((r) => r.offset > 0);
    }
    const recs = await this.channel(channel, head.seq);
    return recs.filter((r) => r.epoch === head.epoch && r.offset > after && r.offset > 0);
  }

  /** Every kept message of the channel up to stream sequence `upTo`, oldest first. */
  private async channel(channel: string, upTo: number): Promise<StoredRecord[]> {
    const jsm = this.jsm();
    const name = `odinws_h_${nuid.next()}`;
    await jsm.consumers.add(this.o.stream, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.storeSubject(channel),
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    const out: StoredRecord[] = [];
    try {
      const c = await this.js().consumers.get(this.o.stream, name);
      const it = await c.fetch({ max_messages: this.o.historySize + 1, expires: this.o.requestTimeoutMs });
      for await (const m of it) {
        const r = readRecord(m.seq, m.headers, m.data);
        if (r !== null) out.push(r);
        if (m.seq >= upTo || m.info.pending === 0) break;
      }
    } finally {
      jsm.consumers.delete(this.o.stream, name).catch(() => undefined);
    }
    return out;
  }

  /** `history()` once `head` is known (an empty channel has had its epoch marker written). */
  async history(channel: string, head: Head, opts: HistoryOptions): Promise<HistoryResult> {
    const position = { offset: head.offset, epoch: head.epoch };
    if (opts.limit <= 0) return { publications: [], position };
    const after = opts.since ? opts.since.offset : 0;
    if (head.offset <= after) return { publications: [], position };
    const recs = await this.range(channel, head, after);
    let pubs: Publication[] = recs.flatMap((r) => toPublications(channel, r, after));
    if (opts.reverse) pubs.reverse();
    if (pubs.length > opts.limit) pubs = pubs.slice(0, opts.limit);
    return { publications: pubs, position };
  }
}
