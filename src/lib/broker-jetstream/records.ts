/**
 * How one publication is laid out in a JetStream message (headers + raw JSON payload), and
 * how it is read back. The same layout is read from live (republished) messages and from
 * stored ones, so delivery and history can never disagree (Broker guarantee 4).
 */
import { randomBytes } from 'node:crypto';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { ClientInfo, Publication, PublishOptions } from '../core/broker.js';

/** The channel offset of this message, decimal; 0 marks an epoch marker (no publication). */
export const H_OFFSET = 'Odin-Offset';
/** The epoch (run of the channel) this offset belongs to. */
export const H_EPOCH = 'Odin-Epoch';
/** Acceptance time, ms since the Unix epoch, decimal. */
export const H_TIME = 'Odin-Time';
/** JSON `{tags?, info?}`, present only when the publication has tags or client info. */
export const H_META = 'Odin-Meta';
/** Set by us on every append: the stream sequence of the channel's previous message. */
export const H_EXPECTED_LAST_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';
export const H_MSG_ID = 'Nats-Msg-Id';
export const H_EXPECTED_STREAM = 'Nats-Expected-Stream';

/** A channel message as stored: its place in the stream and in the channel. */
export interface StoredRecord {
  readonly seq: number;
  /** Stream sequence of the previous message of the same channel (0: none). */
  readonly prevSeq: number;
  readonly offset: number;
  readonly epoch: string;
  readonly time: number;
  readonly data: Uint8Array;
  readonly meta: string | undefined;
}

/** The top of a channel: its last message. `seq` 0 means the channel holds no message. */
export interface Head {
  readonly seq: number;
  readonly offset: number;
  readonly epoch: string;
}

export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

export function buildHeaders(
  stream: string,
  msgId: string,
  prevSeq: number,
  offset: number,
  epoch: string,
  time: number,
  opts: PublishOptions | undefined,
): MsgHdrs {
  const h = headers();
  h.set(H_MSG_ID, msgId);
  h.set(H_EXPECTED_STREAM, stream);
  h.set(H_EXPECTED_LAST_SUBJECT_SEQ, String(prevSeq));
  h.set(H_OFFSET, String(offset));
  h.set(H_EPOCH, epoch);
  h.set(H_TIME, String(time));
  if (opts && (opts.tags !== undefined || opts.info !== undefined)) {
    h.set(H_META, JSON.stringify({ tags: opts.tags, info: opts.info }));
  }
  return h;
}

function num(h: MsgHdrs, key: string): number {
  const v = h.get(key);
  const n = v === '' ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : NaN;
}

/** Reads our headers; null when the message is not one of ours (foreign writer on the subject). */
export function readRecord(seq: number, h: MsgHdrs | undefined, data: Uint8Array): StoredRecord | null {
  if (!h) return null;
  const offset = num(h, H_OFFSET);
  const epoch = h.get(H_EPOCH);
  const time = num(h, H_TIME);
  const prevSeq = num(h, H_EXPECTED_LAST_SUBJECT_SEQ);
  if (Number.isNaN(offset) || epoch === '' || Number.isNaN(time)) return null;
  const meta = h.get(H_META);
  return {
    seq,
    prevSeq: Number.isNaN(prevSeq) ? 0 : prevSeq,
    offset,
    epoch,
    time,
    data,
    meta: meta === '' ? undefined : meta,
  };
}

const decoder = new TextDecoder();

interface Meta {
  tags?: Record<string, string>;
  info?: ClientInfo;
}

export function toPublication(channel: string, r: StoredRecord): Publication {
  const base = { channel, offset: r.offset, epoch: r.epoch, data: decoder.decode(r.data), time: r.time };
  if (r.meta === undefined) return base;
  let meta: Meta;
  try {
    meta = JSON.parse(r.meta) as Meta;
  } catch {
    return base;
  }
  return {
    ...base,
    ...(meta.tags ? { tags: meta.tags } : {}),
    ...(meta.info ? { info: meta.info } : {}),
  };
}
