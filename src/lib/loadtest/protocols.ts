/**
 * What the load client speaks to each server: the Odin and Centrifugo JSON protocols of our
 * gateway (and of the naive baseline and Centrifugo itself), and NATS over WebSocket for
 * nats-server. Each adapter subscribes a connection to its channels and turns the server's
 * messages into deliveries, stream positions and latency samples. Only "tracked" connections
 * pay for parsing fields; the rest count deliveries from frame boundaries.
 */
import { ChannelPosition, type SequenceCounts } from './sequence.js';
import {
  KEY_MONO_US,
  KEY_OFFSET,
  KEY_SEQ,
  KEY_TIMESTAMP,
  KEY_TS,
  monoNowUs,
  numberAfter,
  readUint,
  startsWithAt,
  stringAt,
} from './scan.js';
import type { ProtocolName } from '../core/transport.js';
import type { WsClient } from './ws-client.js';
import type { LatencyHistogram } from '../histogram/histogram.js';
import { WsClose } from '../protocol/codes.js';
import { WS_PATH } from '../protocol/addresses.js';
import type { Rng } from '../core/rng.js';

/** What the load tester speaks: the gateway's client protocols, or NATS over WebSocket (a contender). */
export type LoadProtocol = ProtocolName | 'nats';

export const PROTOCOL_PATHS: Readonly<Record<LoadProtocol, string>> = {
  ...WS_PATH,
  nats: '/',
};

/** One connection's subscriptions and positions (kept across reconnects for recovery). */
export class Session {
  readonly positions = new Map<string, ChannelPosition>();
  /** A connection that reconnected asks for recovery from its positions. */
  hadSession = false;
  subscribed = false;
  /** Failed opens so far. */
  failedOpens = 0;
  /** Received at least one delivery. */
  heard = false;
  /** NATS: bytes of an incomplete protocol line carried to the next frame. */
  rest: Buffer | null = null;
  /** The server's suggested wait before reconnecting (Odin `disconnect` notice), ms; used once. */
  reconnectDelayMs: number | null = null;
  /** Centrifuge: subscribe command id → channel. */
  readonly pendingIds = new Map<number, string>();

  constructor(
    readonly index: number,
    readonly channels: readonly string[],
    readonly tracked: boolean,
  ) {
    for (const c of channels) this.positions.set(c, new ChannelPosition());
  }
}

/** Where adapters put what they measure (one per worker). */
export interface Sink {
  delivered: number;
  readonly latency: LatencyHistogram;
  readonly seq: SequenceCounts;
  recovered: number;
  notRecovered: number;
  readonly serverErrors: Record<string, number>;
  /** A connection's subscriptions were all acknowledged. */
  onSubscribed(s: Session): void;
  /** The worker's seeded PRNG, for jitter. */
  readonly rng: Rng;
}

export interface ProtocolAdapter {
  readonly name: LoadProtocol;
  readonly path: string;
  onOpen(c: WsClient, s: Session): void;
  onMessage(c: WsClient, s: Session, sink: Sink, buf: Buffer, start: number, end: number): void;
}

function countError(sink: Sink, code: number | string): void {
  const k = String(code);
  sink.serverErrors[k] = (sink.serverErrors[k] ?? 0) + 1;
}

/** Latency from the payload's monotonic µs stamp, else its wall-clock ms `timestamp`, else the envelope `ts`. */
function recordLatency(sink: Sink, buf: Buffer, start: number, end: number): void {
  const mono = numberAfter(buf, KEY_MONO_US, start, end);
  if (mono >= 0) {
    sink.latency.record(monoNowUs() - mono);
    return;
  }
  let ms = numberAfter(buf, KEY_TIMESTAMP, start, end);
  if (ms < 0) ms = numberAfter(buf, KEY_TS, start, end);
  if (ms >= 0) sink.latency.record((Date.now() - ms) * 1000);
}

function observe(s: Session, sink: Sink, channel: string, offset: number): void {
  if (offset < 0) return;
  const p = s.positions.get(channel);
  if (p) p.observe(offset, sink.seq);
}

// ---------------------------------------------------------------- Odin (and the naive baseline)

