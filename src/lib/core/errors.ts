/** How core answers a failure it did not expect of a command: one mapping, both protocols and the server API. */
import { BrokerError } from './broker.js';
import { CodedError, ErrorCode, protocolError, type ProtocolError } from '../protocol/codes.js';

/** The protocol error for a broker call that failed (108 temporary when the broker is away). */
export function brokerFailure(err: unknown): ProtocolError {
  if (err instanceof CodedError) return err;
  if (err instanceof BrokerError) {
    if (err.code === 'unavailable' || err.code === 'closed')
      return protocolError(ErrorCode.NotAvailable, 'broker unavailable, try again', true);
    if (err.code === 'bad_request') return protocolError(ErrorCode.BadRequest, err.message);
    if (err.code === 'limit') return protocolError(ErrorCode.LimitExceeded, err.message);
  }
  return protocolError(ErrorCode.Internal, 'internal error', true);
}

/** The same, thrown (for the server API's methods). */
export function brokerFailureError(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const p = brokerFailure(err);
  return new CodedError(p.code, p.message, { temporary: p.temporary === true, cause: err });
}
