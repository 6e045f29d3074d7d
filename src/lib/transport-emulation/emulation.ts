/**
 * Centrifugo's HTTP transports, what its JavaScript SDK falls back to when WebSocket is
 * blocked (docs/protocol.md, "HTTP-streaming and SSE"):
 *
 *  - `POST /connection/http_stream`: the body holds the first command(s) (connect); the
 *    response streams replies and pushes, JSON one a line, or varint-delimited protobuf when the
 *    request's Content-Type is application/octet-stream.
 *  - `GET /connection/sse?cf_connect=<JSON commands>` (or POST with them as the body): the
 *    response is `text/event-stream`, one `data:` event per JSON reply or push.
 *  - `POST /emulation` `{"session","node","data"}` (or protobuf EmulationRequest): the later
 *    commands of a session, delivered to it as if read from its socket; answered 204.
 *  - with `uniTransports`: `/connection/uni_sse` and `/connection/uni_http_stream`, Centrifugo's
 *    unidirectional transports: a connect request in, bare pushes out, no session.
 *
 * A stream is a connection like a WebSocket: admitted by the gateway (origin, connection
 * limits per address and in total, draining), served by the same core client, pinged in-band,
 * disconnected with 3008 when it falls behind. Sessions live only on the node that holds the
 * stream; another node answers 404 for them, as Centrifugo does for an unknown node.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionAcceptor, ConnectionInfo, FrameEncoder, HttpReply, HttpRequest, Waiting } from '../core/transport.js';
import { readBody, type BodyLimits } from '../http/body.js';
import { pickHeaders } from '../http/pick-headers.js';
import { json } from '../http/router.js';
import { ErrorCode } from '../protocol/codes.js';
import { parseEmulationRequest } from '../protocol/centrifuge-emulation.js';
import { loadProtobuf } from '../protocol/centrifuge-protobuf-load.js';
import {
  FRAMING_NDJSON,
  FRAMING_PROTOBUF,
  FRAMING_SSE,
  FRAMING_UNI_NDJSON,
  FRAMING_UNI_SSE,
  StreamConnection,
  type EventPositions,
  type FramePublication,
  type Framing,
} from './stream-connection.js';

export const HTTP_STREAM_PATH = '/connection/http_stream';
export const SSE_PATH = '/connection/sse';
export const EMULATION_PATH = '/emulation';
/** Centrifugo's unidirectional HTTP transports (served with `uniTransports: true`). */
export const UNI_SSE_PATH = '/connection/uni_sse';
export const UNI_HTTP_STREAM_PATH = '/connection/uni_http_stream';
/** The SSE connect command's query parameter (centrifuge-js, Centrifugo). */
export const SSE_CONNECT_PARAM = 'cf_connect';
/** Largest first-command body or emulation request, bytes (Centrifugo's default). */
export const DEFAULT_EMULATION_MAX_BODY_BYTES = 64 * 1024;

export interface EmulationOptions {
  /** Largest connect body, `cf_connect` value or emulation request body, bytes; more gets 413. */
  readonly maxBodyBytes: number;
  /** Time to receive a body, ms; slower gets 408. */
  readonly bodyTimeoutMs: number;
  /** This node's id, as the connect reply's `node` says. */
  readonly nodeId: string;
  /** Whether a browser page of this Origin may use the endpoints cross-origin (CORS). */
  readonly originAllowed: (origin: string) => boolean;
  /** The publication a unidirectional frame carries (uni_sse event ids); core's `PushFramer.publicationOf` (`gateway.hub.framer`). */
  readonly publicationOf?: FramePublication;
  /** Request headers the proxies pass on (lower case). */
  readonly proxyHeaders?: readonly string[];
  /** Open sockets no client holds, beside the stream's own (counted by the admission). */
  readonly waiting?: (ip: string) => Waiting;
}

/** Centrifugo's transport name of each framing, as proxy requests carry it. */
const TRANSPORT_NAMES: Readonly<Record<Framing, string>> = {
  [FRAMING_NDJSON]: 'http_stream',
  [FRAMING_PROTOBUF]: 'http_stream',
  [FRAMING_SSE]: 'sse',
  [FRAMING_UNI_SSE]: 'uni_sse',
  [FRAMING_UNI_NDJSON]: 'uni_http_stream',
};

const OCTET_STREAM = 'application/octet-stream';
/**
 * Why a unidirectional transport refuses protobuf (a `centrifuge-protobuf` subprotocol on
 * uni_websocket, an `application/octet-stream` body on uni_http_stream/uni_sse): Centrifugo
 * v6.9.1 serves them in JSON only, and so do we (400, code 107).
 */
