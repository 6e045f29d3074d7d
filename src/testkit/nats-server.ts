/**
 * Test helper: a real nats-server on a free port, started and stopped by the test.
 * Needs the `nats-server` binary (Debian: `apt-get install nats-server`; or set
 * NATS_SERVER_BIN). Ready when its log says so; stop() ends it and removes its store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StartNatsOptions {
  /** Enable JetStream (store in a temporary directory). */
  readonly jetstream?: boolean;
  /** Extra nats-server arguments. */
  readonly args?: readonly string[];
  /** How long to wait for "ready", ms. Default 10000. */
  readonly timeoutMs?: number;
}

export interface RunningNats {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const CANDIDATES = ['/usr/bin/nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];

function natsBinary(): string {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv) return fromEnv;
  return CANDIDATES.find((p) => existsSync(p)) ?? 'nats-server';
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startNats(opts: StartNatsOptions = {}): Promise<RunningNats> {
  // The port may be taken between freePort() and the server's bind: retry a few times.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      lastError = err;
      if (err instanceof Error && err.message.includes('apt-get install nats-server')) throw err;
    }
  }
  throw lastError;
}

async function startOnce(opts: StartNatsOptions): Promise<RunningNats> {
  const port = await freePort();
  const store = opts.jetstream ? await mkdtemp(join(tmpdir(), 'odin-nats-')) : null;
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (store !== null) args.push('-js', '-sd', store);
  args.push(...(opts.args ?? []));
  const bin = natsBinary();
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const cleanup = async (): Promise<void> => {
    if (store !== null) await rm(store, { recursive: true, force: true });
  };
  try {
    await waitReady(child, bin, opts.timeoutMs ?? 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    await cleanup();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }).then(cleanup);
      return stopping;
    },
  };
}

function waitReady(child: ChildProcess, bin: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => finish(new Error(`nats-server not ready after ${timeoutMs} ms; log:\n${log}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8');
      if (log.includes('Server is ready')) finish(null);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      finish(
        err.code === 'ENOENT'
          ? new Error(`nats-server not found (${bin}); install it with \`apt-get install nats-server\` or set NATS_SERVER_BIN`, { cause: err })
          : err,
      );
    };
    const onExit = (code: number | null): void => finish(new Error(`nats-server exited (code ${code}) before ready; log:\n${log}`));
    function finish(err: Error | null): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('error', onError);
      child.off('exit', onExit);
      // Keep draining its output so the pipe never fills up.
      child.stdout?.resume();
      child.stderr?.resume();
      if (err === null) resolve();
      else reject(err);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', onError);
    child.once('exit', onExit);
  });
}
