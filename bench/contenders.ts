/**
 * The servers the benchmark compares, each started as a child process on loopback with a
 * random port, so its CPU and memory can be read from /proc and nothing else shares it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, homedir, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpApiTarget, NatsTarget, type Outgoing, type PublishTarget } from '../src/lib/loadtest/publisher.js';
import type { LoadProtocol } from '../src/lib/loadtest/protocols.js';
import { KafkaAdmin, KafkaProducer, type RecordToProduce } from '../src/lib/kafka/client.js';
import { DEFAULT_TOPIC_PARTITIONS, ODIN_TOPICS, TOPIC_CONFIGS } from '../src/lib/kafka/topics.js';
import { DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_TTL_MS } from '../src/lib/core/options.js';
import { kafkaLibsDir, startLocalKafka, type LocalKafka } from '../src/lib/kafka-local/local-broker.js';

/** Sent to the gateways through GATEWAY_API_KEY (secrets are never flags); at least 16 characters. */
export const BENCH_API_KEY = 'bench-api-key-0123';
/** Connections a contender must accept by default (scenario 3 goes to 19,000 in one process; `scale` asks for more). */
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
  start(o?: StartOptions): Promise<RunningContender>;
}

export interface StartOptions {
  /** Connections the server must accept (its connection cap is set to this); default 19,800. */
  readonly maxConnections?: number;
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
  env: NodeJS.ProcessEnv = { ...process.env, GATEWAY_API_KEY: BENCH_API_KEY },
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
function gatewayArgs(maxConnections = MAX_CONNECTIONS): string[] {
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
    String(maxConnections),
  ];
}

/** Our gateway, memory broker. */
const gatewayContender: Contender = {
  name: 'odin-ws',
  description: 'odin-ws gateway, memory broker',
  unavailable: () => null,
  async start(o) {
    const { child, matches } = await spawnUntil(process.execPath, gatewayArgs(o?.maxConnections), [/"url":"http:\/\/127\.0\.0\.1:(\d+)"/]);
    return odinHttpServer(child, Number(matches[0]![1]));
  },
};

/** A server child that speaks the Odin protocol; publications go to `publisher` (our HTTP API unless given). */
function odinHttpServer(
  child: ChildProcess,
  port: number,
  publisher: () => Promise<PublishTarget> = async () => new HttpApiTarget(`http://127.0.0.1:${port}`, BENCH_API_KEY),
): RunningContender {
  drain(child);
  return { pid: child.pid!, host: '127.0.0.1', port, protocol: 'odin', publisher, stop: () => stopChild(child) };
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

/** Centrifugo's version the benchmark pins (scripts/provision/45-centrifugo.sh builds it). */
const CENTRIFUGO_VERSION = 'v6.9.1';

/** CENTRIFUGO_BIN, else the provisioned build in the cache outside the repository, else `centrifugo` on PATH. */
function centrifugoBinary(): string | null {
  if (process.env.CENTRIFUGO_BIN) return existsSync(process.env.CENTRIFUGO_BIN) ? process.env.CENTRIFUGO_BIN : null;
  const cache = process.env.ODIN_WS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'odin-ws');
  const built = join(cache, `centrifugo-${CENTRIFUGO_VERSION}`, 'centrifugo');
  return existsSync(built) ? built : onPath('centrifugo');
}

/**
 * Centrifugo (the repo carries none of its code): memory engine, JSON protocol, anonymous
 * subscribers, and the history and recovery of our default namespace (1,000 publications,
 * 5 minutes, recovery on), so both keep the same per-publication state.
 */