export const UNI_JSON_ONLY = "the unidirectional transports speak JSON only, as Centrifugo's: no protobuf";
/** Centrifugo's headers on a stream: no caching, no proxy buffering (nginx). */
const STREAM_HEADERS = {
  'cache-control': 'private, no-cache, no-store, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
  'x-accel-buffering': 'no',
} as const;

/** The error code beside each admission refusal's status (503: draining or full). */
const ADMISSION_CODES: Readonly<Record<number, ErrorCode>> = {
  403: ErrorCode.PermissionDenied,
  429: ErrorCode.TooManyRequests,
  503: ErrorCode.NotAvailable,
};

const fail = (status: number, code: number, message: string, close = false): HttpReply => ({
  ...json(status, { error: { code, message } }),
  ...(close ? { close: true } : {}),
});

function isProtobuf(req: HttpRequest): boolean {
  return (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === OCTET_STREAM;
}

/** Commands for a session, as `/emulation` received them. */
export interface EmulationDelivery {
  readonly session: string;
  /** The node the client says holds its session (the connect reply's `node`). */
  readonly node: string;
  readonly data: Buffer;
  readonly protobuf: boolean;
}

export type DeliveryResult = 'delivered' | 'unknown_session' | 'wrong_protocol';

/**
 * Reaches the other nodes: `forward` hands a delivery to the node it names and resolves with
 * what that node answered ('unknown_session' when no such node answers in time).
 */
export interface SessionRouter {
  forward(d: EmulationDelivery): Promise<DeliveryResult>;
}

/** Makes a node's router: given its id and how to deliver to its own sessions (for requests routed to it). */
export type SessionRouterFactory = (nodeId: string, deliverLocal: (d: EmulationDelivery) => DeliveryResult) => SessionRouter;

export class EmulationEndpoints {
  /** Open emulated connections by session id (each is also a client of the gateway). */
  private readonly sessions = new Map<string, StreamConnection>();
  /** Where a request for another node's session goes; null: answered 404 here. */
  router: SessionRouter | null = null;
  private readonly limits: BodyLimits;

  constructor(
    private readonly acceptor: ConnectionAcceptor,
    private readonly frames: FrameEncoder,
    private readonly opts: EmulationOptions,
  ) {
    this.limits = { maxBytes: opts.maxBodyBytes, timeoutMs: opts.bodyTimeoutMs };
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * CORS for a page on another origin (centrifuge-js fetches with mode "cors"): an allowed
   * Origin is echoed, with credentials (cookies) allowed; others get no CORS headers, so the
   * browser withholds the answer. The stream itself is refused by admission (403) as well.
   */
  cors(req: HttpRequest): Record<string, string> {
    const origin = req.header('origin');
    if (origin === undefined || !this.opts.originAllowed(origin)) return {};
    return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
  }

  /** `OPTIONS` on the three paths: the browser's preflight (a JSON or protobuf POST needs one). */
  readonly preflight = (req: HttpRequest): HttpReply => ({
    status: 204,
    headers: {
      ...this.cors(req),
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '300',
    },
    body: '',
  });

  /** Adds the CORS headers to a handler's answers. */
  withCors(handler: (req: HttpRequest) => Promise<HttpReply>): (req: HttpRequest) => Promise<HttpReply> {
    return async (req) => {
      const r = await handler(req);
      const cors = this.cors(req);
      return Object.keys(cors).length === 0 ? r : { ...r, headers: { ...r.headers, ...cors } };
    };
  }

  /** `POST /connection/http_stream`. */
  readonly httpStream = async (req: HttpRequest): Promise<HttpReply> => {
    const protobuf = isProtobuf(req);
    const body = await this.body(req);
    if (!Buffer.isBuffer(body)) return body;
    // The protobuf wire is loaded by the first protobuf client, not at start.
    if (protobuf) await loadProtobuf();
    return this.open(req, body, protobuf ? FRAMING_PROTOBUF : FRAMING_NDJSON, protobuf ? OCTET_STREAM : 'application/json');
  };

  /** `POST /connection/uni_http_stream` with the ConnectRequest (JSON) as the body: pushes one a line. */
  readonly uniHttpStream = async (req: HttpRequest): Promise<HttpReply> => {
    if (isProtobuf(req)) return fail(400, ErrorCode.BadRequest, UNI_JSON_ONLY);
    const body = await this.body(req);
    if (!Buffer.isBuffer(body)) return body;
    return this.open(req, body, FRAMING_UNI_NDJSON, 'application/json');
  };

  /**
   * `GET /connection/uni_sse?cf_connect=<ConnectRequest JSON>` (none: an empty request), or POST
   * with it as the body: `text/event-stream` of bare pushes. `Last-Event-ID` (what EventSource
   * sends back when it reconnects: the positions of the last event's `id:`) makes each channel it
   * names recover from there, as `subs` with `recover/offset/epoch` would.
   */
  readonly uniSse = async (req: HttpRequest): Promise<HttpReply> => {
    if (isProtobuf(req)) return fail(400, ErrorCode.BadRequest, UNI_JSON_ONLY);
    const first = req.method === 'GET' && !req.url.includes(`${SSE_CONNECT_PARAM}=`) ? Buffer.from('{}') : await this.connectOf(req);
    if (!Buffer.isBuffer(first)) return first;
    const resumed = withLastEventId(first, req.header('last-event-id'));
    if (typeof resumed === 'string') return fail(400, ErrorCode.BadRequest, resumed);
    return this.open(req, resumed, FRAMING_UNI_SSE, 'text/event-stream; charset=utf-8');
  };

  /** `GET /connection/sse?cf_connect=…`, or `POST /connection/sse` with the commands as the body. */
  readonly sse = async (req: HttpRequest): Promise<HttpReply> => {
    const first = await this.connectOf(req);
    if (!Buffer.isBuffer(first)) return first;
    return this.open(req, first, FRAMING_SSE, 'text/event-stream; charset=utf-8');
  };

  /** The first message of an SSE stream: the POST body, or the `cf_connect` query parameter of a GET. */
  private async connectOf(req: HttpRequest): Promise<Buffer | HttpReply> {
    let first: Buffer;
    if (req.method === 'POST') {
      const body = await this.body(req);
      if (!Buffer.isBuffer(body)) return body;
      first = body;
    } else {
      if (req.method !== 'GET') return fail(405, ErrorCode.BadRequest, 'use GET (or POST) to open an SSE stream');
      const q = req.url.indexOf('?');
      if (q >= 0 && req.url.length - q > this.opts.maxBodyBytes * 3)
        return fail(413, ErrorCode.BadRequest, `${SSE_CONNECT_PARAM} larger than ${this.opts.maxBodyBytes} bytes`);
      let param: string | null;
      try {
        param = new URL(req.url, 'http://localhost').searchParams.get(SSE_CONNECT_PARAM);
      } catch {
        param = null;
      }
      if (!param) return fail(400, ErrorCode.BadRequest, `missing ${SSE_CONNECT_PARAM} query parameter (the JSON connect command)`);
      first = Buffer.from(param);
      if (first.length > this.opts.maxBodyBytes)
        return fail(413, ErrorCode.BadRequest, `${SSE_CONNECT_PARAM} larger than ${this.opts.maxBodyBytes} bytes`);
    }
    return first;
  }

  /** `POST /emulation`: a later command of a session (on this node, or routed to its node). */
  readonly emulation = async (req: HttpRequest): Promise<HttpReply> => {
    const protobuf = isProtobuf(req);
    const body = await this.body(req);
    if (!Buffer.isBuffer(body)) return body;
    if (protobuf) await loadProtobuf();
    const r = parseEmulationRequest(body, protobuf);
    if (typeof r === 'string') return fail(400, ErrorCode.BadRequest, r);
    const d: EmulationDelivery = { ...r, protobuf };
    let result = this.deliverLocal(d);
    if (result === 'unknown_session' && r.node !== '' && r.node !== this.opts.nodeId && this.router !== null)
      result = await this.router.forward(d);
    if (result === 'delivered') return { status: 204, headers: {}, body: '' };
    if (result === 'wrong_protocol')
      return fail(400, ErrorCode.BadRequest, `the session speaks ${protobuf ? 'JSON' : 'protobuf'}; send its Content-Type`);
    // The SDK closes its stream on 404 and reconnects (to a node that will hold its new session).
    const where = r.node !== '' && r.node !== this.opts.nodeId ? ` (it names node ${r.node}, this is node ${this.opts.nodeId})` : '';
    return fail(404, ErrorCode.NotAvailable, `unknown session${where}`);
  };

  /** Hands commands to a session of this node (also what a router calls on the session's node). */
  readonly deliverLocal = (d: EmulationDelivery): DeliveryResult => {
    const conn = this.sessions.get(d.session);
    if (!conn) return 'unknown_session';
    if (conn.protobuf !== d.protobuf) return 'wrong_protocol';
    conn.deliver(d.data);
    return 'delivered';
  };

  private headersOf(req: HttpRequest): { headers?: Record<string, string> } {
    const names = this.opts.proxyHeaders ?? [];
    return names.length === 0 ? {} : { headers: pickHeaders(req, names) };
  }

  private async body(req: HttpRequest): Promise<Buffer | HttpReply> {
    const body = await readBody(req, this.limits);
    if (body === 'too_large') return fail(413, ErrorCode.BadRequest, `body larger than ${this.opts.maxBodyBytes} bytes`, true);
    if (body === 'timeout' || body === 'aborted') return fail(408, ErrorCode.BadRequest, 'request body not received in time', true);
    if (body.length === 0) return fail(400, ErrorCode.BadRequest, 'empty body: send the connect command');
    return body;
  }

  /** Admits the stream as a connection and answers with it; `first` is its first frame. */
  private open(req: HttpRequest, first: Buffer, framing: Framing, contentType: string): HttpReply {
    const origin = req.header('origin');
    // A unidirectional stream takes no later commands: no session to address it by.
    const uni = framing === FRAMING_UNI_SSE || framing === FRAMING_UNI_NDJSON;
    const session = uni ? null : randomUUID();
    const info: ConnectionInfo = {
      protocol: 'centrifuge',
      ip: req.ip,
      ...(origin !== undefined ? { origin } : {}),
      ...(framing === FRAMING_PROTOBUF ? { binary: true } : {}),
      ...(session !== null ? { session } : { uni: 'stream' as const }),
      transport: TRANSPORT_NAMES[framing],
      ...this.headersOf(req),
    };
    const admission = this.acceptor.admit(info, this.opts.waiting?.(req.ip));
    if (!admission.ok) return fail(admission.status, ADMISSION_CODES[admission.status] ?? ErrorCode.NotAvailable, admission.reason);
    return {
      status: 200,
      headers: { ...STREAM_HEADERS, 'content-type': contentType },
      // An SSE stream starts with an empty line so that the browser's EventSource opens at once.
      body: framing === FRAMING_SSE || framing === FRAMING_UNI_SSE ? '\r\n' : '',
      stream: (sink) => {
        const conn = new StreamConnection(
          sink,
          framing,
          (f) => this.frames.payloadOf(f),
          () => {
            if (session !== null) this.sessions.delete(session);
          },
          framing === FRAMING_UNI_SSE ? this.opts.publicationOf : undefined,
        );
        if (session !== null) this.sessions.set(session, conn);
        conn.handler = this.acceptor.accept(conn, info);
        conn.deliver(first);
      },
    };
  }
}

/**
 * A uni_sse connect request with the positions of a `Last-Event-ID` (our event ids: JSON
 * `{"<channel>":[offset,"epoch"]}`) as `subs` entries that recover from there; an entry the
 * request already has keeps its own fields (its token) and takes the position. The request
 * itself unchanged without the header; a message (→ 400, 107) when either is malformed.
 */
export function withLastEventId(first: Buffer, lastEventId: string | undefined): Buffer | string {
  if (lastEventId === undefined || lastEventId === '') return first;
  let positions: EventPositions;
  let req: Record<string, unknown>;
  try {
    positions = JSON.parse(lastEventId) as EventPositions;
    req = JSON.parse(first.toString('utf8')) as Record<string, unknown>;
  } catch {
    return 'Last-Event-ID or the connect request is not JSON';
  }
  if (typeof positions !== 'object' || positions === null || Array.isArray(positions))
    return 'Last-Event-ID must be the id of one of our events';
  if (req === null) req = {};
  if (typeof req !== 'object' || Array.isArray(req)) return 'the connect request must be a JSON object';
  const subs: Record<string, unknown> =
    typeof req.subs === 'object' && req.subs !== null && !Array.isArray(req.subs) ? { ...(req.subs as Record<string, unknown>) } : {};
  for (const [ch, pos] of Object.entries(positions)) {
    if (!Array.isArray(pos) || typeof pos[0] !== 'number' || typeof pos[1] !== 'string')
      return `Last-Event-ID: bad position for ${ch.slice(0, 64)}`;
    const had = subs[ch];
    subs[ch] = { ...(typeof had === 'object' && had !== null ? had : {}), recover: true, offset: pos[0], epoch: pos[1] };
  }
  return Buffer.from(JSON.stringify({ ...req, subs }));
}
