/**
 * Reading a request body, once for every API and transport: the size limit is checked before
 * anything is kept (Content-Length first, then the bytes as they come), so an oversized or
 * unauthorized body never costs memory; a body that stalls is cut after a deadline. Callers
 * check the API key before they call this.
 */
import type { HttpRequest } from '../core/transport.js';

/** Why no body: over the limit (413), not received in time (408), or the peer went away. */
export type BodyFailure = 'too_large' | 'timeout' | 'aborted';

export interface BodyLimits {
  /** Largest body kept, bytes. */
  readonly maxBytes: number;
  /** Time to receive the whole body, ms. */
  readonly timeoutMs: number;
}

/**
 * An oversized body is read to its end and dropped (so the client gets its 413 instead of a
 * reset while it is still sending) up to this many times the limit; past it the connection is
 * cut.
 */
const DISCARD_FACTOR = 16;

/** The body, or why not. Must be called before the handler's first `await` (see HttpRequest.readBody). */
export function readBody(req: HttpRequest, limits: BodyLimits): Promise<Buffer | BodyFailure> {
  const discardLimit = DISCARD_FACTOR * limits.maxBytes;
  const declared = Number(req.header('content-length') ?? Number.NaN);
  return new Promise((resolve) => {
    if (declared > discardLimit) {
      // Not worth reading to its end: answered at once (the reply closes the connection).
      resolve('too_large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: Buffer | BodyFailure): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => finish('timeout'), limits.timeoutMs);
    req.readBody(
      (chunk) => {
        if (done) return;
        size += chunk.byteLength;
        if (size > discardLimit) {
          req.abort();
          finish('too_large');
        } else if (size <= limits.maxBytes) chunks.push(Buffer.from(chunk));
      },
      (aborted) => finish(aborted ? 'aborted' : size > limits.maxBytes ? 'too_large' : Buffer.concat(chunks)),
    );
  });
}
