/**
 * Bench (not a test): the JetStream path against the memory broker, and deliveries/s of a
 * gateway with 1 and 2 workers. Short runs: the machine is shared.
 *
 *   npm run build && node dist/bench/micro/broker-jetstream.js [clients=200] [messages=1000]
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import type { Broker, Publication } from '../../src/lib/core/broker.js';
import { startNatsServer } from '../../test/testkit/nats-server.js';
import { callApi, startGatewayProcess } from '../../test/testkit/gateway-process.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

const CLIENTS = Number(process.argv[2] ?? 200);
const MESSAGES = Number(process.argv[3] ?? 1000);
const API_KEY = 'bench-' + randomBytes(4).toString('hex');

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sequential publish → own delivery latency, and pipelined publish throughput, on one channel. */
async function brokerPath(name: string, broker: Broker): Promise<void> {
  let resolveNext: ((p: Publication) => void) | null = null;
  let delivered = 0;
  await broker.run({
    onPublication(p) {
      delivered++;
      resolveNext?.(p);
    },
  });
  const ch = `B${randomBytes(3).toString('hex')}.trade`;
  await broker.subscribe(ch);
  const lat: number[] = [];
  const ack: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const got = new Promise<Publication>((r) => (resolveNext = r));
    const t0 = process.hrtime.bigint();
    await broker.publish(ch, JSON.stringify({ i, price: 43250 }), { historySize: 1000, historyTtlMs: 300_000 });
    const t1 = process.hrtime.bigint();
    await got;
    const t2 = process.hrtime.bigint();
    ack.push(Number(t1 - t0) / 1e6);
    lat.push(Number(t2 - t0) / 1e6);
  }
  resolveNext = null;
  ack.sort((a, b) => a - b);
  lat.sort((a, b) => a - b);
  // Pipelined: many publishes in flight on one channel (per-channel order is serialized).
  const n = MESSAGES * 2;
  const before = delivered;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: n }, (_, i) => broker.publish(ch, JSON.stringify({ i }), { historySize: 1000, historyTtlMs: 300_000 })),
  );
  while (delivered - before < n) await new Promise<void>((r) => setTimeout(r, 5));
  const pipeMs = Date.now() - t0;
  // Many channels in parallel (no per-channel serialization between them).
  const chans = Array.from({ length: 20 }, (_, k) => `${ch.split('.')[0]}${k}.trade`);
  const t3 = Date.now();
  await Promise.all(
    chans.map(async (c) => {
      for (let i = 0; i < n / 20; i++) await broker.publish(c, JSON.stringify({ i }), { historySize: 1000, historyTtlMs: 300_000 });
    }),
  );
  const multiMs = Date.now() - t3;
  await broker.close();
  console.log(
    `${name.padEnd(16)} publish ack p50 ${pct(ack, 50).toFixed(3)} ms p99 ${pct(ack, 99).toFixed(3)} ms | publish→delivery p50 ${pct(lat, 50).toFixed(3)} ms p99 ${pct(lat, 99).toFixed(3)} ms | one channel pipelined ${Math.round(n / (pipeMs / 1000))} pub/s | 20 channels ${Math.round(n / (multiMs / 1000))} pub/s`,
  );
}

/** Deliveries/s: CLIENTS Centrifugo-protocol sockets on one channel, MESSAGES published via the API. */
async function fanout(label: string, natsUrl: string | null, workers: number): Promise<void> {
  const gw = natsUrl
    ? await startGatewayProcess({ natsUrl, apiKey: API_KEY, workers })
    : await startGatewayProcess({ natsUrl: '', apiKey: API_KEY, broker: 'memory' });
  const ch = `F${randomBytes(3).toString('hex')}.trade`;
  let delivered = 0;
  const sockets: WebSocket[] = [];
  await Promise.all(
    Array.from(
      { length: CLIENTS },
      () =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(`${gw.wsUrl}/connection/websocket`);
          sockets.push(ws);
          ws.on('open', () => ws.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${ch}"}}`));
          ws.on('message', (data: Buffer) => {
            const s = data.toString();
            if (s.includes('"id":2')) resolve();
            let i = -1;
            while ((i = s.indexOf('"pub"', i + 1)) >= 0) delivered++;
          });
          ws.on('error', reject);
        }),
    ),
  );
  const target = CLIENTS * MESSAGES;
  const t0 = Date.now();
  const loops = 8;
  await Promise.all(
    Array.from({ length: loops }, async (_, l) => {
      for (let i = l; i < MESSAGES; i += loops) await callApi(gw.url, API_KEY, 'publish', { channel: ch, data: { i, price: 43250 } });
    }),
  );
  const deadline = Date.now() + 60_000;
  while (delivered < target && Date.now() < deadline) await new Promise<void>((r) => setTimeout(r, 10));
  const ms = Date.now() - t0;
  for (const ws of sockets) ws.close();
  await gw.stop();
  console.log(
    `${label.padEnd(22)} ${CLIENTS} clients x ${MESSAGES} msgs: ${delivered}/${target} delivered in ${ms} ms = ${Math.round(delivered / (ms / 1000))} deliveries/s`,
  );
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  try {
    console.log(`node ${process.version}, nats-server ${nats.url}, ${MESSAGES} messages`);
    await brokerPath('MemoryBroker', new MemoryBroker({ clock: systemClock }));
    await brokerPath('JetStreamBroker', new JetStreamBroker({ servers: nats.url }));
    await fanout('memory, 1 process', null, 1);
    await fanout('nats, 1 worker', nats.url, 1);
    await fanout('nats, 2 workers', nats.url, 2);
  } finally {
    await nats.stop();
  }
}

await main();
