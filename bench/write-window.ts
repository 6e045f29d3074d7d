/**
 * Bench (not a test): the write window (`client.writeDelayMs`) where it can and cannot merge —
 * N raw Odin subscribers on one channel, R publications a second through the server API — for
 * `writeDelayMs: 0` against the default, side by side: the gateway's CPU per delivery (utime +
 * stime from /proc over the measured seconds, deliveries from its ws_messages_sent_total) and the
 * load tester's publish → receive p99.
 *
 * Variants run one after another within each round (interleaved), medians of the rounds. Several
 * launchers compare builds (a copy of an earlier build's bin/ and dist/ inside the checkout).
 *
 *   npm run build && node dist/bench/write-window.js [seconds=10] [rounds=3] [scenarios=2000x25,1000x100] [bin=bin/odin-ws.js,...]
 *
 * The first launcher runs with `writeDelayMs: 0` and with its default, the others with their default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../src/lib/kafka-local/local-broker.js';
import { cpuSeconds } from './proc.js';

const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 3);
const SCENARIOS = (process.argv[4] ?? '2000x25,1000x100').split(',').map((s) => {
  const [n, r] = s.split('x').map(Number);
  return { name: s, connections: n!, rate: r! };
});
const OWN_BIN = fileURLToPath(new URL('../../bin/odin-ws.js', import.meta.url));
const BINS = (process.argv[5] ?? OWN_BIN).split(',').map((b) => resolve(b));
const API_KEY = 'bench-api-key-0123';
const CHANNEL = 'BTC.trade';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Variant {
  readonly name: string;
  readonly bin: string;
  /** undefined: the build's default. */
  readonly writeDelayMs?: number;
}

/** The first launcher with writeDelayMs 0 and with its default; the others (earlier builds) with their default. */
const VARIANTS: Variant[] = BINS.flatMap((bin, i) => {
  const label = bin === OWN_BIN ? 'this build' : bin;
  const dflt: Variant = { name: `${label}, default`, bin };
  return i === 0 ? [{ name: `${label}, writeDelayMs 0`, bin, writeDelayMs: 0 }, dflt] : [dflt];
});

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  // Summed over its labels (ws_connections_active is per protocol).
  let sum = 0;
  for (const l of text.split('\n'))
    if (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) sum += Number(l.slice(l.lastIndexOf(' ') + 1));
  return sum;
}

async function startGateway(v: Variant, dir: string): Promise<{ child: ChildProcess; url: string; port: number }> {
  const port = await freeLoopbackPort();
  const args = [v.bin, 'gateway', '--host', '127.0.0.1', '--port', String(port)];
  if (v.writeDelayMs !== undefined) {
    const cfg = join(dir, `wd-${v.writeDelayMs}.json`);
    writeFileSync(cfg, JSON.stringify({ client: { writeDelayMs: v.writeDelayMs } }));
    args.push('--config', cfg);
  }
  const out = openSync(join(dir, 'gateway.log'), 'a');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', out, out],
    env: { ...process.env, LOG_LEVEL: 'warn', GATEWAY_API_KEY: API_KEY },
  });
  closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}); its log: ${join(dir, 'gateway.log')}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) return { child, url, port };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('gateway not ready after 30 s');
}

interface Sample {
  readonly cpuUsPerDelivery: number;
  readonly deliveriesPerSecond: number;
  readonly p99Ms: number;
}

async function run(v: Variant, s: (typeof SCENARIOS)[number], dir: string): Promise<Sample> {
  const gw = await startGateway(v, dir);
  try {
    const lt = spawn(
      process.execPath,
      [
        OWN_BIN,
        'loadtest',
        '--url',
        `ws://127.0.0.1:${gw.port}`,
        '--connections',
        String(s.connections),
        '--channels',
        CHANNEL,
        '--rate',
        String(s.rate),
        '--api-key',
        API_KEY,
        '--duration',
        String(SECONDS + 4),
        '--connect-rate',
        '2000',
        '--json',
        '--quiet',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let json = '';
    lt.stdout!.on('data', (d: Buffer) => (json += d.toString()));
    const done = new Promise<void>((r) => lt.once('exit', () => r()));
    // Measure the middle: from 2 s after every connection is in, for SECONDS.
    for (let i = 0; i < 600 && (await metric(gw.url, 'ws_connections_active')) < s.connections; i++) await sleep(100);
    await sleep(2000);
    const c0 = cpuSeconds(gw.child.pid!);
    const d0 = await metric(gw.url, 'ws_messages_sent_total');
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const c1 = cpuSeconds(gw.child.pid!);
    const d1 = await metric(gw.url, 'ws_messages_sent_total');
    const dt = (performance.now() - t0) / 1000;
    await done;
    const report = JSON.parse(json) as { latencyMs: { p99: number } };
    return { cpuUsPerDelivery: ((c1 - c0) * 1e6) / Math.max(1, d1 - d0), deliveriesPerSecond: (d1 - d0) / dt, p99Ms: report.latencyMs.p99 };
  } finally {
    await new Promise<void>((r) => {
      if (gw.child.exitCode !== null) return r();
      gw.child.once('exit', () => r());
      gw.child.kill('SIGTERM');
    });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-write-window-'));
  try {
    const results = new Map<string, Sample[]>();
    const loads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of SCENARIOS)
        for (const v of VARIANTS) {
          const key = `${s.name} | ${v.name}`;
          const r = await run(v, s, dir);
          loads.push(loadavg()[0]!);
          (results.get(key) ?? results.set(key, []).get(key)!).push(r);
          console.error(
            `round ${round + 1} ${key}: ${r.cpuUsPerDelivery.toFixed(2)} µs/delivery, ${r.deliveriesPerSecond.toFixed(0)}/s, p99 ${r.p99Ms.toFixed(1)} ms`,
          );
        }
    }
    console.log(
      `write window: ${ROUNDS} rounds × ${SECONDS} s, load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`,
    );
    console.log(
      '| scenario (connections × msg/s, one channel) | variant | gateway CPU µs per delivery (median) | per round | deliveries/s | p99 ms (median) |',
    );
    console.log('|---|---|---:|---|---:|---:|');
    for (const [key, xs] of results) {
      const [scenario, variant] = key.split(' | ');
      console.log(
        `| ${scenario} | ${variant} | ${median(xs.map((x) => x.cpuUsPerDelivery)).toFixed(2)} | ${xs.map((x) => x.cpuUsPerDelivery.toFixed(2)).join(' ')} | ${median(xs.map((x) => x.deliveriesPerSecond)).toFixed(0)} | ${median(xs.map((x) => x.p99Ms)).toFixed(1)} |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
