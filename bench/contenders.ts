/**
 * The servers the benchmark compares, each started as a child process on loopback with a
 * random port, so its CPU and memory can be read from /proc and nothing else shares it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpApiTarget, NatsTarget, type Outgoing, type PublishTarget } from '../src/lib/loadtest/publisher.js';
import type { LoadProtocol } from '../src/lib/loadtest/protocols.js';

/** Sent to the gateways through GATEWAY_API_KEY (secrets are never flags); at least 16 characters. */
export const BENCH_API_KEY = 'bench-api-key-0123';
/** Connections a contender must accept (scenario 3 goes to 19,000 in one process). */
const MAX_CONNECTIONS = 19_800;
const START_TIMEOUT_MS = 15_000;

export interface RunningContender {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  readonly protocol: LoadProtocol;
  readonly path?: string;
  publisher(): Promise<PublishTarget>;
  stop(): Promise<void>;
}

export interface Contender {
  /** Short id used in tables, JSON and `--contenders`. */
  readonly name: string;
  readonly description: string;
  /** Why it cannot run here, or null. */
  unavailable(): string | null;
  start(): Promise<RunningContender>;
}

const BIN = fileURLToPath(new URL('../../bin/odin-ws.js', import.meta.url));
const NAIVE = fileURLToPath(new URL('./naive-server.js', import.meta.url));

function onPath(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Spawns a process and waits until its output matches every pattern; returns the matches. */
function spawnUntil(
  cmd: string,
  args: string[],
  patterns: RegExp[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; matches: RegExpExecArray[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const matches: (RegExpExecArray | null)[] = patterns.map(() => null);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} did not start in ${START_TIMEOUT_MS} ms:\n${out.slice(-2000)}`));
    }, START_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      if (matches.every((m) => m !== null)) return;
      out += d.toString();
      patterns.forEach((p, i) => (matches[i] ??= p.exec(out)));
      if (matches.every((m) => m !== null)) {
        clearTimeout(timer);
        resolve({ child, matches: matches as RegExpExecArray[] });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code} before it was ready:\n${out.slice(-2000)}`));
    });
    child.once('error', reject);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Drains a child's output so a full pipe never blocks it. */
