/**
 * Test-only: one real nats-server with JetStream, in a temp directory — the fixture every test and
 * benchmark that needs NATS starts (test/testkit/nats-cluster.ts builds clusters from it).
 *
 * The server picks its own ports (`listen: 127.0.0.1:-1`) and they are read back from its log, so
 * no port is picked here and handed over (no bind-close-reuse race). A `restart()` reuses the
 * ports it got, so clients reconnect to the same URL. Never 4222. Stopped by PID (the child
 * handle), never by name; every handle must be stopped by the test that started it (`after()`).
 * The binary is taken from NATS_SERVER_BIN, else the Debian package's, else `nats-server` on PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long a server may take to print "Server is ready", ms. */
export const DEFAULT_NATS_START_TIMEOUT_MS = 10_000;

export interface NatsServerOptions {
  /** Server name (JetStream clustering needs one); default `n-<random>`. */
  readonly name?: string;
  /** JetStream store directory; default: a new temp dir, removed by `stop()`. */
  readonly storeDir?: string;
  /** Cluster membership (its route port is picked by the server too); omitted for a single node. */
  readonly cluster?: {
    readonly name: string;
    /** Route ports of servers already running (`NatsServerHandle.clusterPort`). */
    readonly routes: readonly number[];
  };
  readonly startTimeoutMs?: number;
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Route port when started with `cluster`, else null. */
  readonly clusterPort: number | null;
  readonly name: string;
  readonly storeDir: string;
  /** True while the process runs. */
  running(): boolean;
  /** Graceful stop (SIGTERM, then SIGKILL after 5 s). Idempotent. Removes an owned store dir. */
  stop(): Promise<void>;
  /** SIGKILL: the crash case. Keeps the store dir for `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same ports and store dir (after `kill()`). */
  restart(): Promise<void>;
}

const NATS_CANDIDATES = ['/usr/bin/nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];

/** NATS_SERVER_BIN, else the Debian package's binary, else whatever `nats-server` is on PATH. */
function natsBinary(): string {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv) return fromEnv;
  return NATS_CANDIDATES.find((p) => existsSync(p)) ?? 'nats-server';
}

/** Ports as configured: -1 lets the server pick (first start); a number pins it (restart). */
interface Ports {
  client: number;
  cluster: number;
}

/**
 * Clustered JetStream refuses to start without a route. A seed (no routes: nobody is up yet) is
 * started with one to this port, where nothing listens, and given a route to itself once it
 * knows its own port (the server ignores a route to itself).
 */
const SEED_PLACEHOLDER_ROUTE = 1;

function configText(ports: Ports, routes: readonly number[], name: string, storeDir: string, opts: NatsServerOptions): string {
  const lines = [`listen: "127.0.0.1:${ports.client}"`, `server_name: "${name}"`, `jetstream { store_dir: ${JSON.stringify(storeDir)} }`];
  if (opts.cluster) {
    const urls = routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ');
    lines.push(`cluster { name: "${opts.cluster.name}", listen: "127.0.0.1:${ports.cluster}", routes: [${urls}] }`);
  }
  return lines.join('\n') + '\n';
}

/** Reads the ports the server bound from its log, up to "Server is ready" (and the route listener, when `routes`). */
function waitReady(child: ChildProcess, timeoutMs: number, bin: string, routes: boolean): Promise<Ports> {
  return new Promise((resolve, reject) => {
    let log = '';
    const portOf = (what: string): number => Number(new RegExp(`Listening for ${what} connections on [^\\s]*:(\\d+)`).exec(log)?.[1] ?? -1);
    const onData = (b: Buffer): void => {
      log += b.toString();
      // The route listener may start after the server says it is ready.
      if (!log.includes('Server is ready') || (routes && portOf('route') < 0)) return;
      done();
      const client = portOf('client');
      if (client > 0) resolve({ client, cluster: portOf('route') });
      else reject(new Error(`nats-server ready but no client port in its log:\n${log.slice(-2000)}`));
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

/**
 * Servers of this process not stopped yet, with their temp dirs. A test whose setup fails after
 * starting one (so its `after()` has no handle to stop) must neither hang on the server nor leave
 * it running: the server does not hold the event loop open while it runs, and whatever is still
 * running when the process exits is killed here, by PID.
 */
const live = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The server no longer keeps this process alive (its stderr is still drained). */
function background(child: ChildProcess): void {
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts one nats-server with JetStream on ports it picks itself. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const name = opts.name ?? `n-${randomBytes(3).toString('hex')}`;
  const base = await mkdtemp(join(tmpdir(), 'odin-nats-'));
  const storeDir = opts.storeDir ?? join(base, 'js');
  const confPath = join(base, 'nats.conf');
  const bin = natsBinary();
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_NATS_START_TIMEOUT_MS;
  let child: ChildProcess | null = null;
  let stopped = false;
  const running = (): ChildProcess | null => (child !== null && child.exitCode === null && child.signalCode === null ? child : null);

  const seed = opts.cluster !== undefined && opts.cluster.routes.length === 0;
  let routes = seed ? [SEED_PLACEHOLDER_ROUTE] : (opts.cluster?.routes ?? []);
  const spawnWith = async (ports: Ports): Promise<Ports> => {
    await writeFile(confPath, configText(ports, routes, name, storeDir, opts));
    const c = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    live.set(c, base);
    c.once('exit', () => live.delete(c));
    const bound = await waitReady(c, timeoutMs, bin, opts.cluster !== undefined);
    background(c);
    return bound;
  };

  const killWith = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.ref(); // held open until the exit is seen
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

  let ports: Ports;
  try {
    ports = await spawnWith({ client: -1, cluster: -1 });
    if (seed) {
      // The ports stay -1 in the file: a reload cannot change a listen port.
      routes = [ports.cluster];
      await writeFile(confPath, configText({ client: -1, cluster: -1 }, routes, name, storeDir, opts));
      running()?.kill('SIGHUP');
    }
  } catch (err) {
    await killWith('SIGKILL');
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${ports.client}`,
    port: ports.client,
    clusterPort: opts.cluster ? ports.cluster : null,
    name,
    storeDir,
    running: () => running() !== null,
    async stop() {
      if (stopped) return;
      stopped = true;
      await killWith('SIGTERM');
      // base holds the config, and the store unless one was given.
      await rm(base, { recursive: true, force: true });
    },
    kill: () => killWith('SIGKILL'),
    async restart() {
      if (stopped) throw new Error('server was stopped for good');
      await killWith('SIGTERM');
      await spawnWith(ports);
    },
  };
}
