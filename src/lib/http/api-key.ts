/**
 * The one API-key check of every HTTP API here (the gateway's server API, the publisher's control
 * API): `X-API-Key`, else `Authorization: apikey KEY`, else a query parameter where the caller
 * allows one; compared in constant time. An empty expected key refuses everything.
 */
import { timingSafeEqual } from 'node:crypto';

export function checkApiKey(
  expected: string,
  header: string | undefined,
  authorization: string | undefined,
  query?: string | null,
): boolean {
  if (expected === '') return false;
  let given = header;
  if (given === undefined && authorization?.toLowerCase().startsWith('apikey ')) given = authorization.slice(7).trim();
  if (given === undefined && query) given = query;
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
