/** HTTP and TCP probes with a deadline: every failure becomes a short reason, never a throw. */
import { connect } from 'node:net';

/** Default deadline of one probe, ms. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;

export type Probe<T> = { ok: true; status: number; body: T; ms: number } | { ok: false; status: number; error: string; ms: number };

/** Why a fetch failed, in words a user can act on. */
export function reasonOf(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (not running?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  return e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * GET `url`; the body as JSON (or text when `text`). A non-2xx status is a failure carrying the
 * body's text, unless `anyStatus` (a 503 health answer still says why). `headers` are sent as
 * they are (an admin token).
 */
export async function getJson<T = unknown>(
  url: string,
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
  text = false,
  anyStatus = false,
  headers: Readonly<Record<string, string>> = {},
): Promise<Probe<T>> {
  const t0 = performance.now();
  const ms = (): number => Math.round((performance.now() - t0) * 10) / 10;
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
    const raw = await r.text();
    if (!r.ok && !anyStatus)
      return { ok: false, status: r.status, error: `HTTP ${r.status}${raw ? ': ' + raw.slice(0, 120) : ''}`, ms: ms() };
    if (text) return { ok: true, status: r.status, body: raw as T, ms: ms() };
    try {
      return { ok: true, status: r.status, body: JSON.parse(raw) as T, ms: ms() };
    } catch {
      return { ok: false, status: r.status, error: `not JSON: ${raw.slice(0, 80)}`, ms: ms() };
    }
  } catch (err) {
    return { ok: false, status: 0, error: reasonOf(err), ms: ms() };
  }
}

/** Opens a TCP connection to host:port, sends `request` when given, and resolves with the first `need` bytes. */
export function tcpExchange(
  host: string,
  port: number,
  request: Buffer | null,
  need: (buf: Buffer) => boolean,
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
): Promise<Probe<Buffer>> {
  const t0 = performance.now();
  const ms = (): number => Math.round((performance.now() - t0) * 10) / 10;
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (p: Probe<Buffer>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(p);
    };
    const sock = connect({ host, port });
    const timer = setTimeout(() => finish({ ok: false, status: 0, error: 'timed out', ms: ms() }), timeoutMs);
    sock.on('connect', () => {
      if (request === null) finish({ ok: true, status: 0, body: buf, ms: ms() });
      else sock.write(request);
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (need(buf)) finish({ ok: true, status: 0, body: buf, ms: ms() });
    });
    sock.on('error', (err) => finish({ ok: false, status: 0, error: reasonOf({ cause: err }), ms: ms() }));
    sock.on('close', () => finish({ ok: false, status: 0, error: 'closed before answering', ms: ms() }));
  });
}
