/**
 * A real single-node Apache Kafka broker (KRaft: broker and controller in one JVM) from the jars
 * that `tools/kafka` resolves from Maven Central, for tests and `odin-ws dev --kafka`, without
 * Docker. Loopback only; free ports unless given; one temp data dir per broker.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Time from `java` start to "Kafka Server started", ms (2.5 s measured; generous for a loaded box). */
export const DEFAULT_KAFKA_START_TIMEOUT_MS = 60_000;
/** Broker JVM heap, MB. */
export const DEFAULT_KAFKA_HEAP_MB = 512;
/** SIGTERM, then SIGKILL after this long, ms (a clean stop takes ~3.5 s). */
const STOP_GRACE_MS = 15_000;

export class LocalKafkaError extends Error {
  override readonly name = 'LocalKafkaError';
  constructor(
    readonly code: 'no_classpath' | 'no_java' | 'format_failed' | 'start_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The repository root, from this file's place in src/ or dist/src/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dir !== dirname(dir)) {
    if (existsSync(join(dir, 'tools', 'kafka', 'pom.xml'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** KAFKA_LIBS (a folder of jars), else tools/kafka/target/libs; throws with the command that fills it. */
export function kafkaLibsDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['KAFKA_LIBS'] ? resolve(env['KAFKA_LIBS']) : join(repoRoot(), 'tools', 'kafka', 'target', 'libs');
  const ok = existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('kafka_2.13-') && f.endsWith('.jar'));
  if (!ok) {
    throw new LocalKafkaError(
      'no_classpath',
      `Kafka's jars are not in ${dir}: run \`bash scripts/provision/30-kafka.sh\` (Maven resolves them from tools/kafka/pom.xml) or set KAFKA_LIBS`,
    );
  }
  return dir;
}

/** A loopback port that was free a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? res(port) : rej(new Error('no free port'))));
    });
  });
}

export interface LocalKafkaOptions {
  /** Client (PLAINTEXT) port; default a free one, kept across restarts. */
  readonly port?: number;
  readonly controllerPort?: number;
  /** Data dir; default a new temp dir, removed by `stop()`. */
  readonly dataDir?: string;
  readonly heapMb?: number;
  readonly startTimeoutMs?: number;
  /** Extra server.properties lines (key → value). */
  readonly properties?: Readonly<Record<string, string>>;
  /** Each broker log line (warnings and the ready line); default: kept for error messages only. */
  readonly onLog?: (line: string) => void;
}

export interface LocalKafka {
  /** `127.0.0.1:<port>`, as clients take it. */
  readonly bootstrap: string;
  readonly port: number;
  readonly dataDir: string;
  running(): boolean;
  /** SIGTERM, SIGKILL after 15 s; removes an owned data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (a crash); keeps the data for `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same ports and data after `kill()`. */
  restart(): Promise<void>;
}

function serverProperties(port: number, cport: number, dataDir: string, extra: Readonly<Record<string, string>>): string {
  const p: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${cport}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dataDir, 'log'),
    // One node: every internal topic has one replica, or the broker waits for others forever.
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    // A consumer group forms at once instead of after 3 s.
    'group.initial.rebalance.delay.ms': '0',
    // Restart after a crash (SIGKILL): the restarted controller keeps the dead incarnation's
    // broker session alive for broker.session.timeout.ms (default 9 s) before the new one may
    // register (apache/kafka KAFKA-19130 spares only a clean shutdown). 3 s with a heartbeat
    // every 0.5 s: measured here (load average 9-13), "Kafka Server started" 13-16 s after a
    // restart became 6.5-8 s (the rest is the JVM and the metadata log).
    'broker.session.timeout.ms': '3000',
    'broker.heartbeat.interval.ms': '500',
    // Topics are created on purpose (with the plans' partitions and retention), never by a typo.
    'auto.create.topics.enable': 'false',
    ...extra,
  };
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

// WARN and above from everything; INFO from the one logger that prints the ready line.
const LOG4J2 = `status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.ready.name = kafka.server.KafkaRaftServer
logger.ready.level = info
`;

const READY_LINE = 'Kafka Server started';

function java(): string {
  const home = process.env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

function format(cp: string, propsFile: string): void {
  const id = spawnSync(java(), ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' });
  if (id.error)
    throw new LocalKafkaError('no_java', `cannot run java: ${id.error.message} (install openjdk-17-jre-headless)`, { cause: id.error });
  const clusterId = id.stdout.trim();
  const r = spawnSync(java(), ['-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '--ignore-formatted'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new LocalKafkaError('format_failed', `kafka storage format failed:\n${r.stdout}${r.stderr}`);
}

/** Formats a storage dir and starts the broker; resolves when it logs "Kafka Server started". */
export async function startLocalKafka(o: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const libs = kafkaLibsDir();
  const cp = join(libs, '*');
  const port = o.port ?? (await freeLoopbackPort());
  const cport = o.controllerPort ?? (await freeLoopbackPort());
  const ownDir = o.dataDir === undefined;
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'odin-ws-kafka-')));
  const propsFile = join(dataDir, 'server.properties');
  const log4jFile = join(dataDir, 'log4j2.properties');
  await writeFile(propsFile, serverProperties(port, cport, dataDir, o.properties ?? {}) + '\n');
  await writeFile(log4jFile, LOG4J2);
  format(cp, propsFile);

  let child: ChildProcess | null = null;
  let stopped = false;
  const launch = (): Promise<void> =>
    new Promise((res, rej) => {
      const args = [`-Xmx${o.heapMb ?? DEFAULT_KAFKA_HEAP_MB}m`, '-XX:+UseSerialGC', `-Dlog4j2.configurationFile=${log4jFile}`];
      const c = spawn(java(), [...args, '-cp', cp, 'kafka.Kafka', propsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      // A broker never outlives the process that started it (a test run cut short, an uncaught error).
      const reap = (): void => void c.kill('SIGKILL');
      process.once('exit', reap);
      c.once('exit', () => process.off('exit', reap));
      let tail = '';
      let ready = false;
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        rej(
          new LocalKafkaError('start_failed', `Kafka not ready within ${o.startTimeoutMs ?? DEFAULT_KAFKA_START_TIMEOUT_MS} ms:\n${tail}`),
        );
      }, o.startTimeoutMs ?? DEFAULT_KAFKA_START_TIMEOUT_MS);
      const onData = (b: Buffer): void => {
        const text = b.toString();
        tail = (tail + text).slice(-4000);
        if (o.onLog) for (const line of text.split('\n')) if (line.trim() !== '') o.onLog(line);
        if (!ready && tail.includes(READY_LINE)) {
          ready = true;
          clearTimeout(timer);
          res();
        }
      };
      c.stdout?.on('data', onData);
      c.stderr?.on('data', onData);
      c.once('error', (err) => {
        clearTimeout(timer);
        rej(new LocalKafkaError('no_java', `cannot run java: ${err.message}`, { cause: err }));
      });
      c.once('exit', (code, signal) => {
        if (!ready) {
          clearTimeout(timer);
          rej(new LocalKafkaError('start_failed', `Kafka exited (${String(code ?? signal)}) before it was ready:\n${tail}`));
        }
      });
    });

  const waitExit = (c: ChildProcess, signal: NodeJS.Signals): Promise<void> =>
    new Promise((res) => {
      if (c.exitCode !== null || c.signalCode !== null) return res();
      const t = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
      c.once('exit', () => {
        clearTimeout(t);
        res();
      });
      c.kill(signal);
    });

  await launch();
  return {
    bootstrap: `127.0.0.1:${port}`,
    port,
    dataDir,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child) await waitExit(child, 'SIGTERM');
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
    async kill() {
      if (child) await waitExit(child, 'SIGKILL');
    },
    async restart() {
      if (child) await waitExit(child, 'SIGKILL');
      await launch();
    },
  };
}
