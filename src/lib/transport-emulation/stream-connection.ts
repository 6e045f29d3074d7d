/**
 * One emulated connection: a streaming HTTP response (HTTP-streaming or SSE) seen by core as a
 * `TransportConnection`. Frames come from the WebSocket transport's `prepare` (a publication is
 * encoded and framed once for everyone); this connection writes the payload each one carries
 * (`payloadOf`, a view) in its own framing, all frames of a flush in one chunk.
 *
 * There is no close code on an HTTP response, so `close(code, reason)` writes Centrifugo's
 * disconnect push first (what its SDKs read as the close code), then ends the response.
 */
import type { ConnectionHandler, HttpStreamSink, PreparedFrame, TransportConnection } from '../core/transport.js';
import { JSON_CODEC, UNI_JSON_CODEC } from '../protocol/centrifuge-codec.js';
import { protobufWire } from '../protocol/centrifuge-protobuf-load.js';
import { Disconnect, shouldReconnect } from '../protocol/codes.js';

/** How a message travels on the stream. */
export const FRAMING_NDJSON = 0; // http_stream, JSON: one reply a line
export const FRAMING_PROTOBUF = 1; // http_stream, protobuf: varint-delimited Replies as they are
export const FRAMING_SSE = 2; // sse (JSON only): `data: <reply>\n\n`
/** uni_sse: `data: <push>\n\n`, with `id: <positions>` on the connect push and on publications (Last-Event-ID). */
export const FRAMING_UNI_SSE = 3;
/** uni_http_stream: one push a line (as FRAMING_NDJSON, bare pushes). */
export const FRAMING_UNI_NDJSON = 4;
export type Framing =
  typeof FRAMING_NDJSON | typeof FRAMING_PROTOBUF | typeof FRAMING_SSE | typeof FRAMING_UNI_SSE | typeof FRAMING_UNI_NDJSON;

/** A stream position as a uni_sse event id carries it, per channel: [offset, epoch]. */
export type EventPositions = Record<string, [number, string]>;
/** Longest event id written, bytes; past it (very many channels) events go without one. */
export const MAX_EVENT_ID_BYTES = 4096;
/** What a uni_sse connection needs to know of a frame: the publication it carries, if any. */
export type FramePublication = (
  frame: PreparedFrame,
) => { readonly channel: string; readonly offset: number; readonly epoch: string } | undefined;

/** The close code core sees when the peer goes away (as a WebSocket without a close frame). */
export const CLOSE_ABNORMAL = 1006;

const NL = Buffer.from('\n');
const SSE_DATA = Buffer.from('data: ');
const SSE_ID = Buffer.from('id: ');
const CONNECT_PUSH = Buffer.from('{"connect":');
const SSE_END = Buffer.from('\n\n');
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

/**
 * A JSON reply safe to put on one line: a raw CR or LF in valid JSON can only be whitespace
 * (strings escape them), so each becomes a space. Copies only when there is one (a publication
 * whose payload was sent pretty-printed); otherwise returns the view itself.
 */
export function oneLine(p: Uint8Array): Uint8Array {
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (b.indexOf(LF) < 0 && b.indexOf(CR) < 0) return p;
  const copy = Buffer.from(b);
  for (let i = 0; i < copy.length; i++) if (copy[i] === LF || copy[i] === CR) copy[i] = SPACE;
  return copy;
}

export class StreamConnection implements TransportConnection {
  handler: ConnectionHandler | null = null;
  private closed = false;
  private closeCode = CLOSE_ABNORMAL;

  /** uni_sse: each subscribed channel's position after the last event written (the event ids). */
  private readonly positions: EventPositions = {};

  constructor(
    private readonly sink: HttpStreamSink,
    private readonly framing: Framing,
    private readonly payloadOf: (frame: PreparedFrame) => Uint8Array,
    /** Called once when the stream is over (the session is forgotten). */
    private readonly onGone: () => void,
    /** uni_sse: which publication a frame carries (core's hub knows). */
    private readonly publicationOf?: FramePublication,
  ) {
    sink.onClose(() => this.gone());
  }