const ODIN_TYPE = Buffer.from('{"type":"');
const ODIN_CHANNEL_AFTER_TYPE = Buffer.from(',"channel":"');
const ODIN_ACK = Buffer.from('{"type":"subscription_ack"');
const ODIN_ERROR = Buffer.from('{"type":"error"');
const ODIN_DISCONNECT = Buffer.from('{"type":"disconnect"');
/** The Go gateway's envelope (`{"seq":n,"ts":ms,"type":…,"data":{…}}`): a publication without a channel field. */
const GO_ENVELOPE = Buffer.from('{"seq":');
const GO_ACK = Buffer.from('{"count":');
const SUBSCRIPTION_ACK = Buffer.from('"type":"subscription_ack"');

interface OdinAck {
  subscribed?: string[];
  positions?: Record<string, { offset?: number; epoch?: string; recovered?: boolean }>;
  errors?: { channel: string; code: number; temporary?: boolean; retry_after_ms?: number }[];
}

/** Without a server hint, a temporary refusal is retried after this much, plus up to as much again (jitter), ms. */
const RESUBSCRIBE_DEFAULT_MS = 1000;

/** The Odin subscribe command for `channels`, with their positions once the session had one. */
function odinSubscribe(s: Session, channels: readonly string[]): string {
  const data: Record<string, unknown> = { channels };
  if (s.hadSession) {
    const positions: Record<string, { offset: number; epoch: string }> = {};
    for (const ch of channels) {
      const p = s.positions.get(ch);
      if (p && p.epoch !== '' && p.last >= 0) positions[ch] = { offset: p.last, epoch: p.epoch };
    }
    data.positions = positions;
  }
  return JSON.stringify({ type: 'subscribe', data });
}

/**
 * A channel refused with a temporary error (a recovery queue or budget full) is asked for again
 * after the server's `retry_after_ms` (what an SDK does), on the same connection if still open.
 */
function retryLater(c: WsClient, s: Session, sink: Sink, channel: string, afterMs: number | undefined): void {
  const delay = afterMs ?? RESUBSCRIBE_DEFAULT_MS * (1 + sink.rng.next());
  setTimeout(() => c.sendText(odinSubscribe(s, [channel])), delay).unref();
}

/** A subscription ack (Odin; the Go gateway's has its fields in another order). */
function odinAck(c: WsClient, s: Session, sink: Sink, buf: Buffer, start: number, end: number): void {
  const ack = JSON.parse(buf.toString('utf8', start, end)) as OdinAck;
  for (const e of ack.errors ?? []) {
    countError(sink, e.code);
    if (e.temporary === true && s.channels.includes(e.channel)) retryLater(c, s, sink, e.channel, e.retry_after_ms);
  }
  for (const [ch, pos] of Object.entries(ack.positions ?? {})) {
    const p = s.positions.get(ch);
    if (!p) continue;
    if (pos.recovered === true) {
      sink.recovered++;
      p.epoch = pos.epoch ?? p.epoch;
    } else {
      if (pos.recovered === false) sink.notRecovered++;
      // Publications follow the position the server reports (naive server: none, accept the first).
      p.reset(pos.offset ?? -1, pos.epoch ?? '');
      if (pos.offset === undefined) p.last = -1;
    }
  }
  if (!s.subscribed) {
    s.subscribed = true;
    sink.onSubscribed(s);
  }
}

export const odinAdapter: ProtocolAdapter = {
  name: 'odin',
  path: PROTOCOL_PATHS.odin,
  onOpen(c, s) {
    c.sendText(odinSubscribe(s, s.channels));
  },
  onMessage(c, s, sink, buf, start, end) {
    if (startsWithAt(buf, start, GO_ENVELOPE)) {
      sink.delivered++;
      if (s.tracked) recordLatency(sink, buf, start, end);
      return;
    }
    if (startsWithAt(buf, start, GO_ACK)) {
      const at = buf.indexOf(SUBSCRIPTION_ACK, start);
      if (at > 0 && at < end) odinAck(c, s, sink, buf, start, end);
      return;
    }
    if (!startsWithAt(buf, start, ODIN_TYPE)) return;
    const q = buf.indexOf(0x22, start + ODIN_TYPE.length);
    if (q > 0 && q < end && startsWithAt(buf, q + 1, ODIN_CHANNEL_AFTER_TYPE)) {
      // A publication: {"type":"…","channel":"…","offset":n,…,"data":{…}} (no offset from the naive server).
      sink.delivered++;
      if (!s.tracked) return;
      const chStart = q + 1 + ODIN_CHANNEL_AFTER_TYPE.length;
      const channel = stringAt(buf, chStart, end);
      let offset = numberAfter(buf, KEY_OFFSET, chStart, end);
      if (offset < 0) offset = numberAfter(buf, KEY_SEQ, chStart, end);
      observe(s, sink, channel, offset);
      recordLatency(sink, buf, chStart, end);
      return;
    }
    if (startsWithAt(buf, start, ODIN_ACK)) {
      odinAck(c, s, sink, buf, start, end);
      return;
    }
    if (startsWithAt(buf, start, ODIN_ERROR) || startsWithAt(buf, start, ODIN_DISCONNECT)) {
      const m = JSON.parse(buf.toString('utf8', start, end)) as { code?: number; reconnect_delay_ms?: number };
      countError(sink, m.code ?? 'unknown');
      if (typeof m.reconnect_delay_ms === 'number') s.reconnectDelayMs = m.reconnect_delay_ms;
    }
  },
};

