/**
 * Bench (not a test): the fixed costs of an idle gateway process — no clients, dashboard on (the
 * default) — with Kafka ingest attached to a real local broker, and on the embedded default (memory
 * broker, no ingest). CPU (utime + stime from /proc) and the main thread's wake-ups over a window
 * after start-up, and VmRSS at its end.
 *
 * Every gateway of a round runs at the same time (they are idle: they do not disturb each other),
 * so variants and builds are compared in the same minute of the machine's load. Medians of the
 * rounds.
 *
 *   npm run build && node dist/bench/idle.js [seconds=45] [rounds=3] [bin=bin/odin-ws.js,...]
 *
 * `bin` takes several launchers (comma-separated): a copy of an earlier build's bin/ and dist/
 * inside the checkout compares before and after side by side. Needs Kafka's jars (bash
 * scripts/provision/30-kafka.sh, or KAFKA_LIBS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaAdmin } from '../src/lib/kafka/client.js';
import { ODIN_TOPICS, TOPIC_CONFIGS } from '../src/lib/kafka/topics.js';
import { freeLoopbackPort, startLocalKafka, type LocalKafka } from '../src/lib/kafka-local/local-broker.js';
import { readFileSync } from 'node:fs';
import { cpuSeconds, rssBytes } from './proc.js';

const SECONDS = Number(process.argv[2] ?? 45);
const ROUNDS = Number(process.argv[3] ?? 3);
const BINS = (process.argv[4] ?? fileURLToPath(new URL('../../bin/odin-ws.js', import.meta.url))).split(',').map((b) => resolve(b));
/**
 * Start-up is not part of the fixed cost: module loading, JIT, the Kafka group join, and V8's
 * memory reducer, which runs a full collection of the start-up garbage some 20–25 s after the
 * start (~100 ms of CPU once, measured in a --cpu-prof of an idle gateway).
 */
const SETTLE_MS = 30_000;

/**
 * Times the process's main thread went to sleep and was woken (voluntary context switches): its
 * timers and I/O wake-ups, a figure the machine's load does not blur as it does CPU time.
 */
function wakeups(pid: number): number {
  const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Variant {
  readonly name: string;
  readonly args: (kafka: LocalKafka) => string[];
}

const VARIANTS: readonly Variant[] = [
  { name: 'kafka ingest', args: (k) => ['--ingest', 'kafka', '--kafka-brokers', k.bootstrap] },
  { name: 'embedded', args: () => [] },
];

interface Run {
  readonly child: ChildProcess;
  readonly url: string;
  readonly key: string;
}

async function start(bin: string, args: string[], key: string): Promise<Run> {
  const port = await freeLoopbackPort();
  const logFile = join(tmpdir(), `odin-ws-bench-idle-${process.pid}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [bin, 'gateway', '--host', '127.0.0.1', '--port', String(port), ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}) before it was ready; its log: ${logFile}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) return { child, url, key };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`gateway not ready after 30 s; its log: ${logFile}`);
}

function stop(r: Run): Promise<void> {
  return new Promise((res) => {
    if (r.child.exitCode !== null) return res();
    r.child.once('exit', () => res());
    r.child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const kafka = await startLocalKafka();
  try {
    const admin = new KafkaAdmin({ brokers: [kafka.bootstrap] });
    await admin.ensureTopics(ODIN_TOPICS.map((t) => ({ topic: t.topic, partitions: 12, replicas: 1, configs: { ...TOPIC_CONFIGS } })));
    await admin.close();
    const cpu = new Map<string, number[]>();
    const rss = new Map<string, number[]>();
    const wake = new Map<string, number[]>();
    const loads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const runs: Run[] = [];
      for (const bin of BINS) for (const v of VARIANTS) runs.push(await start(bin, v.args(kafka), `${v.name} | ${bin}`));
      await sleep(SETTLE_MS);
      const t0 = performance.now();
      const c0 = runs.map((r) => cpuSeconds(r.child.pid!));
      const w0 = runs.map((r) => wakeups(r.child.pid!));
      await sleep(SECONDS * 1000);
      const elapsed = (performance.now() - t0) / 1000;
      loads.push(loadavg()[0]!);
      runs.forEach((r, i) => {
        const share = (cpuSeconds(r.child.pid!) - c0[i]!) / elapsed;
        (cpu.get(r.key) ?? cpu.set(r.key, []).get(r.key)!).push(share);
        (rss.get(r.key) ?? rss.set(r.key, []).get(r.key)!).push(rssBytes(r.child.pid!));
        (wake.get(r.key) ?? wake.set(r.key, []).get(r.key)!).push((wakeups(r.child.pid!) - w0[i]!) / elapsed);
      });
      await Promise.all(runs.map(stop));
    }
    console.log(
      `idle gateway, no clients, dashboard on: ${ROUNDS} rounds × ${SECONDS} s, load average ${loads.map((l) => l.toFixed(2)).join(', ')}`,
    );
    console.log('| variant | build | CPU, % of a core (median) | per round | main-thread wake-ups/s (median) | RSS MiB (median) |');
    console.log('|---|---|---:|---|---:|---:|');
    for (const [key, xs] of cpu) {
      const [name, bin] = key.split(' | ');
      const r = rss.get(key)!;
      console.log(
        `| ${name} | ${bin} | ${(median(xs) * 100).toFixed(2)} | ${xs.map((x) => (x * 100).toFixed(2)).join(' ')} | ${median(wake.get(key)!).toFixed(1)} | ${(median(r) / 2 ** 20).toFixed(1)} |`,
      );
    }
  } finally {
    await kafka.stop();
  }
}

await main();
