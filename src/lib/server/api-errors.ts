/**
 * The server API's errors in HTTP terms. Core answers with protocol codes (`CodedError`); this is
 * the one place that turns a code into an HTTP status.
 */
import { brokerFailureError } from '../core/errors.js';
import { CodedError, ErrorCode, type ProtocolError } from '../protocol/codes.js';

/** HTTP status of a protocol error in a server API reply. */
export function httpStatusOf(err: ProtocolError): number {
  switch (err.code) {
    case ErrorCode.Internal:
      return 500;
    case ErrorCode.Unauthorized:
      return 401;
    case ErrorCode.MethodNotFound:
      return 404;
    case ErrorCode.NotAvailable:
      // The broker is away (retry later) vs. a feature this channel does not have.
      return err.temporary ? 503 : 400;
    default:
      return 400;
  }
}

/** A server API error: a protocol code and message, with its HTTP status. */
export class ApiError extends CodedError {
  override readonly name = 'ApiError';
  readonly httpStatus: number;
  constructor(code: ErrorCode, message: string, options?: { temporary?: boolean; cause?: unknown }) {
    super(code, message, options);
    this.httpStatus = httpStatusOf(this);
  }
}

/** Any failure of an API call as a protocol error (unknown ones are internal). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const c = brokerFailureError(err);
  return new ApiError(c.code, c.message, { temporary: c.temporary, cause: err });
}
