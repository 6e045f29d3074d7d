/**
 * Client-visible outcome codes, shared by both client protocols.
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
}

const errorMessages: Record<ErrorCode, string> = {
  100: 'internal server error',
  101: 'unauthorized',
  102: 'unknown channel',
  103: 'permission denied',
  104: 'method not found',
  105: 'already subscribed',
  106: 'limit exceeded',
  107: 'bad request',
  108: 'not available',
  109: 'token expired',
  110: 'expired',
  111: 'too many requests',
  112: 'unrecoverable position',
};

export function protocolError(code: ErrorCode, message?: string, temporary?: boolean): ProtocolError {
  const err: { code: ErrorCode; message: string; temporary?: boolean } = { code, message: message ?? errorMessages[code] };
  if (temporary) err.temporary = true;
  return err;
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
  BadRequest: { code: 3501, reason: 'bad request' },
  Stale: { code: 3502, reason: 'stale' },
  ForceNoReconnect: { code: 3503, reason: 'force disconnect' },
  ConnectionLimit: { code: 3504, reason: 'connection limit' },
  ChannelLimit: { code: 3505, reason: 'channel limit' },
  InappropriateProtocol: { code: 3506, reason: 'inappropriate protocol' },
  PermissionDenied: { code: 3507, reason: 'permission denied' },
  MessageSizeLimit: { code: 3508, reason: 'message size limit exceeded' },
} as const satisfies Record<string, DisconnectReason>;

/** Whether a client that receives this close code should reconnect. */
export function shouldReconnect(code: number): boolean {
  return code < 3500 || (code >= 4000 && code < 4500);
}
