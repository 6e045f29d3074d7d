/**
 * Microbenchmark of the write window where it cannot merge (no sockets): N subscribers of one
 * channel, publications `gap` ms apart on a manual clock (25 a second: 40 ms; with jitter: gaps
 * alternating 10 and 70 ms), each fanned out in its own loop turn. Core's CPU per delivery, and
 * how many frames were not written in the turn of their publication (held by a window), for
 * `writeDelayMs` 0 and 16, this build and others side by side (rounds interleaved, medians; each
 * run in a process of its own).
 *
 *   npm run build && node dist/bench/micro/write-window.js [subscribers=2000] [publications=300] [rounds=5] [distRoot,...]
 *
 * `distRoot`: the dist/ of another build (its src/lib/core is imported from there), e.g. a copy
 * of an earlier build inside the checkout; default this build's.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Clock, TimerHandle } from '../../src/lib/core/clock.js';
import type { ConnectionAcceptor } from '../../src/lib/core/transport.js';
import { NullConnection, nullEncoder } from './null-connection.js';
import type * as GatewayModule from '../../src/lib/core/gateway.js';
import type * as BrokerModule from '../../src/lib/core/broker-memory.js';
import type * as OptionsModule from '../../src/lib/core/options.js';

const [subs = 2000, pubs = 300, rounds = 5] = process.argv.slice(2, 5).map(Number);
const OWN_DIST = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SELF = fileURLToPath(import.meta.url);
const DISTS = (process.argv[5] ?? OWN_DIST).split(',').map((d) => resolve(d));

/** Time moves only on advance(); due timers run there, in order. */
class ManualClock implements Clock {
  private t = 0;
  private next = 1;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return 1_700_000_000_000 + this.t;
  }
  monotonic(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: TimerHandle): void {
    this.timers.delete(h as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (first === null || e[1].at < first[1].at)) first = e;
      if (first === null) break;
      this.timers.delete(first[0]);
      this.t = Math.max(this.t, first[1].at);
      first[1].fn();
    }
    this.t = end;
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const transport = nullEncoder;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Result {
  readonly cpuUsPerDelivery: number;
  readonly held: number;
}

async function run(dist: string, writeDelayMs: number, gaps: readonly number[]): Promise<Result> {
  const core = `${dist}/src/lib/core`;
  const { Gateway } = (await import(`${core}/gateway.js`)) as typeof GatewayModule;
  const { MemoryBroker } = (await import(`${core}/broker-memory.js`)) as typeof BrokerModule;
  const { resolveGatewayOptions } = (await import(`${core}/options.js`)) as typeof OptionsModule;
  const clock = new ManualClock();
  const gw = new Gateway(resolveGatewayOptions({ maxConnections: subs + 1, client: { writeDelayMs } }), {
    broker: new MemoryBroker({ clock }),
    transport,
    clock,
  });
  await gw.start();
  const acceptor: ConnectionAcceptor = gw;
  const conns: NullConnection[] = [];
  for (let i = 0; i < subs; i++) {
    const c = new NullConnection();
    acceptor
      .accept(c, { protocol: 'odin', ip: '127.0.0.1' })
      .onMessage(Buffer.from('{"type":"subscribe","data":{"channels":["BTC.trade"]}}'), false);
    conns.push(c);
  }
  while (gw.stats.subscriptions < subs) await turn();
  clock.advance(1000);
  await turn();
  const data = JSON.stringify({ type: 'trade:new', tokenId: 'BTC', price: 43250.5, amount: 0.25, ts: 1 });
  const count = (): number => conns.reduce((a, c) => a + c.frames, 0);
  const before = count();
  let held = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < pubs; i++) {
    clock.advance(gaps[i % gaps.length]!);
    const n = count();
    await gw.api.publish({ channel: 'BTC.trade', data });
    await turn();
    held += subs - (count() - n);
  }
  const cpu = process.cpuUsage(cpu0);
  clock.advance(1000);
  await turn();
  const deliveries = count() - before;
  await gw.shutdown();
  if (deliveries !== subs * pubs) throw new Error(`${deliveries} of ${subs * pubs} delivered`);
  return { cpuUsPerDelivery: (cpu.user + cpu.system) / deliveries, held };
}

/** One variant in a process of its own: two builds' modules in one process do not get the same JIT. */
function runChild(dist: string, wd: number, gaps: readonly number[]): Promise<Result> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [SELF, String(subs), String(pubs), '1', dist, `--one=${wd}:${gaps.join('/')}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? res(JSON.parse(out) as Result) : rej(new Error(`variant exited ${String(code)}`))));
  });
}

async function main(): Promise<void> {
  const one = process.argv.find((a) => a.startsWith('--one='));
  if (one) {
    const [wd, gaps] = one.slice('--one='.length).split(':');
    process.stdout.write(JSON.stringify(await run(DISTS[0]!, Number(wd), gaps!.split('/').map(Number))));
    return;
  }
  const feeds = [
    { name: '25/s steady (40 ms)', gaps: [40] },
    { name: '25/s with jitter (10/70 ms)', gaps: [70, 10] },
  ];
  const variants = DISTS.flatMap((dist) =>
    [0, 16].map((wd) => ({ dist, wd, name: `${dist === OWN_DIST ? 'this build' : dist}, writeDelayMs ${wd}` })),
  );
  const out = new Map<string, Result[]>();
  for (let r = 0; r < rounds; r++)
    for (const f of feeds)
      for (const v of variants) {
        const key = `${f.name} | ${v.name}`;
        const res = await runChild(v.dist, v.wd, f.gaps);
        (out.get(key) ?? out.set(key, []).get(key)!).push(res);
      }
  console.log(`${subs} subscribers × ${pubs} publications, ${rounds} rounds interleaved, Node ${process.version}`);
  console.log('| feed | variant | core CPU µs per delivery (median) | per round | frames held by a window |');
  console.log('|---|---|---:|---|---:|');
  for (const [key, xs] of out) {
    const [feed, variant] = key.split(' | ');
    console.log(
      `| ${feed} | ${variant} | ${median(xs.map((x) => x.cpuUsPerDelivery)).toFixed(3)} | ${xs.map((x) => x.cpuUsPerDelivery.toFixed(3)).join(' ')} | ${median(xs.map((x) => x.held))} |`,
    );
  }
}

await main();
