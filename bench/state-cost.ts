/**
 * What the state layer costs the server (issue 22, "Tests and measurements"): our gateway as a
 * child process (memory broker), N raw WebSocket subscribers of the Centrifugo JSON protocol on
 * one channel, an order book of 50 levels (one level and the sequence change per update)
 * published at a fixed rate through the HTTP API, and per variant:
 *
 *   baseline  plain subscriptions
 *   delta     `allowedDeltaTypes: [fossil]`, every subscriber asks `delta: "fossil"`
 *   filter    `allowTagsFilter: true`, every subscriber gives a tags filter that matches
 *   cadence   `cadences: ["1s"]`, every subscriber takes `BENCH.book@1s`
 *
 * measured over the same window of each run: server CPU µs per delivery (/proc/<pid>/stat),
 * deliveries/s, frames and socket writes per second per connection (frames counted by the
 * clients; writes: the server's write syscalls, /proc/<pid>/io `syscw`, less one per API
 * response), WebSocket bytes per delivery. Variants are interleaved (the order rotates per run)
 * and repeated; medians are reported, each beside the baseline's.
 * Targets: delta, filter ≤ 15 % more CPU per delivery than baseline at 1,000 subscribers; the
 * 1 s cadence cuts writes by the factor it promises (the publish rate × 1 s).
 *
 *   npm run build && node dist/bench/state-cost.js [--subscribers 1000] [--seconds 10] [--runs 3]
 *     [--rate 25] [--warmup 2] [--out bench/results/state-cost.json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpApiTarget } from '../src/lib/loadtest/publisher.js';
import { WsClient, type WsClientEvents } from '../src/lib/loadtest/ws-client.js';
import { parseFlags, toNumber } from '../src/lib/runtime/flags.js';
import { BENCH_API_KEY } from './contenders.js';
import { cpuSeconds, fdLimit } from './proc.js';

const CHANNEL = 'BENCH.book';
const LEVELS = 50;
/** Subscribers connecting at once (a burst of thousands of SYNs overflows loopback's backlog). */
const CONNECT_CONCURRENCY = 100;
const SUBSCRIBE_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 15_000;
const BIN = fileURLToPath(new URL('../../bin/odin-ws.js', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results/state-cost.json', import.meta.url));

interface Variant {
  readonly name: string;
  readonly description: string;
  /** The namespace's options beside its name and pattern. */
  readonly namespace: Record<string, unknown>;
  /** The subscribe command's fields. */
  readonly subscribe: Record<string, unknown>;
}

const VARIANTS: readonly Variant[] = [
  { name: 'baseline', description: 'plain subscriptions', namespace: {}, subscribe: { channel: CHANNEL } },
  {
    name: 'delta',
    description: 'Fossil delta: allowedDeltaTypes [fossil], subscribers ask delta "fossil"',
    namespace: { allowedDeltaTypes: ['fossil'] },
    subscribe: { channel: CHANNEL, delta: 'fossil' },
  },
  {
    name: 'filter',
    description: 'tags filter: allowTagsFilter, every subscriber {sym eq BTC} (matches)',
    namespace: { allowTagsFilter: true },
    subscribe: { channel: CHANNEL, tf: { key: 'sym', cmp: 'eq', val: 'BTC' } },
  },
  {
    name: 'cadence',
    description: 'cadence: cadences ["1s"], subscribers take BENCH.book@1s',
    namespace: { cadences: ['1s'] },
    subscribe: { channel: CHANNEL + '@1s' },
  },
];

/** The order book after `seq` updates: update n changes level n % 50's size (and the sequence). */
function orderBook(seq: number): string {
  let bids = '';
  for (let i = 0; i < LEVELS; i++) {
    const size = i === seq % LEVELS ? 1 + (seq % 997) / 100 : 1 + i / 10;
    bids += (i > 0 ? ',' : '') + '[' + (43250 - i * 0.5).toFixed(2) + ',' + size.toFixed(3) + ']';
  }
  return '{"type":"book","sym":"BTC","seq":' + seq + ',"bids":[' + bids + ']}';
}

/** What the subscribers saw, summed over all of them. */
interface ClientCounts {
  frames: number;
  deliveries: number;
  /** Deliveries that were Fossil patches. */
  patches: number;
  /** WebSocket bytes (header and payload) of the frames that carried deliveries. */
  deliveryBytes: number;
}

interface Sample {
  readonly variant: string;
  readonly run: number;
  readonly seconds: number;
  readonly published: number;
  readonly cpuSeconds: number;
  readonly deliveries: number;
  readonly deliveriesPerSecond: number;
  readonly cpuUsPerDelivery: number;
  readonly cpuPercent: number;
  readonly framesPerConnPerSecond: number;
  readonly writesPerConnPerSecond: number;
  readonly bytesPerDelivery: number;
  readonly patchShare: number;
}

const PUB = Buffer.from('"pub":');
const DELTA_TRUE = Buffer.from('"delta":true');

function frameHeaderBytes(len: number): number {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/** N Centrifugo-protocol subscribers that count what they receive; resolves once all are subscribed. */
async function connectSubscribers(
  port: number,
  n: number,
  v: Variant,
): Promise<{ clients: WsClient[]; counts: ClientCounts; errors: string[] }> {
  const counts: ClientCounts = { frames: 0, deliveries: 0, patches: 0, deliveryBytes: 0 };
  const errors: string[] = [];
  const subscribed = new Set<WsClient>();
  const subscribe = JSON.stringify({ id: 2, subscribe: v.subscribe });
  const wantsDelta = v.subscribe.delta !== undefined;
  let wake: (() => void) | null = null;
  const events: WsClientEvents = {
    onOpen(c) {
      c.sendText('{"id":1,"connect":{}}');
      c.sendText(subscribe);
    },
    onMessage(c, buf, start, end) {
      counts.frames++;
      const p = buf.indexOf(PUB, start);
      if (p >= 0 && p < end) {
        counts.deliveries++;
        counts.deliveryBytes += end - start + frameHeaderBytes(end - start);
        const d = buf.indexOf(DELTA_TRUE, p);
        if (d >= 0 && d < end) counts.patches++;
        return;
      }
      if (subscribed.has(c)) return;
      const text = buf.toString('utf8', start, end);
      for (const line of text.split('\n')) {
        if (line === '') continue;
        const m = JSON.parse(line) as { id?: number; error?: unknown; subscribe?: { delta?: boolean } };
        if (m.id !== 2) continue;
        if (m.error !== undefined) errors.push(JSON.stringify(m.error));
        else if (wantsDelta && m.subscribe?.delta !== true) errors.push('delta not negotiated: ' + line);
        else subscribed.add(c);
        wake?.();
      }
    },
    onClose(_c, code, reason, wasOpen) {
      if (wasOpen) errors.push(`closed ${code} ${reason}`);
      wake?.();
    },
  };
  const clients: WsClient[] = [];
  const deadline = Date.now() + SUBSCRIBE_TIMEOUT_MS;
  while (subscribed.size < n) {
    const target = Math.min(n, subscribed.size + CONNECT_CONCURRENCY);
    while (clients.length < target) clients.push(new WsClient({ host: '127.0.0.1', port, path: '/connection/websocket' }, events));
    while (subscribed.size < target && errors.length === 0) {
      if (Date.now() > deadline) throw new Error(`${subscribed.size}/${n} subscribed within ${SUBSCRIBE_TIMEOUT_MS} ms`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 250).unref();
      });
      wake = null;
    }
    if (errors.length > 0) throw new Error(`subscribe failed (${v.name}): ${errors.slice(0, 3).join('; ')}`);
  }
  return { clients, counts, errors };
}

/** Publishes at `rate` per second (due count from the start, so a slow reply is caught up), one request at a time. */
class BookPublisher {
  published = 0;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: HttpApiTarget,
    private readonly rate: number,
  ) {}

  start(): void {
    const t0 = performance.now();
    this.done = (async () => {
      while (!this.stopped) {
        const due = Math.floor(((performance.now() - t0) / 1000) * this.rate) + 1;
        if (this.published >= due) {
          await new Promise((r) => setTimeout(r, Math.max(1, (this.published / this.rate) * 1000 - (performance.now() - t0))));
          continue;
        }
        const seq = this.published + 1;
        await this.target.post(
          '/api/publish',
          '{"channel":"' + CHANNEL + '","data":' + orderBook(seq) + ',"tags":{"sym":"BTC","side":"bid"}}',
        );
        this.published = seq;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Write syscalls of a process so far (/proc/<pid>/io). */
function writeSyscalls(pid: number): number {
  const m = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Gateway {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
}

/** `odin-ws gateway` on loopback, port 0, memory broker, with `conf`; ready once it logs its URL. */
function startGateway(conf: string): Promise<Gateway> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'gateway', '--host', '127.0.0.1', '--port', '0', '--config', conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Secrets come from the environment (a secret flag is refused).
      env: { ...process.env, LOG_LEVEL: 'info', GATEWAY_API_KEY: BENCH_API_KEY },
    });
    let out = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start in ${START_TIMEOUT_MS} ms:\n${out.slice(-2000)}`));
    }, START_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      if (ready) return;
      out += d.toString();
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
      if (m === null) return;
      ready = true;
      out = '';
      clearTimeout(timer);
      child.off('exit', onExit);
      const port = Number(m[1]);
      resolve({ child, pid: child.pid!, port, url: `http://127.0.0.1:${port}` });
    };
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready:\n${out.slice(-2000)}`));
    };
    // Read to the end, so a full pipe never blocks the server.
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM (graceful), SIGKILL after 5 s. */
function stopGateway(g: Gateway): Promise<void> {
  return new Promise((resolve) => {
    if (g.child.exitCode !== null || g.child.signalCode !== null) return resolve();
    const t = setTimeout(() => g.child.kill('SIGKILL'), 5000);
    g.child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    g.child.kill('SIGTERM');
  });
}

async function measure(v: Variant, run: number, o: Options): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'odin-state-cost-'));
  const conf = join(dir, 'gateway.json');
  writeFileSync(
    conf,
    JSON.stringify({
      maxConnections: o.subscribers + 100,
      namespaces: [{ name: 'book', pattern: 'BENCH\\.book', ...v.namespace }],
    }),
  );
  let gw: Gateway | null = null;
  let clients: WsClient[] = [];
  try {
    gw = await startGateway(conf);
    const subs = await connectSubscribers(gw.port, o.subscribers, v);
    clients = subs.clients;
    const target = new HttpApiTarget(gw.url, BENCH_API_KEY);
    const pub = new BookPublisher(target, o.rate);
    pub.start();
    await new Promise((r) => setTimeout(r, o.warmup * 1000));
    const c0 = { ...subs.counts };
    const cpu0 = cpuSeconds(gw.pid);
    const w0 = writeSyscalls(gw.pid);
    const p0 = pub.published;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const cpu1 = cpuSeconds(gw.pid);
    const w1 = writeSyscalls(gw.pid);
    const p1 = pub.published;
    const seconds = (performance.now() - t0) / 1000;
    const c1 = { ...subs.counts };
    await pub.stop();
    await target.close();
    const deliveries = c1.deliveries - c0.deliveries;
    const cpu = cpu1 - cpu0;
    const published = p1 - p0;
    const perConn = (x: number): number => x / o.subscribers / seconds;
    return {
      variant: v.name,
      run,
      seconds,
      published,
      cpuSeconds: cpu,
      deliveries,
      deliveriesPerSecond: deliveries / seconds,
      cpuUsPerDelivery: deliveries > 0 ? (cpu * 1e6) / deliveries : NaN,
      cpuPercent: (cpu / seconds) * 100,
      framesPerConnPerSecond: perConn(c1.frames - c0.frames),
      // One write per API response is the publisher's, not the subscribers'.
      writesPerConnPerSecond: perConn(Math.max(0, w1 - w0 - published)),
      bytesPerDelivery: deliveries > 0 ? (c1.deliveryBytes - c0.deliveryBytes) / deliveries : NaN,
      patchShare: deliveries > 0 ? (c1.patches - c0.patches) / deliveries : 0,
    };
  } finally {
    for (const c of clients) c.destroy();
    if (gw !== null) await stopGateway(gw);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Options {
  readonly subscribers: number;
  readonly seconds: number;
  readonly runs: number;
  readonly rate: number;
  readonly warmup: number;
  readonly out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseFlags(argv, {
    subscribers: { type: 'string' },
    seconds: { type: 'string' },
    runs: { type: 'string' },
    rate: { type: 'string' },
    warmup: { type: 'string' },
    out: { type: 'string' },
  });
  const o = {
    subscribers: toNumber('--subscribers', values.subscribers, { min: 1, integer: true }, 1000),
    seconds: toNumber('--seconds', values.seconds, { min: 1 }, 10),
    runs: toNumber('--runs', values.runs, { min: 1, integer: true }, 3),
    rate: toNumber('--rate', values.rate, { min: 2 }, 25),
    warmup: toNumber('--warmup', values.warmup, { min: 0 }, 2),
    out: values.out ?? DEFAULT_OUT,
  };
  const fds = fdLimit();
  if (fds > 0 && o.subscribers + 200 > fds) throw new Error(`--subscribers ${o.subscribers} needs more open files than ulimit -n ${fds}`);
  return o;
}

const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Summary = Record<string, { [K in Exclude<keyof Sample, 'variant' | 'run'>]: number }>;

function summarize(samples: readonly Sample[]): Summary {
  const out: Summary = {};
  for (const v of VARIANTS) {
    const mine = samples.filter((s) => s.variant === v.name);
    const keys = Object.keys(mine[0]!).filter((k) => k !== 'variant' && k !== 'run') as (keyof Summary[string])[];
    out[v.name] = Object.fromEntries(keys.map((k) => [k, median(mine.map((s) => s[k]))])) as Summary[string];
  }
  return out;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}

function table(summary: Summary, o: Options): string {
  const base = summary['baseline']!;
  const rows = [
    ['variant', 'deliveries/s', 'CPU µs/delivery', 'vs baseline', 'CPU %', 'frames/s/conn', 'writes/s/conn', 'bytes/delivery', 'patches'],
  ];
  for (const v of VARIANTS) {
    const s = summary[v.name]!;
    rows.push([
      v.name,
      fmt(s.deliveriesPerSecond, 0),
      fmt(s.cpuUsPerDelivery, 2),
      // A cadence's deliveries are few by design: its CPU per delivery is not comparable (the line below the table).
      v.name === 'baseline' || v.name === 'cadence'
        ? ''
        : `${s.cpuUsPerDelivery >= base.cpuUsPerDelivery ? '+' : ''}${fmt((s.cpuUsPerDelivery / base.cpuUsPerDelivery - 1) * 100)} %`,
      fmt(s.cpuPercent),
      fmt(s.framesPerConnPerSecond, 2),
      fmt(s.writesPerConnPerSecond, 2),
      fmt(s.bytesPerDelivery, 0),
      v.name === 'delta' ? `${fmt(s.patchShare * 100, 0)} %` : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  const cad = summary['cadence']!;
  // At most one delivery per second instead of `rate`.
  const promised = o.rate;
  lines.push(
    '',
    `cadence 1 s at ${o.rate} publications/s: writes cut ${fmt(base.writesPerConnPerSecond / cad.writesPerConnPerSecond)}× ` +
      `(frames ${fmt(base.framesPerConnPerSecond / cad.framesPerConnPerSecond)}×), promised ${promised}×`,
    `  server CPU per second with the cadence: ${fmt((cad.cpuPercent / base.cpuPercent) * 100, 0)} % of baseline's`,
    `delta: ${fmt(base.bytesPerDelivery / summary['delta']!.bytesPerDelivery)}× fewer bytes per delivery than baseline`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  console.log(
    `state cost: ${o.subscribers} subscribers (Centrifugo JSON) on ${CHANNEL}, ${LEVELS}-level book at ${o.rate}/s, ` +
      `${o.seconds} s measured after ${o.warmup} s, ${o.runs} run(s), variants interleaved`,
  );
  const samples: Sample[] = [];
  for (let run = 0; run < o.runs; run++) {
    // The order rotates per run, so no variant always follows the same one.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + run) % VARIANTS.length]!);
    for (const v of order) {
      const s = await measure(v, run, o);
      samples.push(s);
      console.log(
        `  run ${run + 1} ${v.name.padEnd(8)} ${fmt(s.deliveriesPerSecond, 0)} deliveries/s, ${fmt(s.cpuUsPerDelivery, 2)} µs CPU/delivery, ` +
          `${fmt(s.writesPerConnPerSecond, 2)} writes/s/conn, ${fmt(s.bytesPerDelivery, 0)} B/delivery`,
      );
    }
  }
  const summary = summarize(samples);
  console.log('\n' + table(summary, o));
  const base = summary['baseline']!;
  const result = {
    benchmark: 'state-cost',
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? '',
    options: { ...o, out: undefined },
    channel: CHANNEL,
    levels: LEVELS,
    variants: VARIANTS.map((v) => ({ name: v.name, description: v.description, namespace: v.namespace, subscribe: v.subscribe })),
    samples,
    medians: summary,
    vsBaseline: Object.fromEntries(
      VARIANTS.filter((v) => v.name !== 'baseline').map((v) => [
        v.name,
        {
          cpuPerDeliveryRatio: summary[v.name]!.cpuUsPerDelivery / base.cpuUsPerDelivery,
          writeReductionFactor: base.writesPerConnPerSecond / summary[v.name]!.writesPerConnPerSecond,
          frameReductionFactor: base.framesPerConnPerSecond / summary[v.name]!.framesPerConnPerSecond,
          bytesPerDeliveryRatio: summary[v.name]!.bytesPerDelivery / base.bytesPerDelivery,
        },
      ]),
    ),
    cadencePromisedFactor: o.rate,
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwritten to ${o.out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
