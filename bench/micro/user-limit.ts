/**
 * Bench (not a test): what a cluster-wide `maxConnectionsPerUser` adds to a connect on the
 * JetStream broker (user-connections-kv.ts: a KV put, then the user's entries read back up to a
 * fence). A gateway in this process on a fresh nats-server; sequential token connects of
 * distinct users (connect sent → connect reply), with the limit off and on, interleaved.
 * Short runs: the machine is shared.
 *
 *   npm run build && node dist/bench/micro/user-limit.js [connects=200] [rounds=2]
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { startNatsServer } from '../../test/testkit/nats-server.js';
import { TestClient } from '../../test/testkit/ws-client.js';

const SECRET = randomBytes(24).toString('hex');
const WARMUP = 20;

async function connectTimes(natsUrl: string, limit: number, n: number): Promise<number[]> {
  const tag = `ul${limit}${randomBytes(3).toString('hex')}`;
  const broker = new JetStreamBroker({ servers: natsUrl, stream: tag, subjectPrefix: tag });
  const gw = await startGateway({ port: 0, host: '127.0.0.1', tokenHmacSecret: SECRET, maxConnectionsPerUser: limit }, { broker });
  const ws = gw.url.replace('http', 'ws') + '/connection/websocket';
  const key = new TextEncoder().encode(SECRET);
  const times: number[] = [];
  try {
    for (let i = 0; i < n + WARMUP; i++) {
      const token = await new SignJWT({ sub: `u${i}` }).setProtectedHeader({ alg: 'HS256' }).sign(key);
      const c = await TestClient.connect(ws);
      const t0 = process.hrtime.bigint();
      c.send({ id: 1, connect: { token } });
      await c.next((m) => m.id === 1);
      if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      c.close();
      await c.waitClose();
    }
  } finally {
    await gw.close();
  }
  return times.sort((a, b) => a - b);
}

const quantile = (sorted: readonly number[], p: number): string =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(2);

const n = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 2);
const nats = await startNatsServer();
try {
  for (let r = 0; r < rounds; r++) {
    for (const limit of [0, 5]) {
      const t = await connectTimes(nats.url, limit, n);
      console.log(`maxConnectionsPerUser=${limit}: connect p50 ${quantile(t, 0.5)} ms, p99 ${quantile(t, 0.99)} ms (n=${n}, sequential)`);
    }
  }
} finally {
  await nats.stop();
}