  write(frames: readonly PreparedFrame[]): void {
    if (this.closed) return;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const p = this.payloadOf(f);
      if (this.framing === FRAMING_UNI_SSE) this.eventId(f, p, parts);
      this.frame(p, parts);
    }
    this.sink.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  private frame(p: Uint8Array, parts: Uint8Array[]): void {
    if (this.framing === FRAMING_PROTOBUF) parts.push(p);
    else if (this.framing === FRAMING_NDJSON || this.framing === FRAMING_UNI_NDJSON) parts.push(oneLine(p), NL);
    else parts.push(SSE_DATA, oneLine(p), SSE_END);
  }

  /**
   * uni_sse: an `id:` line before the connect push and each publication: every channel's
   * position so far, as JSON, which the browser's EventSource sends back as `Last-Event-ID`
   * when it reconnects (and curl users may send themselves): the stream resumes from there.
   */
  private eventId(frame: PreparedFrame, payload: Uint8Array, parts: Uint8Array[]): void {
    const pub = this.publicationOf?.(frame);
    if (pub !== undefined) this.positions[pub.channel] = [pub.offset, pub.epoch];
    else if (!this.connectSeen(payload)) return;
    const id = Buffer.from(JSON.stringify(this.positions));
    if (id.length <= MAX_EVENT_ID_BYTES) parts.push(SSE_ID, id, NL);
  }

  /** The connect push (once): its subscriptions' positions start the map. */
  private connectSeen(payload: Uint8Array): boolean {
    if (this.connected) return false;
    const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (!b.subarray(0, CONNECT_PUSH.length).equals(CONNECT_PUSH)) return false;
    this.connected = true;
    try {
      const subs = (JSON.parse(b.toString('utf8')) as { connect?: { subs?: Record<string, { offset?: number; epoch?: string }> } }).connect
        ?.subs;
      for (const [ch, r] of Object.entries(subs ?? {})) {
        // Zero values are left out of a subscribe result (offset 0): a recoverable one has its epoch.
        if (typeof r.epoch === 'string') this.positions[ch] = [typeof r.offset === 'number' ? r.offset : 0, r.epoch];
      }
    } catch {
      // Our own encoder made it; nothing to resume from otherwise.
    }
    return true;
  }

  private connected = false;

  /** The session speaks protobuf (its frames are binary). */
  get protobuf(): boolean {
    return this.framing === FRAMING_PROTOBUF;
  }

  /** Commands for this connection (its first body, or an emulation request), as a socket frame. */
  deliver(data: Buffer): void {
    if (this.closed || this.handler === null) return;
    try {
      this.handler.onMessage(data, this.protobuf);
    } catch (err) {
      // A bug in handling one client's message must not take the process down with everyone.
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'OdinWsHandlerError');
      this.close(Disconnect.ServerError.code, Disconnect.ServerError.reason);
    }
  }

  get bufferedAmount(): number {
    return this.sink.bufferedAmount;
  }

  /** The Centrifugo protocol pings in-band (`{}`); there is no transport-level ping on HTTP. */
  ping(): void {}

  close(code: number, reason: string): void {
    if (this.closed) return;
    const uni = this.framing === FRAMING_UNI_SSE || this.framing === FRAMING_UNI_NDJSON;
    const codec = this.framing === FRAMING_PROTOBUF ? protobufWire().PROTOBUF_CODEC : uni ? UNI_JSON_CODEC : JSON_CODEC;
    const parts: Uint8Array[] = [];
    this.frame(codec.disconnectPush(code, reason, shouldReconnect(code)), parts);
    this.sink.write(Buffer.concat(parts));
    this.closeCode = code;
    this.sink.end();
    this.gone();
  }

  terminate(): void {
    if (this.closed) return;
    this.sink.destroy();
    this.gone();
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone();
    this.handler?.onClose(this.closeCode, '');
  }
}
