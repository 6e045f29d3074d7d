/**
 * Test-only: real nats-server processes with JetStream, on free ports, in temp directories.
 *
 * Never uses 4222. Every handle must be stopped by the test that started it (`after()`).
 * The binary is taken from NATS_SERVER_BIN, else `nats-server` on PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { waitFor } from './wait.js';

/** How long a server may take to print "Server is ready", ms. */
export const DEFAULT_NATS_START_TIMEOUT_MS = 10_000;

export interface NatsServerOptions {
  /** Client port; default: a free port picked now and kept across restarts. */
  readonly port?: number;
  /** Server name (JetStream clustering needs one); default `n-<port>`. */
  readonly name?: string;
  /** JetStream store directory; default: a new temp dir, removed by `stop()`. */
  readonly storeDir?: string;
  /** Cluster membership; omitted for a single node. */
  readonly cluster?: {
    readonly name: string;
    readonly port: number;
    readonly routes: readonly number[];
  };
  readonly startTimeoutMs?: number;
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly storeDir: string;
  /** True while the process runs. */
  running(): boolean;
  /** Graceful stop (SIGTERM, then SIGKILL after 5 s). Idempotent. Removes an owned store dir. */
  stop(): Promise<void>;
  /** SIGKILL: the crash case. Keeps the store dir for `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same port and store dir (after `kill()` or a stop with keepStore). */
  restart(): Promise<void>;
}

export interface NatsClusterHandle {
  readonly servers: readonly NatsServerHandle[];
  /** All client URLs, comma-separated, as NATS clients accept them. */
  readonly urls: string[];
  stop(): Promise<void>;
}

/** A port that was free a moment ago (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

function configText(port: number, name: string, storeDir: string, opts: NatsServerOptions): string {
  const lines = [`listen: "127.0.0.1:${port}"`, `server_name: "${name}"`, `jetstream { store_dir: ${JSON.stringify(storeDir)} }`];
  if (opts.cluster) {
    const routes = opts.cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ');
    lines.push(`cluster { name: "${opts.cluster.name}", listen: "127.0.0.1:${opts.cluster.port}", routes: [${routes}] }`);
  }
  return lines.join('\n') + '\n';
}

const NATS_CANDIDATES = ['/usr/bin/nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];

/** NATS_SERVER_BIN, else the Debian package's binary, else whatever `nats-server` is on PATH. */
function natsBinary(): string {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv) return fromEnv;
  return NATS_CANDIDATES.find((p) => existsSync(p)) ?? 'nats-server';
}

function waitReady(child: ChildProcess, timeoutMs: number, bin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (b: Buffer): void => {
      log += b.toString();
      if (log.includes('Server is ready')) {
        done();
        resolve();
      }
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`nats-server exited (${String(code)}) before ready:\n${log.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`nats-server not ready within ${timeoutMs} ms:\n${log.slice(-2000)}`));
    }, timeoutMs);
    const onError = (err: NodeJS.ErrnoException): void => {
      done();
      reject(
        err.code === 'ENOENT'
          ? new Error(`nats-server not found (${bin}): install it with \`apt-get install nats-server\` or set NATS_SERVER_BIN`, {
              cause: err,
            })
          : err,
      );
    };
    const done = (): void => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      // Keep draining so the pipe never fills and blocks the server.
      child.stderr?.resume();
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts one nats-server with JetStream. A port picked here may be taken by someone else before
 * the server binds it: then it is tried again on another port, up to three times.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  if (opts.port !== undefined) return startNatsServerOnce(opts);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startNatsServerOnce(opts);
    } catch (err) {
      lastError = err;
      if (err instanceof Error && err.message.includes('nats-server not found')) throw err;
    }
  }
  throw lastError;
}

async function startNatsServerOnce(opts: NatsServerOptions): Promise<NatsServerHandle> {
  const port = opts.port ?? (await freePort());
  const name = opts.name ?? `n-${port}`;
  const ownsStore = opts.storeDir === undefined;
  const base = await mkdtemp(join(tmpdir(), 'odin-nats-'));
  const storeDir = opts.storeDir ?? join(base, 'js');
  const confPath = join(base, 'nats.conf');
  await writeFile(confPath, configText(port, name, storeDir, opts));
  const bin = natsBinary();
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_NATS_START_TIMEOUT_MS;
  let child: ChildProcess | null = null;
  let stopped = false;

  const spawnOnce = async (): Promise<void> => {
    const c = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    await waitReady(c, timeoutMs, bin);
  };

  const killWith = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = waitExit(c);
    c.kill(signal);
    if (signal === 'SIGTERM') {
      const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    } else {
      await exited;
    }
  };

  try {
    await spawnOnce();
  } catch (err) {
    await killWith('SIGKILL');
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    name,
    storeDir,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    async stop() {
      if (stopped) return;
      stopped = true;
      await killWith('SIGTERM');
      await rm(ownsStore ? base : confPath, { recursive: true, force: true });
    },
    kill: () => killWith('SIGKILL'),
    async restart() {
      if (stopped) throw new Error('server was stopped for good');
      await killWith('SIGTERM');
      await spawnOnce();
    },
  };
}

/** Starts `n` routed nats-servers (JetStream clustered, so R3 streams work with n >= 3). */
export async function startNatsCluster(n: number, name = 'odin-test'): Promise<NatsClusterHandle> {
  const clusterPorts: number[] = [];
  for (let i = 0; i < n; i++) clusterPorts.push(await freePort());
  const starts: Promise<NatsServerHandle>[] = [];
  for (let i = 0; i < n; i++) {
    starts.push(
      startNatsServer({
        name: `${name}-${i}`,
        cluster: { name, port: clusterPorts[i]!, routes: clusterPorts.filter((_, j) => j !== i) },
      }),
    );
  }
  const settled = await Promise.allSettled(starts);
  const servers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    throw failed.reason;
  }
  try {
    await waitJetStreamReady(servers.map((s) => s.url));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/**
 * Resolves once JetStream answers API requests through `urls` (a cluster needs a meta leader
 * first, which takes a few seconds after the routes connect).
 */
export async function waitJetStreamReady(urls: readonly string[], timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers: [...urls], reconnect: false });
  const answers = async (): Promise<boolean> => {
    try {
      const r = await nc.request('$JS.API.INFO', undefined, { timeout: 1_000 });
      return r.json<{ error?: unknown }>().error === undefined;
    } catch {
      return false; // not ready yet: no responders or timeout while the meta leader is elected
    }
  };
  try {
    await waitFor(answers, timeoutMs, 'JetStream to answer', { everyMs: 100 });
  } finally {
    await nc.close();
  }
}
