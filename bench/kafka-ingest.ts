/**
 * Bench (not a test): Kafka → gateway → WebSocket clients, against a real local Kafka broker.
 *
 *  1. throughput: a backlog of N trade records (200 B, 100 tokens, 12 partitions) is ingested by
 *     a gateway process started afterwards; records/s from the first sample with records published
 *     to the first with all of them (samples every 100 ms from /metrics), and the
 *     gateway's CPU per record (/proc), on the memory broker and through JetStream (shared group,
 *     nats-server). No subscriber: a backlog arrives in bursts of thousands of publications per
 *     loop turn, which overflow any client's queue bound (the client is disconnected as slow, by
 *     design); the fan-out's own cost is the latency run's and bench/micro/hub-fanout's.
 *  2. latency: 1,000 records/s for S seconds into a gateway (memory broker) with one Odin client
 *     subscribed to every channel; value timestamp (set when produced) → client receipt, p50/p99.
 *
 *   npm run build && node dist/bench/kafka-ingest.js [records=300000] [repeats=3] [latencySeconds=20]
 *
 * Needs Kafka's jars (bash scripts/provision/30-kafka.sh) and nats-server. Prints medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { KafkaAdmin, KafkaConsumerSession, KafkaProducer } from '../src/lib/kafka/client.js';
import { ODIN_TOPICS, TOPIC_CONFIGS } from '../src/lib/kafka/topics.js';
import { freeLoopbackPort, startLocalKafka, type LocalKafka } from '../src/lib/kafka-local/local-broker.js';
import { cpuSeconds } from './proc.js';

const N = Number(process.argv[2] ?? 300_000);
const REPEATS = Number(process.argv[3] ?? 3);
const LATENCY_SECONDS = Number(process.argv[4] ?? 20);
const TOKENS = Array.from({ length: 100 }, (_, i) => `TK${i}`);
const CHANNELS = TOKENS.map((t) => `${t}.trade`);
const PARTITIONS = 12;
const BIN = fileURLToPath(new URL('../../bin/odin-ws.js', import.meta.url));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function value(seq: number, ts: number): string {
  // ~200 bytes, the shape of an Odin trade record.
  return JSON.stringify({
    type: 'TRADE_EXECUTED',
    timestamp: ts,
    data: {
      seq,
      price: 43250.5 + (seq % 100),
      amount: 1.25,
      buyer: 'buyer-0001',
      seller: 'seller-0002',
      txHash: `0x${seq.toString(16).padStart(40, '0')}`,
    },
  });
}

async function produceBacklog(kafka: LocalKafka, n: number): Promise<void> {
  const p = new KafkaProducer({ brokers: [kafka.bootstrap] });
  const now = Date.now();
  for (let i = 0; i < n; i += 2000) {
    const batch = Array.from({ length: Math.min(2000, n - i) }, (_, j) => ({
      topic: 'odin.trades',
      key: TOKENS[(i + j) % TOKENS.length]!,
      value: value(i + j, now),
      timestamp: now,
    }));
    await p.send(batch);
  }
  await p.close();
}

/** Commits offset 0 on every partition for `group`, so a gateway starting "committed" reads the whole backlog. */
async function rewindGroup(kafka: LocalKafka, group: string): Promise<void> {
  const s = await KafkaConsumerSession.open(
    { brokers: [kafka.bootstrap] },
    { groupId: group, topics: ['odin.trades'], start: 'earliest' },
    () => undefined,
  );
  s.pause();
  await s.commit(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'odin.trades', partition, offset: 0n })));
  await s.close();
}

