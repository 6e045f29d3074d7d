/**
 * JetStream failures mapped onto the Broker seam's error codes: what a caller may retry
 * ('unavailable') versus what it must not ('internal', 'bad_request', 'closed').
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { BrokerError } from '../core/broker.js';

/** JetStream error codes we act on. */
export const ERR_WRONG_LAST_SEQ = 10071;
export const ERR_STREAM_NOT_FOUND = 10059;

export function errCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/**
 * `err` as a BrokerError: JetStream API refusals other than "unavailable" (503) and "stream not
 * found" are 'internal'; timeouts, no responders and connection loss are 'unavailable'.
 */
export function toBrokerError(err: unknown, what: string, closed: boolean): BrokerError {
  if (err instanceof BrokerError) return err;
  if (closed) return new BrokerError('closed', 'broker is closed', { cause: err });
  const code = errCode(err);
  if (code !== undefined && code !== 503 && code !== ERR_STREAM_NOT_FOUND) {
    return new BrokerError('internal', `${what} failed: ${(err as Error).message}`, { cause: err });
  }
  const why = err instanceof Error ? `: ${err.message}` : '';
  return new BrokerError('unavailable', `${what} failed: NATS/JetStream unavailable${why}`, { cause: err });
}

export function unreachable(): BrokerError {
  return new BrokerError('unavailable', 'NATS is unreachable');
}

export function sleep(ms: number): Promise<void> {
  return new Promise<void>((r) => setTimeout(r, ms));
}