// ---------------------------------------------------------------- Centrifugo JSON

const CF_PUSH_CHANNEL = Buffer.from('{"push":{"channel":"');
const CF_PUB_AFTER_CHANNEL = Buffer.from(',"pub":');
const CF_REPLY = Buffer.from('{"id":');
const CONNECT_ID = 1;

interface CfReply {
  id: number;
  error?: { code: number; message: string; temporary?: boolean };
  connect?: unknown;
  subscribe?: {
    offset?: number;
    epoch?: string;
    recovered?: boolean;
    was_recovering?: boolean;
    publications?: { offset?: number; data?: { s?: number } }[];
  };
}

/** A Centrifugo subscribe command (with recovery once the session had one); its id is remembered. */
function centrifugeSubscribe(s: Session, id: number, ch: string): string {
  const sub: Record<string, unknown> = { channel: ch };
  const p = s.positions.get(ch)!;
  if (s.hadSession && p.epoch !== '' && p.last >= 0) Object.assign(sub, { recover: true, offset: p.last, epoch: p.epoch });
  s.pendingIds.set(id, ch);
  return JSON.stringify({ id, subscribe: sub });
}

function centrifugeLine(c: WsClient, s: Session, sink: Sink, buf: Buffer, start: number, end: number): void {
  if (end - start === 2 && buf[start] === 0x7b && buf[start + 1] === 0x7d) {
    c.sendText('{}');
    return;
  }
  if (startsWithAt(buf, start, CF_PUSH_CHANNEL)) {
    const chStart = start + CF_PUSH_CHANNEL.length;
    const q = buf.indexOf(0x22, chStart);
    if (q < 0 || q >= end || !startsWithAt(buf, q + 1, CF_PUB_AFTER_CHANNEL)) {
      if (buf.indexOf('"disconnect"', chStart) >= 0 && buf.indexOf('"disconnect"', chStart) < end) countError(sink, 'disconnect_push');
      return;
    }
    sink.delivered++;
    if (!s.tracked) return;
    const channel = buf.toString('latin1', chStart, q);
    let offset = numberAfter(buf, KEY_OFFSET, q, end);
    if (offset < 0) offset = numberAfter(buf, KEY_SEQ, q, end);
    observe(s, sink, channel, offset);
    recordLatency(sink, buf, q, end);
    return;
  }
  if (!startsWithAt(buf, start, CF_REPLY)) return;
  const r = JSON.parse(buf.toString('utf8', start, end)) as CfReply;
  if (r.error) {
    countError(sink, r.error.code);
    if (r.id === CONNECT_ID) c.close(WsClose.Normal);
    const ch = s.pendingIds.get(r.id);
    // A temporary refusal (a recovery queue or budget full): subscribe again later, as the SDKs do (full jitter).
    if (ch !== undefined && r.error.temporary === true) {
      setTimeout(() => c.sendText(centrifugeSubscribe(s, r.id, ch)), RESUBSCRIBE_DEFAULT_MS * (1 + sink.rng.next())).unref();
    }
    return;
  }
  if (r.id === CONNECT_ID) {
    const lines: string[] = [];
    let id = CONNECT_ID + 1;
    for (const ch of s.channels) lines.push(centrifugeSubscribe(s, id++, ch));
    c.sendText(lines.join('\n'));
    return;
  }
  const ch = s.pendingIds.get(r.id);
  if (ch === undefined || !r.subscribe) return;
  s.pendingIds.delete(r.id);
  const res = r.subscribe;
  const p = s.positions.get(ch)!;
  if (res.was_recovering === true) {
    if (res.recovered === true) sink.recovered++;
    else sink.notRecovered++;
  }
  if (res.recovered !== true) {
    // Centrifugo omits zero values; no offset and no epoch means the channel keeps no history.
    if (res.epoch === undefined) p.reset(-1, '');
    else p.reset(res.offset ?? 0, res.epoch);
  }
  for (const pub of res.publications ?? []) {
    sink.delivered++;
    if (s.tracked) p.observe(pub.offset ?? pub.data?.s ?? -1, sink.seq);
  }
  if (s.pendingIds.size === 0 && !s.subscribed) {
    s.subscribed = true;
    sink.onSubscribed(s);
  }
}

