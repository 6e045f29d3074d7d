/**
 * Bench (not a test): what presence costs with the JetStream broker (NATS KV, presence-kv.ts).
 *  1. the store alone: one add (sequential latency), adds in bulk (256 in flight), a refresh
 *     round of every live entry, and a presence query of a channel holding 1, 100 and 1000 entries;
 *  2. a gateway process: connect + subscribe latency of Centrifugo-protocol clients in a
 *     namespace with presence and in one without.
 * Short runs: the machine is shared.
 *
 *   npm run build && node dist/bench/micro/presence-kv.js [entries=20000] [clients=300]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { startNatsServer } from '../../test/testkit/nats-server.js';
import { startGatewayProcess } from '../../test/testkit/gateway-process.js';

const ENTRIES = Number(process.argv[2] ?? 20000);
const CLIENTS = Number(process.argv[3] ?? 300);

function pct(sorted: number[], p: number): string {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(2);
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function store(url: string): Promise<void> {
  // Its own stream subjects: the gateway below creates the default stream on the same server.
  const b = new JetStreamBroker({ servers: url, stream: `BENCHP${randomBytes(3).toString('hex')}`, subjectPrefix: 'bench-presence' });
  await b.run({ onPublication() {} });
  const p = b.presence;
  const lat: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t0 = process.hrtime.bigint();
    await p.add('room.seq', { client: `s${i}`, user: `u${i}` });
    lat.push(ms(t0));
  }
  lat.sort((a, b) => a - b);
  console.log(`store add, sequential (500): p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms`);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ENTRIES; i += 256) {
    const n = Math.min(256, ENTRIES - i);
    await Promise.all(Array.from({ length: n }, (_, k) => p.add(`room.c${(i + k) % 50}`, { client: `b${i + k}`, user: `u${i + k}` })));
  }
  const bulkMs = ms(t0);
  console.log(`store add, 256 in flight: ${ENTRIES} entries in ${bulkMs.toFixed(0)} ms (${Math.round(ENTRIES / (bulkMs / 1000))}/s)`);
  // A refresh round of every live entry (the timer does it every presenceTtlMs / 3).
  const live = ENTRIES + 500;
  const cpu0 = process.cpuUsage();
  const t1 = process.hrtime.bigint();
  await p.refresh();
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `refresh round, ${live} entries: ${ms(t1).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU of this process`,
  );
  for (const size of [1, 100, 1000]) {
    const ch = `room.q${size}`;
    await Promise.all(Array.from({ length: size }, (_, k) => p.add(ch, { client: `q${k}`, user: `u${k}` })));
    const q: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t1 = process.hrtime.bigint();
      const got = await p.get(ch);
      q.push(ms(t1));
      if (Object.keys(got).length !== size) throw new Error(`presence of ${ch}: ${Object.keys(got).length} != ${size}`);
    }
    q.sort((a, b) => a - b);
    console.log(`presence query, ${size} entries (20 queries): p50 ${pct(q, 50)} ms, p99 ${pct(q, 99)} ms`);
  }
  await b.close();
}

/** Connect + subscribe over the Centrifugo JSON protocol; resolves with the subscribe's latency, ms. */
function subscribeOnce(wsUrl: string, channel: string, open: WebSocket[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl}/connection/websocket`);
    open.push(ws);
    let t0 = 0n;
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, connect: {} })));
    ws.on('message', (raw: Buffer) => {
      for (const line of raw.toString().split('\n')) {
        if (line === '') continue;
        const m = JSON.parse(line) as { id?: number; error?: unknown };
        if (m.error) return reject(new Error(JSON.stringify(m.error)));
        if (m.id === 1) {
          t0 = process.hrtime.bigint();
          ws.send(JSON.stringify({ id: 2, subscribe: { channel } }));
        } else if (m.id === 2) resolve(ms(t0));
      }
    });
    ws.on('error', reject);
  });
}

async function gateway(url: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'odin-bench-presence-'));
  const config = join(dir, 'gw.json');
  await writeFile(
    config,
    JSON.stringify({
      namespaces: [
        { name: 'pres', pattern: 'pres\\.[a-z0-9]+', presence: true },
        { name: 'plain', pattern: 'plain\\.[a-z0-9]+' },
      ],
    }),
  );
  const gw = await startGatewayProcess({ natsUrl: url, apiKey: 'k', extraArgs: ['--config', config] });
  try {
    for (const ns of ['plain', 'pres', 'plain', 'pres']) {
      const open: WebSocket[] = [];
      const lat: number[] = [];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < CLIENTS; i += 50) {
        const n = Math.min(50, CLIENTS - i);
        lat.push(...(await Promise.all(Array.from({ length: n }, (_, k) => subscribeOnce(gw.wsUrl, `${ns}.c${(i + k) % 10}`, open)))));
      }
      const total = ms(t0);
      lat.sort((a, b) => a - b);
      console.log(
        `gateway subscribe, namespace ${ns === 'pres' ? 'with presence   ' : 'without presence'} (${CLIENTS} clients, 50 at a time): ` +
          `p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms; all connected+subscribed in ${total.toFixed(0)} ms`,
      );
      for (const ws of open) ws.close();
    }
  } finally {
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const nats = await startNatsServer();
try {
  await store(nats.url);
  await gateway(nats.url);
} finally {
  await nats.stop();
}
