/**
 * The server API's errors: a protocol code (core answers with protocol codes only, `CodedError`)
 * and its HTTP status from the code catalogue's one table (protocol/codes.ts `httpStatusOf`).
 */
import { brokerFailureError } from '../core/errors.js';
import { CodedError, httpStatusOf, type ErrorCode } from '../protocol/codes.js';

/** A server API error: a protocol code and message, with its HTTP status. */
export class ApiError extends CodedError {
  override readonly name = 'ApiError';
  readonly httpStatus: number;
  constructor(code: ErrorCode, message: string, options?: { temporary?: boolean; cause?: unknown }) {
    super(code, message, options);
    this.httpStatus = httpStatusOf(code, this.temporary);
  }
}

/** Any failure of an API call as a protocol error (unknown ones are internal). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const c = brokerFailureError(err);
  return new ApiError(c.code, c.message, { temporary: c.temporary, cause: err });
}