function drain(child: ChildProcess): void {
  child.stdout?.resume();
  child.stderr?.resume();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The arguments every odin-ws gateway contender starts with (loopback, port 0, the bench key, room for the load). */
function gatewayArgs(): string[] {
  return [
    // Node flags for our gateway only (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile a run;
    // NODE_OPTIONS refuses --cpu-prof and would reach the load client too).
    ...(process.env.ODIN_BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
    BIN,
    'gateway',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--log-level',
    'info',
    '--max-connections',
    String(MAX_CONNECTIONS),
  ];
}

/** Our gateway, memory broker. */
const gatewayContender: Contender = {
  name: 'odin-ws',
  description: 'odin-ws gateway, memory broker',
  unavailable: () => null,
  async start() {
    const { child, matches } = await spawnUntil(process.execPath, gatewayArgs(), [/"url":"http:\/\/127\.0\.0\.1:(\d+)"/]);
    return odinHttpServer(child, Number(matches[0]![1]));
  },
};

/** A server child that speaks the Odin protocol and takes publications on our HTTP API. */
function odinHttpServer(child: ChildProcess, port: number): RunningContender {
  drain(child);
  return {
    pid: child.pid!,
    host: '127.0.0.1',
    port,
    protocol: 'odin',
    publisher: async () => new HttpApiTarget(`http://127.0.0.1:${port}`, BENCH_API_KEY),
    stop: () => stopChild(child),
  };
}

/** The naive `ws` broadcast server (encode per client, no batching). */
export const naiveContender: Contender = {
  name: 'naive-ws',
  description: 'plain `ws` broadcast server, JSON.stringify + send per client',
  unavailable: () => null,
  async start() {
    const { child, matches } = await spawnUntil(process.execPath, [NAIVE], [/listening (\d+)/], { ...process.env, ODIN_NAIVE_SERVER: '1' });
    return odinHttpServer(child, Number(matches[0]![1]));
  },
};

/** nats-server with its built-in WebSocket listener; publications over its TCP client port. */
export const natsContender: Contender = {
  name: 'nats-server',
  description: 'nats-server WebSocket listener (NATS protocol over WebSocket)',
  unavailable: () => (onPath('nats-server') ? null : 'nats-server not on PATH (apt-get install nats-server)'),
  async start() {
    const dir = mkdtempSync(join(tmpdir(), 'odin-bench-nats-'));
    const conf = join(dir, 'nats.conf');
    writeFileSync(
      conf,
      `listen: "127.0.0.1:-1"\nmax_connections: 100000\nmax_pending: 67108864\nwebsocket { listen: "127.0.0.1:-1", no_tls: true }\n`,
    );
    const { child, matches } = await spawnUntil(
      'nats-server',
      ['-c', conf],
      [/websocket clients on ws:\/\/127\.0\.0\.1:(\d+)/, /client connections on 127\.0\.0\.1:(\d+)/],
    );
    drain(child);
    const wsPort = Number(matches[0]![1]);
    const clientPort = Number(matches[1]![1]);
    return {
      pid: child.pid!,
      host: '127.0.0.1',
      port: wsPort,
      protocol: 'nats',
      publisher: () => NatsTarget.connect('127.0.0.1', clientPort),
      stop: async () => {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Centrifugo, when a `centrifugo` binary is installed (the repo carries none of its code). */
export const centrifugoContender: Contender = {
  name: 'centrifugo',
  description: 'Centrifugo (installed binary), memory engine, JSON protocol',
  unavailable: () => (onPath('centrifugo') ? null : 'centrifugo not on PATH (go install github.com/centrifugal/centrifugo/v6@latest)'),
  async start() {
    const dir = mkdtempSync(join(tmpdir(), 'odin-bench-centrifugo-'));
    const port = await freePort();
    const conf = join(dir, 'config.json');
    writeFileSync(
      conf,
      JSON.stringify({
        http_server: { address: '127.0.0.1', port },
        http_api: { key: BENCH_API_KEY },
        client: { insecure: true, allowed_origins: ['*'] },
        channel: { without_namespace: { allow_subscribe_for_anonymous: true, allow_subscribe_for_client: true } },
        log: { level: 'error' },
      }),
    );
    const child = spawn('centrifugo', ['--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    drain(child);
    // Ready when its HTTP port answers.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline || child.exitCode !== null) {
        await stopChild(child);
        throw new Error('centrifugo did not start');
      }
      await new Promise<void>((r) => setTimeout(r, 100));
    }
    return {
      pid: child.pid!,
      host: '127.0.0.1',
      port,
      protocol: 'centrifuge',
      publisher: async () => new HttpApiTarget(`http://127.0.0.1:${port}`, BENCH_API_KEY),
      stop: async () => {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** A nats-server carrying an Odin NATS feed (JetStream on: the JetStream broker and the Go gateway need it). */
async function startFeedNats(): Promise<{ child: ChildProcess; url: string; clientPort: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'odin-bench-feed-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: "127.0.0.1:-1"\nmax_pending: 67108864\njetstream { store_dir: "${dir}/js" }\n`);
  const { child, matches } = await spawnUntil('nats-server', ['-c', conf], [/client connections on 127\.0\.0\.1:(\d+)/, /Server is ready/]);
  drain(child);
  const clientPort = Number(matches[0]![1]);
  return { child, url: `nats://127.0.0.1:${clientPort}`, clientPort, dir };
}

/** Publishes the benchmark's channels as Odin feed subjects: `BENCH.trade` → `odin.token.BENCH.trade`. */
class FeedTarget implements PublishTarget {
  constructor(private readonly inner: NatsTarget) {}
  send(batch: readonly Outgoing[]): Promise<void> {
    return this.inner.send(batch.map((m) => ({ ...m, channel: `odin.token.${m.channel}` })));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function feedServer(gateway: ChildProcess, port: number, feed: { child: ChildProcess; clientPort: number; dir: string }): RunningContender {
  drain(gateway);
  return {
    pid: gateway.pid!,
    host: '127.0.0.1',
    port,
    protocol: 'odin',
    publisher: async () => new FeedTarget(await NatsTarget.connect('127.0.0.1', feed.clientPort)),
    stop: async () => {
      await stopChild(gateway);
      await stopChild(feed.child);
      rmSync(feed.dir, { recursive: true, force: true });
    },
  };
}

/**
 * Our gateway fed by NATS subjects (`--ingest nats`), on the memory or the JetStream broker,
 * optionally with `client.writeDelayMs` (name suffix `-wdN`). CPU: the gateway process.
 */
export function natsFeedContender(broker: 'memory' | 'nats', writeDelayMs?: number): Contender {
  const base = broker === 'memory' ? 'odin-ws-feed' : 'odin-ws-js-feed';
  return {
    name: writeDelayMs === undefined ? base : `${base}-wd${writeDelayMs}`,
    description:
      `odin-ws gateway fed by NATS subjects (ingest), ${broker === 'memory' ? 'memory broker' : 'JetStream broker (one process)'}` +
      (writeDelayMs === undefined ? '' : `, client.writeDelayMs ${writeDelayMs}`),
    unavailable: () => (onPath('nats-server') ? null : 'nats-server not on PATH'),
    async start() {
      const feed = await startFeedNats();
      const configArgs: string[] = [];
      if (writeDelayMs !== undefined) {
        const conf = join(feed.dir, 'gateway.json');
        writeFileSync(conf, JSON.stringify({ client: { writeDelayMs } }));
        configArgs.push('--config', conf);
      }
      try {
        const { child, matches } = await spawnUntil(
          process.execPath,
          [
            ...gatewayArgs(),
            '--broker',
            broker,
            ...(broker === 'nats' ? ['--workers', '1'] : []),
            '--nats-url',
            feed.url,
            '--ingest',
            'nats',
            ...configArgs,
          ],
          [/"url":"http:\/\/127\.0\.0\.1:(\d+)"/],
        );
        return feedServer(child, Number(matches[0]![1]), feed);
      } catch (err) {
        await stopChild(feed.child);
        throw err;
      }
    },
  };
}

/**
 * The Go gateway odin-ws replaces (adred-codev/ws_poc, its NATS-fed build), when
 * ODIN_BENCH_GO_GATEWAY names its binary (built outside this repository; docs/performance.md
 * says how). Its rate limits and CPU brakes are opened so it runs as fast as it can.
 */
export const goGatewayContender: Contender = {
  name: 'go-gateway',
  description: 'the Go gateway (ws_poc, NATS/JetStream-fed), same feed',
  unavailable: () => {
    const bin = process.env.ODIN_BENCH_GO_GATEWAY;
    if (!bin) return 'set ODIN_BENCH_GO_GATEWAY to the ws_poc gateway binary';
    return existsSync(bin) ? (onPath('nats-server') ? null : 'nats-server not on PATH') : `${bin} not found`;
  },
  async start() {
    const feed = await startFeedNats();
    const port = await freePort();
    const child = spawn(process.env.ODIN_BENCH_GO_GATEWAY!, [], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(),
      env: {
        ...process.env,
        WS_ADDR: `127.0.0.1:${port}`,
        NATS_URL: feed.url,
        WS_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
        WS_CPU_LIMIT: String(cpusOnMachine()),
        WS_MEMORY_LIMIT: String(8 * 2 ** 30),
        WS_MAX_NATS_RATE: '1000000',
        WS_MAX_BROADCAST_RATE: '1000000',
        WS_MAX_GOROUTINES: '1000000',
        WS_CPU_REJECT_THRESHOLD: '100',
        WS_CPU_PAUSE_THRESHOLD: '100',
        LOG_LEVEL: 'warn',
      },
    });
    drain(child);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.status < 500,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline || child.exitCode !== null) {
        await stopChild(child);
        await stopChild(feed.child);
        throw new Error('the Go gateway did not start');
      }
      await new Promise<void>((r) => setTimeout(r, 100));
    }
    return feedServer(child, port, feed);
  },
};

function cpusOnMachine(): number {
  return Math.max(1, availableParallelism());
}

/**
 * `client.writeDelayMs` values with a NATS-fed contender of their own (`odin-ws-feed-wdN`); the
 * default (16 ms) is `odin-ws-feed` itself.
 */
export const WRITE_DELAYS_MS = [0, 1, 2, 5, 10, 15, 20] as const;

export function allContenders(): Contender[] {
  return [
    gatewayContender,
    natsContender,
    naiveContender,
    centrifugoContender,
    natsFeedContender('memory'),
    natsFeedContender('nats'),
    ...WRITE_DELAYS_MS.map((ms) => natsFeedContender('memory', ms)),
    goGatewayContender,
  ];
}