export const centrifugoContender: Contender = {
  name: 'centrifugo',
  description: `Centrifugo (${CENTRIFUGO_VERSION} build or installed binary), memory engine, JSON protocol, history 1000/300 s`,
  unavailable: () =>
    centrifugoBinary() !== null
      ? null
      : `no centrifugo binary: set CENTRIFUGO_BIN or run scripts/provision/45-centrifugo.sh (go install github.com/centrifugal/centrifugo/v6@${CENTRIFUGO_VERSION})`,
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
        channel: {
          without_namespace: {
            allow_subscribe_for_anonymous: true,
            allow_subscribe_for_client: true,
            history_size: DEFAULT_HISTORY_SIZE,
            history_ttl: `${DEFAULT_HISTORY_TTL_MS / 1000}s`,
            force_recovery: true,
          },
        },
        // Off by default in v6: the readiness check below needs it.
        health: { enabled: true },
        log: { level: 'error' },
      }),
    );
    const child = spawn(centrifugoBinary()!, ['--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
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
export function natsFeedContender(broker: 'memory' | 'nats', writeDelayMs?: number, workers = 1): Contender {
  const base = broker === 'memory' ? 'odin-ws-feed' : 'odin-ws-js-feed';
  return {
    name: (writeDelayMs === undefined ? base : `${base}-wd${writeDelayMs}`) + (workers > 1 ? `-w${workers}` : ''),
    description:
      `odin-ws gateway fed by NATS subjects (ingest), ${broker === 'memory' ? 'memory broker' : `JetStream broker (${workers > 1 ? `--workers ${workers}` : 'one process'})`}` +
      (writeDelayMs === undefined ? '' : `, client.writeDelayMs ${writeDelayMs}`),
    unavailable: () => (onPath('nats-server') ? null : 'nats-server not on PATH'),
    async start(o) {
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
            ...gatewayArgs(o?.maxConnections),
            '--broker',
            broker,
            ...(broker === 'nats' ? ['--workers', String(workers)] : []),
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
  async start(o) {
    const feed = await startFeedNats();
    const port = await freePort();
    const child = spawn(process.env.ODIN_BENCH_GO_GATEWAY!, [], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(),
      env: {
        ...process.env,
        WS_ADDR: `127.0.0.1:${port}`,
        NATS_URL: feed.url,
        WS_MAX_CONNECTIONS: String(o?.maxConnections ?? MAX_CONNECTIONS),
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

// ---------------------------------------------------------------- Kafka feed

/**
 * The one local Kafka broker (Maven jars, KRaft, docs/kafka.md) the Kafka-fed contenders of a run
 * share, with the eight Odin topics (12 partitions); started on first use, stopped by
 * `stopSharedFeeds()` when the run ends. Its CPU is the feed's, not a contender's.
 */
let kafkaFeed: Promise<LocalKafka> | null = null;

function sharedKafka(): Promise<LocalKafka> {
  kafkaFeed ??= (async () => {
    const kafka = await startLocalKafka({ heapMb: 1024 });
    const admin = new KafkaAdmin({ brokers: [kafka.bootstrap] });
    try {
      // ensureTopics waits until every partition has a leader (a producer retrying before would duplicate records).
      await admin.ensureTopics(
        ODIN_TOPICS.map((t) => ({
          topic: t.topic,
          partitions: DEFAULT_TOPIC_PARTITIONS,
          replicas: 1,
          configs: { ...TOPIC_CONFIGS, 'retention.ms': String(t.retentionMs) },
        })),
      );
    } catch (err) {
      await kafka.stop();
      throw err;
    } finally {
      await admin.close();
    }
    return kafka;
  })().catch((err: unknown) => {
    kafkaFeed = null;
    throw err;
  });
  return kafkaFeed;
}

/** Stops what the contenders of a run share (the Kafka broker); harmless when nothing was started. */
export async function stopSharedFeeds(): Promise<void> {
  const k = kafkaFeed;
  kafkaFeed = null;
  if (k) await (await k.catch(() => null))?.stop();
}

const TOPIC_BY_SUFFIX = new Map(ODIN_TOPICS.map((t) => [t.suffix, t.topic]));

/**
 * A benchmark publication as the original Odin publisher writes it to Kafka: `BENCH.trade` →
 * topic `odin.trades`, key `BENCH`, value `{"type":"TRADE_EXECUTED","timestamp":ms,"data":{price,
 * amount, buyer, seller, txHash}}` (docs/kafka.md), Kafka timestamp = the event's. `data` also
 * carries the load client's `s` (per-channel sequence) and `t` (CLOCK_MONOTONIC µs): both
 * gateways forward the value raw, so the client times it the same way behind either.
 */
export function odinTradeRecord(m: Outgoing, now = Date.now()): RecordToProduce {
  const dot = m.channel.indexOf('.');
  const topic = dot > 0 ? TOPIC_BY_SUFFIX.get(m.channel.slice(dot + 1)) : undefined;
  if (topic !== 'odin.trades') throw new Error(`kafka feed: ${m.channel} is not a <token>.trade channel`);
  const p = JSON.parse(m.data) as { s: number; t: number; price: number };
  return {
    topic,
    key: m.channel.slice(0, dot),
    timestamp: now,
    value:
      `{"type":"TRADE_EXECUTED","timestamp":${now},"data":{"price":${p.price},"amount":1.25,"buyer":"buyer-0001",` +
      `"seller":"seller-0002","txHash":"0x${p.s.toString(16).padStart(40, '0')}","s":${p.s},"t":${p.t}}}`,
  };
}

/** Publishes through a Kafka producer (acks=all), one produce request per publisher batch. */
class OdinKafkaTarget implements PublishTarget {
  private readonly producer: KafkaProducer;
  constructor(bootstrap: string) {
    this.producer = new KafkaProducer({ brokers: [bootstrap] });
  }
  send(batch: readonly Outgoing[]): Promise<void> {
    const now = Date.now();
    return this.producer.send(batch.map((m) => odinTradeRecord(m, now)));
  }
  close(): Promise<void> {
    return this.producer.close();
  }
}

function kafkaUnavailable(): string | null {
  try {
    kafkaLibsDir();
    return onPath('java') ? null : 'java not on PATH (scripts/provision/30-kafka.sh)';
  } catch (err) {
    return (err as Error).message;
  }
}

/** A server child that speaks the Odin protocol, fed by records produced to the local Kafka broker. */
function kafkaServer(child: ChildProcess, port: number, bootstrap: string): RunningContender {
  return odinHttpServer(child, port, async () => new OdinKafkaTarget(bootstrap));
}

/** A consumer group of its own per start: each gateway reads every record from the latest offset on. */
let groupSeq = 0;
const benchGroup = (name: string): string => `bench-${name}-${process.pid}-${++groupSeq}`;

/**
 * Our gateway fed from Kafka (`--ingest kafka`, memory broker, each mode: its own group, from
 * the latest offset), with its default settings. Ready once its partitions are assigned.
 */
export const kafkaGatewayContender: Contender = {
  name: 'odin-ws-kafka',
  description: 'odin-ws gateway fed from Kafka (--ingest kafka), memory broker',
  unavailable: kafkaUnavailable,
  async start(o) {
    const kafka = await sharedKafka();
    const { child, matches } = await spawnUntil(
      process.execPath,
      [...gatewayArgs(o?.maxConnections), '--ingest', 'kafka', '--kafka-brokers', kafka.bootstrap, '--kafka-group', benchGroup('odin-ws')],
      [/"url":"http:\/\/127\.0\.0\.1:(\d+)"/, /kafka ingest: partitions assigned/],
    );
    return kafkaServer(child, Number(matches[0]![1]), kafka.bootstrap);
  },
};

/**
 * The original Odin Go gateway fed from Kafka (adred-codev/ws_poc, branch `kafka-refactor`),
 * `ws/cmd/single` (env ODIN_BENCH_GO_GATEWAY_KAFKA) or `ws/cmd/multi` (ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI,
 * one shard per core behind its load balancer), built outside this repository
 * (docs/performance.md). Its production settings (deployments/v1/gcp/distributed/ws-server),
 * except: the Kafka and broadcast rate limits (25/s and 20–25/s in production, which would
 * drop records) and the CPU reject/pause thresholds (75/80 %, which would refuse connections and
 * drop records under load) are opened; its CPU and memory limits are this machine's; its
 * connection and goroutine caps fit the connections under test. Ready once its consumer
 * (each shard's, in multi) has its partitions.
 */
export function goKafkaContender(mode: 'single' | 'multi'): Contender {
  const envName = mode === 'single' ? 'ODIN_BENCH_GO_GATEWAY_KAFKA' : 'ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI';
  return {
    name: mode === 'single' ? 'go-gateway-kafka' : 'go-gateway-kafka-multi',
    description: `the original Go gateway (ws_poc kafka-refactor, ws/cmd/${mode}), Kafka-fed`,
    unavailable: () => {
      const bin = process.env[envName];
      if (!bin) return `set ${envName} to the ws_poc kafka-refactor ws/cmd/${mode} binary`;
      return existsSync(bin) ? kafkaUnavailable() : `${bin} not found`;
    },
    async start(o) {
      const kafka = await sharedKafka();
      const maxConnections = o?.maxConnections ?? MAX_CONNECTIONS;
      const shards = mode === 'multi' ? cpusOnMachine() : 1;
      const ports = await freePortRun(shards + 1);
      const port = ports + shards; // single: WS_ADDR; multi: the load balancer, after the shards
      const args = mode === 'multi' ? ['-shards', String(shards), '-base-port', String(ports), '-lb-addr', `127.0.0.1:${port}`] : [];
      const { child } = await spawnUntil(
        process.env[envName]!,
        args,
        // zerolog JSON lines; one consumer (group) per shard.
        [new RegExp(Array.from({ length: shards }, () => 'Partitions assigned').join('[\\s\\S]*'))],
        {
          ...process.env,
          ENVIRONMENT: 'production',
          WS_ADDR: `127.0.0.1:${port}`,
          KAFKA_BROKERS: kafka.bootstrap,
          KAFKA_CONSUMER_GROUP: benchGroup(mode === 'single' ? 'go' : 'go-multi'),
          WS_MAX_CONNECTIONS: String(maxConnections),
          WS_CPU_LIMIT: String(cpusOnMachine()),
          WS_MEMORY_LIMIT: String(totalmem()),
          WS_MAX_KAFKA_RATE: '1000000',
          WS_MAX_BROADCAST_RATE: '1000000',
          // Production: 30,000 (single) / 45,500 (multi) for 18,000 connections; two goroutines a connection.
          WS_MAX_GOROUTINES: String(Math.max(45_500, 3 * maxConnections)),
          WS_CPU_REJECT_THRESHOLD: '100',
          WS_CPU_PAUSE_THRESHOLD: '100',
          LOG_LEVEL: 'info',
          LOG_FORMAT: 'json',
        },
      );
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (
        (await fetch(`http://127.0.0.1:${mode === 'multi' ? ports : port}/health`).then(
          (r) => r.status,
          () => 0,
        )) === 0
      ) {
        if (Date.now() > deadline || child.exitCode !== null) {
          await stopChild(child);
          throw new Error('the Go gateway did not answer /health');
        }
        await new Promise<void>((r) => setTimeout(r, 100));
      }
      return kafkaServer(child, port, kafka.bootstrap);
    },
  };
}

/** `n` consecutive loopback ports that were free a moment ago (the multi Go gateway takes base-port + i). */
async function freePortRun(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + n > 65_535) continue;
    const taken = await Promise.all(Array.from({ length: n - 1 }, (_, i) => portTaken(base + 1 + i)));
    if (!taken.includes(true)) return base;
  }
  throw new Error(`no run of ${n} free loopback ports`);
}

function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(false)));
  });
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
    natsFeedContender('nats', undefined, 2),
    ...WRITE_DELAYS_MS.map((ms) => natsFeedContender('memory', ms)),
    goGatewayContender,
    kafkaGatewayContender,
    goKafkaContender('single'),
    goKafkaContender('multi'),
  ];
}
