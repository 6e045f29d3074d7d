/**
 * Process exit codes of every `odin-ws` command (documented in docs/operations.md and
 * `odin-ws --help`). Scripts and the Taskfile rely on them: keep the numbers stable.
 */
export const EXIT_OK = 0;
/** A runtime failure, a failed check (health: a required service is down; loadtest: a threshold missed). */
export const EXIT_FAILURE = 1;
/** Bad usage: an unknown flag or a bad value; the message names it. */
export const EXIT_USAGE = 2;
/** The port to listen on is taken (EADDRINUSE) or not allowed (EACCES, EADDRNOTAVAIL). */
export const EXIT_PORT_UNAVAILABLE = 3;

const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'is already in use (another odin-ws or another program listens there; stop it or pick another --port)',
  EACCES: 'may not be opened by this user (ports below 1024 need privileges; pick another --port)',
  EADDRNOTAVAIL: 'is on an address this machine does not have (check --host)',
};

/** A one-line message for an error from `listen` (or one wrapping it as its `cause`), or null when `err` is not one. */
export function listenErrorMessage(err: unknown): string | null {
  const e = err as { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown; cause?: unknown } | null;
  // A cluster worker's listen fails in the primary's bind, hence 'bind'.
  const listening = e?.syscall === 'listen' || e?.syscall === 'bind';
  if (e && !listening && e.cause) return listenErrorMessage(e.cause);
  if (!e || typeof e.code !== 'string' || !listening) return null;
  const what = LISTEN_ERRORS[e.code];
  if (!what) return null;
  const where = typeof e.address === 'string' ? `${e.address}:${String(e.port)}` : `port ${String(e.port)}`;
  return `${where} ${what}`;
}
