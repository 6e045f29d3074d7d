/**
 * Centrifugo's proxies over HTTP: each configured kind (connect, subscribe, publish, refresh)
 * POSTs its JSON request to its URL with a deadline and reads at most `MAX_PROXY_REPLY_BYTES`
 * of the answer. Implements core's `AppProxy` seam (core/proxy.ts) with its guarantees: any
 * failure rejects, so core refuses (fail closed).
 */
import type { AppProxy } from '../core/proxy.js';
import type { ProxyKind } from '../protocol/centrifuge-proxy.js';

/** Largest proxy reply read, bytes; larger is a failure. */
export const MAX_PROXY_REPLY_BYTES = 64 * 1024;

export interface ProxyEndpoint {
  /** http(s) URL; '' = this kind is not proxied. */
  readonly url: string;
  readonly timeoutMs: number;
  /** Names of the client's request headers passed on (lower case). */
  readonly headers: readonly string[];
}

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
}

export class HttpProxy implements AppProxy {
  constructor(private readonly endpoints: Readonly<Record<ProxyKind, ProxyEndpoint>>) {}

  has(kind: ProxyKind): boolean {
    return this.endpoints[kind].url !== '';
  }

  async post(kind: ProxyKind, body: string, clientHeaders: Readonly<Record<string, string>>): Promise<string> {
    const ep = this.endpoints[kind];
    if (ep.url === '') throw new ProxyError(`no ${kind} proxy configured`);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const name of ep.headers) {
      const v = clientHeaders[name];
      if (v !== undefined) headers[name] = v;
    }
    const res = await fetch(ep.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(ep.timeoutMs) });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel();
      throw new ProxyError(`${kind} proxy answered HTTP ${res.status}`);
    }
    return readBounded(res, MAX_PROXY_REPLY_BYTES);
  }
}

async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new ProxyError(`proxy reply larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
