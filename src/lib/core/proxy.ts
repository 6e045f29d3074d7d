/**
 * The application's backend, asked per request (Centrifugo's proxies): the seam core calls and
 * an adapter implements (src/lib/proxy-http: POST over HTTP with a deadline). Core builds the
 * request and reads the reply (protocol/centrifuge-proxy.ts) and asks through `askProxy` below
 * (counted, fail closed); the seam only carries text.
 *
 * Guarantees an implementation gives:
 *  1. `post` resolves with the reply body of a 2xx answer, within the proxy's timeout;
 *  2. anything else — refused connection, timeout, non-2xx status, a body over the size limit —
 *     rejects; core then refuses what was asked (fail closed) with Centrifugo's temporary 100
 *     and counts it (`ws_proxy_requests_total{proxy,outcome="failed"}`);
 *  3. `headers` are the client's own request headers the operator chose to pass (`proxy.*.headers`).
 */
import type { ProxyClient, ProxyDecision, ProxyKind } from '../protocol/centrifuge-proxy.js';
import { ErrorCode, protocolError, type DisconnectReason, type ProtocolError } from '../protocol/codes.js';
import { PROTO_CENTRIFUGE_PROTOBUF, type ProtocolId } from '../protocol/push.js';
import type { GatewayStats } from './stats.js';
import type { Logger } from './logger.js';

export interface AppProxy {
  /** Whether this kind of proxy is configured. */
  has(kind: ProxyKind): boolean;
  post(kind: ProxyKind, body: string, headers: Readonly<Record<string, string>>): Promise<string>;
}

/** What a proxy call came to, counted by kind. */
export type ProxyOutcome = 'allowed' | 'refused' | 'failed';

/** What asking the application needs of the gateway (a part of the client's context). */
export interface ProxyContext {
  /** The application's backend (proxies); null when none is configured. */
  readonly proxy: AppProxy | null;
  readonly stats: GatewayStats;
  readonly log: Logger;
}

/** The connection a proxy request is made for. */
export interface ProxyCaller {
  readonly id: string;
  readonly user: string;
  readonly protocol: ProtocolId;
  /** Centrifugo's transport name (proxy requests). */
  readonly transportName: string;
  /** The client's request headers the proxies pass on. */
  readonly requestHeaders: Readonly<Record<string, string>>;
}

/** Centrifugo's answer when a proxy cannot be asked or answered nonsense: internal, temporary (fail closed). */
const PROXY_FAILED = protocolError(ErrorCode.Internal, 'the application could not be asked, retry later', true);

/** Who this connection is, as proxy requests say it. */
export function proxyClient(c: ProxyCaller): ProxyClient {
  return {
    client: c.id,
    transport: c.transportName,
    protocol: c.protocol === PROTO_CENTRIFUGE_PROTOBUF ? 'protobuf' : 'json',
    user: c.user,
  };
}

/**
 * One proxy request: the application's decision (result, error, or disconnect), counted; a
 * failure or an unreadable reply is PROXY_FAILED (fail closed), counted as `failed`.
 */
export async function askProxy<R>(
  ctx: ProxyContext,
  c: ProxyCaller,
  kind: ProxyKind,
  body: string,
  read: (text: string) => ProxyDecision<R>,
): Promise<{ result: R } | ProtocolError | { readonly disconnect: DisconnectReason }> {
  let d: ProxyDecision<R>;
  try {
    d = read(await ctx.proxy!.post(kind, body, c.requestHeaders));
  } catch (err) {
    d = { unreadable: (err as Error).message };
  }
  if ('unreadable' in d) {
    ctx.stats.countProxy(kind, 'failed');
    ctx.log.warn({ client: c.id, proxy: kind, reason: d.unreadable }, 'proxy failed; refused');
    return PROXY_FAILED;
  }
  ctx.stats.countProxy(kind, 'result' in d ? 'allowed' : 'refused');
  return 'error' in d ? d.error : d;
}