interface Gw {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startGateway(args: string[]): Promise<Gw> {
  // The gateway's log goes to a file (a pipe nobody reads would block it once full).
  const logFile = join(tmpdir(), `odin-ws-bench-gateway-${process.pid}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BIN, 'gateway', '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, LOG_LEVEL: 'warn', GATEWAY_API_KEY: 'bench-api-key-0123' },
  });
  closeSync(out);
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`gateway exited (${String(code ?? signal)}); its log: ${logFile}`);
  });
  const port = Number(args[args.indexOf('--port') + 1]);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}) before it listened`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return {
    child,
    url,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

async function published(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('odin_ws_kafka_records_published_total '));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Odin clients subscribed to every channel; counts deliveries and records latencies. */
async function subscribers(wsUrl: string, n: number, onPush?: (ts: number) => void): Promise<{ count: () => number; close(): void }> {
  let count = 0;
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${wsUrl}/ws`);
          ws.on('open', () => {
            ws.send(JSON.stringify({ type: 'subscribe', data: { channels: CHANNELS } }));
            resolve(ws);
          });
          ws.on('error', reject);
          ws.on('message', (buf: Buffer) => {
            const text = buf.toString();
            for (const line of text.split('\n')) {
              if (!line.startsWith('{"type":"TRADE_EXECUTED"')) continue;
              count++;
              if (onPush) onPush((JSON.parse(line) as { data: { timestamp: number } }).data.timestamp);
            }
          });
        }),
    ),
  );
  return { count: () => count, close: () => sockets.forEach((s) => s.close()) };
}

async function throughput(
  kafka: LocalKafka,
  label: string,
  gatewayArgs: (port: number) => string[],
  group: (port: number) => string,
  clients: number,
): Promise<{ rate: number; cpuUsPerRecord: number; delivered: number }> {
  const port = await freeLoopbackPort();
  await rewindGroup(kafka, group(port));
  const gw = await startGateway(['--port', String(port), ...gatewayArgs(port)]);
  const subs = clients > 0 ? await subscribers(gw.url.replace('http', 'ws'), clients) : null;
  // The gateway starts reading once it is ready; sample until the backlog is through.
  const samples: Array<{ t: number; n: number; cpu: number }> = [];
  const deadline = Date.now() + 300_000;
  for (;;) {
    const n = await published(gw.url);
    samples.push({ t: performance.now(), n, cpu: cpuSeconds(gw.child.pid!) });
    if (n >= N || Date.now() > deadline) break;
    await sleep(100);
  }
  // From the first sample with records published to the first with all: a busy gateway answers
  // /metrics late, so fixed fractions of the backlog may fall between two samples.
  const a = samples.find((s) => s.n > 0)!;
  const b = samples.find((s) => s.n >= N)!;
  if (a === b) throw new Error(`backlog of ${N} ingested between two samples: use more records`);
  const rate = (b.n - a.n) / ((b.t - a.t) / 1000);
  const cpuUsPerRecord = ((b.cpu - a.cpu) * 1e6) / (b.n - a.n);
  await sleep(300);
  const delivered = subs?.count() ?? 0;
  subs?.close();
  await gw.stop();
  console.log(
    `  ${label}: ${Math.round(rate)} records/s, ${cpuUsPerRecord.toFixed(1)} µs gateway CPU/record${clients ? `, ${delivered} deliveries to ${clients} clients` : ''}`,
  );
  return { rate, cpuUsPerRecord, delivered };
}

async function latency(kafka: LocalKafka, seconds: number): Promise<{ p50: number; p99: number; n: number }> {
  const port = await freeLoopbackPort();
  const gw = await startGateway([
    '--port',
    String(port),
    '--ingest',
    'kafka',
    '--kafka-brokers',
    kafka.bootstrap,
    '--kafka-group',
    `lat-${Date.now()}`,
  ]);
  for (let i = 0; i < 100 && (await fetch(`${gw.url}/ready`)).status !== 200; i++) await sleep(100);
  const lat: number[] = [];
  const subs = await subscribers(gw.url.replace('http', 'ws'), 1, (ts) => lat.push(Date.now() - ts));
  const p = new KafkaProducer({ brokers: [kafka.bootstrap] });
  const t0 = Date.now();
  let seq = 0;
  // 1,000 records/s: 10 every 10 ms, on a fixed schedule.
  while (Date.now() - t0 < seconds * 1000) {
    const due = Math.floor((Date.now() - t0) / 10) * 10;
    const now = Date.now();
    await p.send(
      Array.from({ length: 10 }, () => ({
        topic: 'odin.trades',
        key: TOKENS[seq % TOKENS.length]!,
        value: value(seq++, now),
        timestamp: now,
      })),
    );
    const wait = t0 + due + 10 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  await sleep(1000);
  await p.close();
  subs.close();
  await gw.stop();
  const warm = lat.slice(Math.floor(lat.length * 0.1)).sort((a, b) => a - b);
  const q = (f: number) => warm[Math.min(warm.length - 1, Math.floor(f * warm.length))]!;
  console.log(`  latency: ${seq} produced over ${seconds} s, ${lat.length} received; p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`);
  return { p50: q(0.5), p99: q(0.99), n: lat.length };
}

/** nats-server with JetStream on a free port, in a temp store (the bench's own: bench/ imports no test code). */
async function startNats(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-bench-nats-'));
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
      if (log.includes('Server is ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited (${String(code)}): ${log}`)));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          r();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  console.log(
    `kafka-ingest bench: ${N} records backlog, ${REPEATS} repeats; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const kafka = await startLocalKafka({ heapMb: 1024 });
  let nats: { url: string; stop(): Promise<void> } | null = null;
  try {
    const admin = new KafkaAdmin({ brokers: [kafka.bootstrap] });
    await admin.ensureTopics(
      ODIN_TOPICS.map((t) => ({
        topic: t.topic,
        partitions: PARTITIONS,
        replicas: 1,
        configs: { ...TOPIC_CONFIGS, 'retention.ms': '3600000' },
      })),
    );
    await admin.close();
    const t0 = performance.now();
    await produceBacklog(kafka, N);
    console.log(`backlog produced: ${Math.round(N / ((performance.now() - t0) / 1000))} records/s`);
    const results: Record<string, Array<{ rate: number; cpuUsPerRecord: number }>> = {};
    const run = async (label: string, args: (port: number) => string[], group: (port: number) => string, clients: number) => {
      (results[label] ??= []).push(await throughput(kafka, label, args, group, clients));
    };
    for (let r = 0; r < REPEATS; r++) {
      console.log(`repeat ${r + 1}/${REPEATS}`);
      const memArgs = (g: string) => (port: number) => [
        '--ingest',
        'kafka',
        '--kafka-brokers',
        kafka.bootstrap,
        '--kafka-start',
        'committed',
        '--kafka-group',
        g,
        '--port',
        String(port),
      ];
      await run('memory, no subscriber', memArgs('bm0'), (port) => `bm0-${hostname()}-${port}`, 0);
      // A fresh JetStream each time: the previous run's records are in its stream already, and
      // the ingest (rightly) skips them as published.
      await nats?.stop();
      nats = await startNats();
      const natsUrl = nats.url;
      const js = (g: string) => () => [
        '--broker',
        'nats',
        '--nats-url',
        natsUrl,
        '--workers',
        '1',
        '--ingest',
        'kafka',
        '--kafka-brokers',
        kafka.bootstrap,
        '--kafka-group',
        g,
      ];
      const gjs = `bjs-${r}-${Date.now()}`;
      await run('jetstream, no subscriber', js(gjs), () => gjs, 0);
    }
    console.log('\nmedians:');
    for (const [label, rs] of Object.entries(results)) {
      console.log(
        `  ${label}: ${Math.round(median(rs.map((x) => x.rate)))} records/s, ${median(rs.map((x) => x.cpuUsPerRecord)).toFixed(1)} µs CPU/record`,
      );
    }
    const lats: Array<{ p50: number; p99: number }> = [];
    for (let r = 0; r < REPEATS; r++) lats.push(await latency(kafka, LATENCY_SECONDS));
    console.log(
      `  latency at 1,000 records/s (memory broker): p50 ${median(lats.map((l) => l.p50))} ms, p99 ${median(lats.map((l) => l.p99))} ms`,
    );
    console.log(
      `load average at the end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await nats?.stop();
    await kafka.stop();
  }
}

await main();
