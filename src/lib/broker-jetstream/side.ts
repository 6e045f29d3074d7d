/**
 * Side messages: what nodes send each other on a channel's live subject
 * (`<prefix>.live.<channel>`, the subject the stream republishes to) with core NATS, outside
 * the stream — live-only publications (`skip_history`) and join/leave events. They reach
 * exactly the nodes that hold the channel, through the subscription they already have, and are
 * never stored, numbered or recovered. A side message carries `Odin-Side`; republished stream
 * messages never do, so the two cannot be confused.
 */
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { ClientInfo, Publication, PublishOptions } from '../core/broker.js';
import { H_META, H_TIME, metaOf } from './records.js';

/** `pub` (live-only publication), `join` or `leave`. */
export const H_SIDE = 'Odin-Side';

export type SideKind = 'pub' | 'join' | 'leave';

export function pubSideHeaders(opts: PublishOptions | undefined, now: number): MsgHdrs {
  const h = headers();
  h.set(H_SIDE, 'pub');
  h.set(H_TIME, String(now));
  const meta = metaOf(opts);
  if (meta !== undefined) h.set(H_META, meta);
  return h;
}

export function joinLeaveHeaders(kind: 'join' | 'leave'): MsgHdrs {
  const h = headers();
  h.set(H_SIDE, kind);
  return h;
}

const decoder = new TextDecoder();
const isStr = (v: unknown): v is string => typeof v === 'string';

/** A live-only publication, offset 0, in the channel's current epoch. */
export function sidePublication(channel: string, epoch: string, h: MsgHdrs, data: Uint8Array): Publication {
  const t = Number(h.get(H_TIME));
  const base = { channel, offset: 0, epoch, data: decoder.decode(data), time: Number.isFinite(t) && t > 0 ? t : Date.now() };
  const metaText = h.get(H_META);
  if (metaText === '') return base;
  try {
    const meta = JSON.parse(metaText) as { tags?: Record<string, string>; info?: ClientInfo };
    return { ...base, ...(meta.tags ? { tags: meta.tags } : {}), ...(meta.info ? { info: meta.info } : {}) };
  } catch {
    return base;
  }
}

/** A join/leave's client info, or null when malformed. */
export function sideClientInfo(data: Uint8Array): ClientInfo | null {
  try {
    const v = JSON.parse(decoder.decode(data)) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { client, user } = v as Record<string, unknown>;
    return isStr(client) && isStr(user) ? { client, user } : null;
  } catch {
    return null;
  }
}
