/**
 * How publications are laid out in a JetStream message, and how they are read back. The same
 * layout is read from live (republished) messages and from stored ones, so delivery and
 * history can never disagree (Broker guarantee 4).
 *
 * One message holds a group of `Odin-Count` publications (group commit, default 1) with the
 * consecutive offsets `Odin-Offset - count + 1 .. Odin-Offset`. A group of one is headers + the
 * raw JSON payload (the layout before groups existed, still read as is); a larger group's
 * payload is its publications framed as [u32 data length][data][u32 meta length][meta].
 */
import { randomBytes } from 'node:crypto';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { ClientInfo, Publication, PublishOptions } from '../core/broker.js';
import { decodeSourcePositions, type SourcePositions } from '../core/source-fence.js';

/** The channel offset of this message, decimal; 0 marks an epoch marker (no publication). */
export const H_OFFSET = 'Odin-Offset';
/** The epoch (run of the channel) this offset belongs to. */
export const H_EPOCH = 'Odin-Epoch';
/** Acceptance time, ms since the Unix epoch, decimal. */
export const H_TIME = 'Odin-Time';
/** JSON `{tags?, info?}`, present only when the publication has tags or client info. */
export const H_META = 'Odin-Meta';
/** Publications in the message (absent: 1). */
export const H_COUNT = 'Odin-Count';
/**
 * The channel's source positions after this message (Broker guarantee 6), carried forward by
 * every append so the channel's last message always holds them; absent: none.
 */
export const H_SOURCES = 'Odin-Sources';
/** Set by us on every append: the stream sequence of the channel's previous message. */
export const H_EXPECTED_LAST_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';
export const H_MSG_ID = 'Nats-Msg-Id';
export const H_EXPECTED_STREAM = 'Nats-Expected-Stream';

/** A channel message as stored: its place in the stream and in the channel. */
export interface StoredRecord {
  readonly seq: number;
  /** Stream sequence of the previous message of the same channel (0: none). */
  readonly prevSeq: number;
  /** The offset of the message's last publication (0: an epoch marker). */
  readonly offset: number;
  /** Publications in the message: offsets `offset - count + 1 .. offset`. */
  readonly count: number;
  readonly epoch: string;
  readonly time: number;
  readonly data: Uint8Array;
  readonly meta: string | undefined;
  /** The {@link H_SOURCES} header as stored (decoded only where a head is needed). */
  readonly sources?: string | undefined;
}

/** The top of a channel: its last message. `seq` 0 means the channel holds no message. */
export interface Head {
  readonly seq: number;
  readonly offset: number;
  readonly epoch: string;
  /** Its source positions (guarantee 6). */
  readonly sources?: SourcePositions | undefined;
}

export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

/** One publication to append: its payload and its `{tags, info}` JSON, if any. */
export interface Part {
  readonly data: Uint8Array;
  readonly meta: string | undefined;
}

const encoder = new TextEncoder();

export function metaOf(opts: PublishOptions | undefined): string | undefined {
  return opts && (opts.tags !== undefined || opts.info !== undefined) ? JSON.stringify({ tags: opts.tags, info: opts.info }) : undefined;
}

/** The message payload of a group (see the file comment). */
export function encodeParts(parts: readonly Part[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.data;
  const metas = parts.map((p) => (p.meta === undefined ? undefined : encoder.encode(p.meta)));
  let size = 0;
  for (let i = 0; i < parts.length; i++) size += 8 + parts[i]!.data.length + (metas[i]?.length ?? 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const d = parts[i]!.data;
    view.setUint32(at, d.length);
    out.set(d, at + 4);
    at += 4 + d.length;
    const m = metas[i];
    view.setUint32(at, m?.length ?? 0);
    if (m) out.set(m, at + 4);
    at += 4 + (m?.length ?? 0);
  }
  return out;
}

export function buildHeaders(
  stream: string,
  msgId: string,
  prevSeq: number,
  offset: number,
  epoch: string,
  time: number,
  parts: readonly Part[],
  sources?: string,
): MsgHdrs {
  const h = headers();
  h.set(H_MSG_ID, msgId);
  h.set(H_EXPECTED_STREAM, stream);
  h.set(H_EXPECTED_LAST_SUBJECT_SEQ, String(prevSeq));
  h.set(H_OFFSET, String(offset));
  h.set(H_EPOCH, epoch);
  h.set(H_TIME, String(time));
  if (parts.length > 1) h.set(H_COUNT, String(parts.length));
  else if (parts[0]?.meta !== undefined) h.set(H_META, parts[0].meta);
  if (sources !== undefined) h.set(H_SOURCES, sources);
  return h;
}

/** The head a stored message makes. */
export function headOf(r: StoredRecord): Head {
  return { seq: r.seq, offset: r.offset, epoch: r.epoch, sources: decodeSourcePositions(r.sources) };
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
  const count = h.get(H_COUNT) === '' ? 1 : num(h, H_COUNT);
  if (Number.isNaN(count) || count < 1 || count > offset + 1) return null;
  const meta = h.get(H_META);
  return {
    seq,
    prevSeq: Number.isNaN(prevSeq) ? 0 : prevSeq,
    offset,
    count,
    epoch,
    time,
    data,
    meta: meta === '' ? undefined : meta,
    sources: h.get(H_SOURCES) || undefined,
  };
}

const decoder = new TextDecoder();

interface Meta {
  tags?: Record<string, string>;
  info?: ClientInfo;
}

function publication(channel: string, r: StoredRecord, offset: number, data: Uint8Array, metaText: string | undefined): Publication {
  const base = { channel, offset, epoch: r.epoch, data: decoder.decode(data), time: r.time };
  if (metaText === undefined) return base;
  let meta: Meta;
  try {
    meta = JSON.parse(metaText) as Meta;
  } catch {
    return base;
  }
  return {
    ...base,
    ...(meta.tags ? { tags: meta.tags } : {}),
    ...(meta.info ? { info: meta.info } : {}),
  };
}

/** The message's publications with offset > `after`, oldest first (none for a marker). */
export function toPublications(channel: string, r: StoredRecord, after = 0): Publication[] {
  if (r.offset <= after || r.offset <= 0) return [];
  if (r.count === 1) return [publication(channel, r, r.offset, r.data, r.meta)];
  const out: Publication[] = [];
  const view = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  let at = 0;
  for (let offset = r.offset - r.count + 1; offset <= r.offset; offset++) {
    if (at + 4 > r.data.length) break; // truncated by a foreign writer: deliver what is whole
    const dl = view.getUint32(at);
    const data = r.data.subarray(at + 4, at + 4 + dl);
    at += 4 + dl;
    if (at + 4 > r.data.length) break;
    const ml = view.getUint32(at);
    const meta = ml === 0 ? undefined : decoder.decode(r.data.subarray(at + 4, at + 4 + ml));
    at += 4 + ml;
    if (offset > after) out.push(publication(channel, r, offset, data, meta));
  }
  return out;
}
