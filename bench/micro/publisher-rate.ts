/**
 * Publisher rate accuracy: runs the publisher at each target rate against each sink and
 * measures the achieved rate over a steady window (after a 1 s warm-up).
 *
 *   npm run build && node dist/bench/micro/publisher-rate.js [--seconds 10] [--rates 1000,5000] [--sinks gateway,nats]
 *
 * gateway: a real `odin-ws gateway` child process (in-memory broker); events counted when the
 * gateway's /api/batch reply accepts them. nats: a real nats-server (testkit); events counted
 * when the server answered the flush, and cross-checked by a subscriber in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { startPublisher } from '../../src/lib/publisher/server.js';
import type { SinkOptions } from '../../src/lib/publisher/options.js';
import { startNatsServer } from '../../test/testkit/nats-server.js';
import { parseFlags, toList, toNumber } from '../../src/lib/runtime/flags.js';

const BIN = fileURLToPath(new URL('../../../bin/odin-ws.js', import.meta.url));
const WARMUP_MS = 1000;
const API_KEY = 'bench-api-key-0123';

interface Row {
  sink: string;
  target: number;
  achieved: number;
  errorPct: number;
  delivered: number | null;
  errors: number;
  dropped: number;
  cpuPct: number;
  rssMb: number;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function startGatewayProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'gateway', '--port', '0', '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, GATEWAY_API_KEY: API_KEY },
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      log += c.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!.replace('0.0.0.0', '127.0.0.1'));
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${log}`)));
  });
  child.stdout!.resume();
  return { url, child };
}

async function measure(sinkName: string, sink: SinkOptions, target: number, seconds: number, delivered: () => number | null): Promise<Row> {
  const pub = await startPublisher({ port: 0, host: '127.0.0.1', sink, messagesPerSecond: target, autostart: true });
  try {
    await delay(WARMUP_MS);
    const c0 = pub.publisher.stats().messagesPublished;
    const d0 = delivered();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await delay(seconds * 1000);
    const c1 = pub.publisher.stats().messagesPublished;
    const d1 = delivered();
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const s = pub.publisher.stats();
    const achieved = ((c1 - c0) * 1000) / (t1 - t0);
    return {
      sink: sinkName,
      target,
      achieved: Math.round(achieved * 10) / 10,
      errorPct: Math.round(((achieved - target) / target) * 10000) / 100,
      delivered: d0 === null || d1 === null ? null : Math.round((((d1 - d0) * 1000) / (t1 - t0)) * 10) / 10,
      errors: s.errors,
      dropped: s.dropped,
      cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (t1 - t0)) * 1000) / 10,
      rssMb: Math.round(process.memoryUsage().rss / 1e5) / 10,
    };
  } finally {
    await pub.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseFlags(process.argv.slice(2), {
    seconds: { type: 'string', default: '10' },
    rates: { type: 'string', default: '1000,5000' },
    sinks: { type: 'string', default: 'gateway,nats' },
  });
  const seconds = toNumber('--seconds', values.seconds, { min: 1 }, 10);
  const rates = toList(values.rates).map((r) => toNumber('--rates', r, { min: 1 }, 0));
  const sinks = toList(values.sinks);
  const rows: Row[] = [];
  for (const sinkName of sinks) {
    if (sinkName === 'gateway') {
      const gw = await startGatewayProcess();
      try {
        for (const rate of rates)
          rows.push(await measure('gateway', { kind: 'gateway', url: gw.url, apiKey: API_KEY }, rate, seconds, () => null));
      } finally {
        gw.child.kill('SIGTERM');
      }
    } else if (sinkName === 'nats') {
      const nats = await startNatsServer();
      const nc = await connect({ servers: nats.url });
      let received = 0;
      nc.subscribe('odin.>', { callback: () => void received++ });
      try {
        for (const rate of rates) rows.push(await measure('nats', { kind: 'nats', url: nats.url }, rate, seconds, () => received));
      } finally {
        await nc.close();
        await nats.stop();
      }
    } else throw new Error(`unknown sink ${sinkName}`);
  }
  console.log(`Publisher rate accuracy: ${seconds} s window after ${WARMUP_MS / 1000} s warm-up, node ${process.version}`);
  console.table(rows);
  console.log(JSON.stringify(rows));
}

await main();
