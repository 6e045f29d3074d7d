/**
 * Test-only: a POST through node:http rather than fetch, for what fetch hides or pools — the
 * connection (`agent: false` for a fresh one), hop-by-hop headers. Resolves with the status and
 * the body as text; a socket error rejects.
 */
import { request, type RequestOptions } from 'node:http';

export function postText(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  options: Omit<RequestOptions, 'method' | 'headers'> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
