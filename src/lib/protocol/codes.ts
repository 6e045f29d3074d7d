/**
 * The code catalogue: every client-visible outcome code, with its reconnect policy, in one file.
 * docs/protocol.md ("Codes") lists the same table for client authors.
 *
 * Error codes (100-112) answer a single command; the connection stays open.
 * Disconnect codes close the connection: 3000-3499 tell the client to reconnect,
 * 3500-3999 are terminal (the client must not reconnect with the same state).
 * The numbers are Centrifugo's, so its SDKs apply the right reconnect policy.
 */

export const ErrorCode = {
  Internal: 100,
  Unauthorized: 101,
  UnknownChannel: 102,
  PermissionDenied: 103,
  MethodNotFound: 104,
  AlreadySubscribed: 105,
  LimitExceeded: 106,
  BadRequest: 107,
  NotAvailable: 108,
  TokenExpired: 109,
  Expired: 110,
  TooManyRequests: 111,
  UnrecoverablePosition: 112,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ProtocolError {
  readonly code: ErrorCode;
  readonly message: string;
  /** True when retrying the same command later may succeed. */
  readonly temporary?: boolean;
  /** With `temporary`: the server's suggested wait before retrying, ms (jittered per refusal). */
  readonly retryAfterMs?: number;
}

const errorMessages: Record<ErrorCode, string> = {
  [ErrorCode.Internal]: 'internal server error',
  [ErrorCode.Unauthorized]: 'unauthorized',
  [ErrorCode.UnknownChannel]: 'unknown channel',
  [ErrorCode.PermissionDenied]: 'permission denied',
  [ErrorCode.MethodNotFound]: 'method not found',
  [ErrorCode.AlreadySubscribed]: 'already subscribed',
  [ErrorCode.LimitExceeded]: 'limit exceeded',
  [ErrorCode.BadRequest]: 'bad request',
  [ErrorCode.NotAvailable]: 'not available',
  [ErrorCode.TokenExpired]: 'token expired',
  [ErrorCode.Expired]: 'expired',
  [ErrorCode.TooManyRequests]: 'too many requests',
  [ErrorCode.UnrecoverablePosition]: 'unrecoverable position',
};

export function protocolError(code: ErrorCode, message?: string, temporary?: boolean): ProtocolError {
  const err: { code: ErrorCode; message: string; temporary?: boolean } = { code, message: message ?? errorMessages[code] };
  if (temporary) err.temporary = true;
  return err;
}

export function isProtocolError(v: unknown): v is ProtocolError {
  return (
    typeof v === 'object' && v !== null && typeof (v as ProtocolError).code === 'number' && typeof (v as ProtocolError).message === 'string'
  );
}

/**
 * The one code → HTTP status table, for every HTTP surface that answers with a protocol code
 * (the server API in Centrifugo's transport error mode, the dashboard's admin API). Centrifugo's
 * table (100 → 500, 102/104 → 404, 107/108 → 400, 112 → 416, 113 → 409) plus ours for codes it
 * leaves at 500: 101 → 401, 103 → 403, 111 → 429, and a temporary 108 (the broker is away:
 * retry later) → 503.
 */
export function httpStatusOf(code: number, temporary = false): number {
  switch (code) {
    case ErrorCode.Unauthorized:
      return 401;
    case ErrorCode.UnknownChannel:
    case ErrorCode.MethodNotFound:
      return 404;
    case ErrorCode.PermissionDenied:
      return 403;
    case ErrorCode.BadRequest:
      return 400;
    case ErrorCode.NotAvailable:
      return temporary ? 503 : 400;
    case ErrorCode.TooManyRequests:
      return 429;
    case ErrorCode.UnrecoverablePosition:
      return 416;
    case 113: // conflict
      return 409;
    default:
      return 500;
  }
}

/**
 * Whether the same command may succeed later: a temporary refusal (the broker is away, a
 * budget is empty) or an internal failure. Everything else (unknown channel, bad request,
 * permission) will be refused again.
 */
export function isRetryable(err: ProtocolError): boolean {
  return err.temporary === true || err.code === ErrorCode.Internal;
}

/**
 * A protocol error thrown rather than returned (the server API's methods in core). The server
 * layer maps its code to an HTTP status; core never speaks HTTP.
 */
export class CodedError extends Error implements ProtocolError {
  override readonly name: string = 'CodedError';
  readonly temporary: boolean;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    options?: { temporary?: boolean; cause?: unknown },
  ) {
    super(message ?? errorMessages[code], options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.temporary = options?.temporary === true;
  }
}

export interface DisconnectReason {
  readonly code: number;
  readonly reason: string;
}

export const Disconnect = {
  // Reconnect range.
  ConnectionClosed: { code: 3000, reason: 'connection closed' },
  Shutdown: { code: 3001, reason: 'shutdown' },
  ServerError: { code: 3004, reason: 'internal server error' },
  Expired: { code: 3005, reason: 'connection expired' },
  SubExpired: { code: 3006, reason: 'subscription expired' },
  Slow: { code: 3008, reason: 'slow' },
  WriteError: { code: 3009, reason: 'write error' },
  InsufficientState: { code: 3010, reason: 'insufficient state' },
  ForceReconnect: { code: 3011, reason: 'force reconnect' },
  NoPong: { code: 3012, reason: 'no pong' },
  TooManyRequests: { code: 3013, reason: 'too many requests' },
  // Terminal range.
  InvalidToken: { code: 3500, reason: 'invalid token' },
  /**
   * The Odin protocol has no token refresh: an expired token can only be replaced by a new
   * connection with a new token, so it is terminal (same code as an invalid token).
   */
  TokenExpired: { code: 3500, reason: 'token expired' },
  BadRequest: { code: 3501, reason: 'bad request' },
  Stale: { code: 3502, reason: 'stale' },
  ForceNoReconnect: { code: 3503, reason: 'force disconnect' },
  ConnectionLimit: { code: 3504, reason: 'connection limit' },
  ChannelLimit: { code: 3505, reason: 'channel limit' },
  InappropriateProtocol: { code: 3506, reason: 'inappropriate protocol' },
  PermissionDenied: { code: 3507, reason: 'permission denied' },
  MessageSizeLimit: { code: 3508, reason: 'message size limit exceeded' },
} as const satisfies Record<string, DisconnectReason>;

/**
 * A refused connect on a unidirectional transport (uni_websocket, uni_sse, uni_http_stream) has
 * no reply to carry an error, so it becomes a disconnect: Centrifugo's table (103 → 3507, 109 and
 * 110 → 3005, 111 → 3013), plus 101 → 3500 (no token where one is required) and any other code
 * → 3501 bad request (Centrifugo: 3004, which would make a client retry what cannot succeed).
 */
export function uniDisconnectOf(err: ProtocolError): DisconnectReason {
  switch (err.code) {
    case ErrorCode.PermissionDenied:
      return Disconnect.PermissionDenied;
    case ErrorCode.TokenExpired:
    case ErrorCode.Expired:
      return Disconnect.Expired;
    case ErrorCode.TooManyRequests:
      return Disconnect.TooManyRequests;
    case ErrorCode.Unauthorized:
      return Disconnect.InvalidToken;
    default:
      return err.temporary === true ? Disconnect.TooManyRequests : Disconnect.BadRequest;
  }
}

/**
 * Why the server ended one subscription (Centrifugo's unsubscribe push codes, 2000-2999): below
 * 2500 the client stays unsubscribed; from 2500 its SDK subscribes again (with a fresh token).
 */
export const Unsubscribe = {
  Server: { code: 2000, reason: 'server unsubscribe' },
  /** A subscription token's grant ended and no `sub_refresh` extended it in time. */
  Expired: { code: 2501, reason: 'subscription expired' },
} as const satisfies Record<string, DisconnectReason>;

/** Application close codes a server API `disconnect` call may give (RFC 6455 private use starts at 4000). */
export const DISCONNECT_CODE_MIN = 3000;
export const DISCONNECT_CODE_MAX = 4999;
/** First terminal code of each range: below it, reconnect. */
const TERMINAL_FROM = 3500;
const CUSTOM_RECONNECT_FROM = 4000;
const CUSTOM_TERMINAL_FROM = 4500;

/** Whether a client that receives this close code should reconnect (Centrifugo's policy). */
export function shouldReconnect(code: number): boolean {
  return code < TERMINAL_FROM || (code >= CUSTOM_RECONNECT_FROM && code < CUSTOM_TERMINAL_FROM);
}

/** WebSocket (RFC 6455) close codes the transports use themselves. */
export const WsClose = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  /** Reserved: never sent; reported when the connection dropped without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

/** A close frame's reason is at most 123 bytes (125-byte control payload minus the code). */
export const MAX_CLOSE_REASON_BYTES = 123;
