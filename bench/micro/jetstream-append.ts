/**
 * Bench (not a test): JetStream append throughput on ONE channel, from one process and from
 * three processes publishing at once (each a real process with its own broker and NATS
 * connection), then checks that every node reads the same contiguous offsets. Prints
 * publications/s per repeat and the median, and the group sizes the appender used.
 *
 *   npm run build && node dist/bench/micro/jetstream-append.js [publications=20000] [repeats=3] [maxGroup=512]
 *
 * maxGroup=1 turns group commit off (one round trip per publication: the old path).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { startNatsServer } from '../../test/testkit/nats-server.js';

const N = Number(process.argv[2] ?? 20_000);
const REPEATS = Number(process.argv[3] ?? 3);
const MAX_GROUP = Number(process.argv[4] ?? 512);
const WINDOW = 5_000; // publications in flight per process (a feed's backlog)

async function connected(url: string): Promise<JetStreamBroker> {
  const b = new JetStreamBroker({ servers: url, stream: 'BENCH_APPEND', maxGroup: MAX_GROUP, publishTimeoutMs: 60_000 });
  await b.run({ onPublication: () => undefined });
  return b;
}

/** Publishes n publications on ch through b (connected beforehand: only appends are timed). */
async function publishAll(b: JetStreamBroker, ch: string, n: number, tag: string): Promise<{ ms: number; appends: number }> {
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await b.publish(ch, JSON.stringify({ tag, i, price: 43250.5 }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, lane));
  const ms = performance.now() - t0;
  const appends = b.telemetry.appends;
  await b.close();
  return { ms, appends };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function checkOrder(url: string, ch: string, total: number): Promise<string> {
  const b = new JetStreamBroker({ servers: url, stream: 'BENCH_APPEND' });
  await b.run({ onPublication: () => undefined });
  const h = await b.history(ch, { limit: total + 10 });
  await b.close();
  const offs = h.publications.map((p) => p.offset);
  const first = offs[0] ?? 0;
  const contiguous = offs.every((o, i) => o === first + i);
  return `${h.publications.length} read back, contiguous=${contiguous}, top=${h.position.offset}`;
}

async function main(): Promise<void> {
  if (process.env.BENCH_APPEND_CHILD) {
    const [url, ch, n, tag] = JSON.parse(process.env.BENCH_APPEND_CHILD) as [string, string, number, string];
    const b = await connected(url);
    process.send?.({ ready: true });
    await new Promise<void>((r) => process.once('message', () => r()));
    const res = await publishAll(b, ch, n, tag);
    process.send?.(res);
    return;
  }
  const nats = await startNatsServer();
  try {
    const one: number[] = [];
    const three: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const ch = `A${randomBytes(3).toString('hex')}.trade`;
      const load = loadavg()[0]!.toFixed(2);
      const res = await publishAll(await connected(nats.url), ch, N, 'p0');
      const rate = N / (res.ms / 1000);
      one.push(rate);
      console.log(
        `1 process:  ${Math.round(rate)} pub/s (${N} in ${res.ms.toFixed(0)} ms, ${res.appends} appends, ${(N / res.appends).toFixed(1)} per append) load ${load}`,
      );
      console.log(`            ${await checkOrder(nats.url, ch, N)}`);

      const ch3 = `T${randomBytes(3).toString('hex')}.trade`;
      const per = Math.floor(N / 3);
      const me = fileURLToPath(import.meta.url);
      const kids = [0, 1, 2].map((k) =>
        fork(me, process.argv.slice(2), { env: { ...process.env, BENCH_APPEND_CHILD: JSON.stringify([nats.url, ch3, per, `p${k}`]) } }),
      );
      await Promise.all(kids.map((c) => new Promise((res2) => c.once('message', res2))));
      const t0 = performance.now();
      const done = kids.map((c) => new Promise<{ ms: number; appends: number }>((res2) => c.once('message', res2 as never)));
      for (const c of kids) c.send('go');
      const results = await Promise.all(done);
      const ms = performance.now() - t0;
      const rate3 = (per * 3) / (ms / 1000);
      three.push(rate3);
      const appends = results.reduce((a, x) => a + x.appends, 0);
      console.log(
        `3 processes: ${Math.round(rate3)} pub/s (${per * 3} in ${ms.toFixed(0)} ms, ${appends} appends, ${((per * 3) / appends).toFixed(1)} per append)`,
      );
      console.log(`            ${await checkOrder(nats.url, ch3, per * 3)}`);
    }
    console.log(
      `median (maxGroup=${MAX_GROUP}): 1 process ${Math.round(median(one))} pub/s, 3 processes ${Math.round(median(three))} pub/s`,
    );
  } finally {
    await nats.stop();
  }
}

await main();