export const centrifugeAdapter: ProtocolAdapter = {
  name: 'centrifuge',
  path: PROTOCOL_PATHS.centrifuge,
  onOpen(c, s) {
    s.pendingIds.clear();
    c.sendText(JSON.stringify({ id: CONNECT_ID, connect: {} }));
  },
  onMessage(c, s, sink, buf, start, end) {
    let a = start;
    while (a < end) {
      let b = buf.indexOf(0x0a, a);
      if (b < 0 || b > end) b = end;
      if (b > a) centrifugeLine(c, s, sink, buf, a, b);
      a = b + 1;
    }
  },
};

// ---------------------------------------------------------------- NATS over WebSocket

const CRLF = Buffer.from('\r\n');
const NATS_MSG = Buffer.from('MSG ');
const NATS_PING = Buffer.from('PING');
const NATS_PONG = Buffer.from('PONG');
const NATS_ERR = Buffer.from('-ERR');

/** Parses NATS server protocol in buf[start..end); returns where an incomplete item starts (or end). */
export function parseNats(c: WsClient, s: Session, sink: Sink, buf: Buffer, start: number, end: number): number {
  let pos = start;
  while (pos < end) {
    const eol = buf.indexOf(CRLF, pos);
    if (eol < 0 || eol + 2 > end) return pos;
    if (startsWithAt(buf, pos, NATS_MSG)) {
      // MSG <subject> <sid> [reply-to] <#bytes>
      let sp = eol - 1;
      while (sp > pos && buf[sp] !== 0x20) sp--;
      const size = readUint(buf, sp + 1, eol);
      const payloadStart = eol + 2;
      const payloadEnd = payloadStart + size;
      if (size < 0) throw new Error('bad MSG line');
      if (payloadEnd + 2 > end) return pos;
      sink.delivered++;
      if (s.tracked) {
        const subjEnd = buf.indexOf(0x20, pos + 4);
        const channel = buf.toString('latin1', pos + 4, subjEnd);
        observe(s, sink, channel, numberAfter(buf, KEY_SEQ, payloadStart, payloadEnd));
        recordLatency(sink, buf, payloadStart, payloadEnd);
      }
      pos = payloadEnd + 2;
      continue;
    }
    if (startsWithAt(buf, pos, NATS_PING)) c.sendBinary(Buffer.from('PONG\r\n'));
    else if (startsWithAt(buf, pos, NATS_PONG)) {
      if (!s.subscribed) {
        s.subscribed = true;
        sink.onSubscribed(s);
      }
    } else if (startsWithAt(buf, pos, NATS_ERR)) countError(sink, buf.toString('latin1', pos + 5, Math.min(eol, pos + 60)));
    pos = eol + 2;
  }
  return pos;
}

export const natsAdapter: ProtocolAdapter = {
  name: 'nats',
  path: PROTOCOL_PATHS.nats,
  onOpen(c, s) {
    s.rest = null;
    let text = 'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n';
    s.channels.forEach((ch, i) => (text += `SUB ${ch} ${i + 1}\r\n`));
    c.sendBinary(Buffer.from(text + 'PING\r\n'));
  },
  onMessage(c, s, sink, buf, start, end) {
    let b = buf;
    let a = start;
    let e = end;
    if (s.rest !== null) {
      b = Buffer.concat([s.rest, buf.subarray(start, end)]);
      a = 0;
      e = b.length;
      s.rest = null;
    }
    const stop = parseNats(c, s, sink, b, a, e);
    if (stop < e) s.rest = Buffer.from(b.subarray(stop, e));
  },
};

export function adapterFor(p: LoadProtocol): ProtocolAdapter {
  return p === 'odin' ? odinAdapter : p === 'centrifuge' ? centrifugeAdapter : natsAdapter;
}
