/**
 * The application's backend, asked per request (Centrifugo's proxies): the seam core calls and
 * an adapter implements (src/lib/proxy-http: POST over HTTP with a deadline). Core builds the
 * request and reads the reply (protocol/centrifuge-proxy.ts); the seam only carries text.
 *
 * Guarantees an implementation gives:
 *  1. `post` resolves with the reply body of a 2xx answer, within the proxy's timeout;
 *  2. anything else — refused connection, timeout, non-2xx status, a body over the size limit —
 *     rejects; core then refuses what was asked (fail closed) with Centrifugo's temporary 100
 *     and counts it (`ws_proxy_requests_total{proxy,outcome="failed"}`);
 *  3. `headers` are the client's own request headers the operator chose to pass (`proxy.*.headers`).
 */
import type { ProxyKind } from '../protocol/centrifuge-proxy.js';

export interface AppProxy {
  /** Whether this kind of proxy is configured. */
  has(kind: ProxyKind): boolean;
  post(kind: ProxyKind, body: string, headers: Readonly<Record<string, string>>): Promise<string>;
}

/** What a proxy call came to, counted by kind. */
export type ProxyOutcome = 'allowed' | 'refused' | 'failed';
