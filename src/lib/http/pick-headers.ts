import type { HttpRequest } from '../core/transport.js';

/** The request's values of the named headers (lower-case names), those present only. */
export function pickHeaders(req: HttpRequest, names: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const n of names) {
    const v = req.header(n);
    if (v !== undefined) headers[n] = v;
  }
  return headers;
}
