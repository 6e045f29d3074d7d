/**
 * Issue 13 item 2: what one anonymous client's recovery commands cost a bystander. A gateway on
 * real sockets (port 0) holds `channels` channels × 1,000 publications of 400 B; an anonymous
 * attacker loops "subscribe to every channel with an old position, then unsubscribe" (reading
 * everything it is sent) while a bystander sends a heartbeat every 10 ms and times each pong.
 * Prints the bystander's round-trip percentiles, the attacker's commands, what was recovered and
 * what was refused. `unbounded` lifts the recovery limits (as before they existed). The clients
 * run in a child process, so their own work does not stall the gateway's loop.
 *   npm run build && node dist/bench/micro/recovery-bystander.js [channels=64] [seconds=5] [bounded|unbounded]
 */
import { fork } from 'node:child_process';
import WebSocket from 'ws';
import { startGateway } from '../../src/apps/gateway/compose.js';

const [channelsArg = '64', secondsArg = '5', mode = 'bounded'] =
  process.argv[2] === 'bystander' || process.argv[2] === 'attacker' ? [] : process.argv.slice(2);
const CHANNELS = Number(channelsArg);
const SECONDS = Number(secondsArg);
const HISTORY = 1000;

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const unbounded = mode === 'unbounded';
  const gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    maxChannelsPerConnection: Math.max(128, CHANNELS),
    commandRatePerSecond: 1000,
    commandBurst: 1000,
    ...(unbounded
      ? { recovery: { maxBytesPerCommand: 2 ** 40, maxBytesPerConnection: 2 ** 40, bytesPerSecond: 2 ** 40, anonymousShare: 1 } }
      : {}),
  });
  const channels = Array.from({ length: CHANNELS }, (_, i) => `C${i}.trade`);
  const positions: Record<string, { offset: number; epoch: string }> = {};
  const pad = 'x'.repeat(380);
  for (const ch of channels) {
    let epoch = '';
    for (let i = 1; i <= HISTORY; i++) epoch = (await gw.gateway.api.publish({ channel: ch, data: `{"i":${i},"p":"${pad}"}` })).epoch;
    positions[ch] = { offset: 0, epoch };
  }
  const ws = gw.url.replace('http', 'ws') + '/ws';
  const cpu0 = process.cpuUsage();
  const env = { ...process.env, BENCH_URL: ws, BENCH_POSITIONS: JSON.stringify(positions), BENCH_SECONDS: String(SECONDS) };
  const self = new URL(import.meta.url).pathname;
  const resultOf = (c: ReturnType<typeof fork>) =>
    new Promise<Record<string, unknown>>((r) => c.once('message', (m) => r(m as Record<string, unknown>)));
  // Each client in its own process: the bystander's timings are the gateway's, not its neighbour's.
  const bystander = fork(self, ['bystander'], { env });
  await new Promise<void>((r) => bystander.once('message', () => r()));
  const bystanderResult = resultOf(bystander);
  const attacker = fork(self, ['attacker'], { env });
  const attackerResult = await resultOf(attacker);
  bystander.send('stop');
  const result = { ...attackerResult, ...(await bystanderResult) };
  const cpu = process.cpuUsage(cpu0);
  console.log(
    JSON.stringify({
      mode,
      channels: CHANNELS,
      seconds: SECONDS,
      ...result,
      refusals: gw.gateway.stats.recoveryRefusals,
      gatewayCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
      gatewayRssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }),
  );
  await gw.close();
}

async function runBystander(ws: string): Promise<void> {
  const bystander = await open(ws);
  const rtts: number[] = [];
  let sentAt = 0;
  bystander.on('message', (d: Buffer) => {
    if (d.toString().startsWith('{"type":"pong"')) rtts.push(performance.now() - sentAt);
  });
  const beat = setInterval(() => {
    sentAt = performance.now();
    bystander.send('{"type":"heartbeat"}');
  }, 10);
  process.send!('ready');
  await new Promise<void>((r) => process.once('message', () => r()));
  clearInterval(beat);
  const sorted = [...rtts].sort((a, b) => a - b);
  process.send!({
    bystanderPongs: rtts.length,
    bystanderRttMs: { p50: +pct(sorted, 50).toFixed(2), p99: +pct(sorted, 99).toFixed(2), max: +(sorted.at(-1) ?? 0).toFixed(2) },
  });
  bystander.close();
  process.disconnect();
}

async function runAttacker(ws: string): Promise<void> {
  const positions = JSON.parse(process.env.BENCH_POSITIONS!) as Record<string, { offset: number; epoch: string }>;
  const channels = Object.keys(positions);
  const attacker = await open(ws);
  let commands = 0;
  let refused = 0;
  let recovered = 0;
  let bytesIn = 0;
  let ackWaiter: (() => void) | null = null;
  attacker.on('message', (d: Buffer) => {
    bytesIn += d.length;
    if (d.subarray(0, 40).toString().startsWith('{"type":"subscription_ack"')) {
      const ack = JSON.parse(d.toString()) as { subscribed: string[]; errors?: unknown[] };
      recovered += ack.subscribed.length;
      refused += ack.errors?.length ?? 0;
      ackWaiter?.();
    }
  });
  const end = Date.now() + Number(process.env.BENCH_SECONDS) * 1000;
  while (Date.now() < end) {
    const acked = new Promise<void>((r) => (ackWaiter = r));
    attacker.send(JSON.stringify({ type: 'subscribe', data: { channels, positions } }));
    await acked;
    commands++;
    attacker.send(JSON.stringify({ type: 'unsubscribe', data: { channels } }));
  }
  process.send!({
    attackerCommands: commands,
    channelsRecovered: recovered,
    channelsRefused: refused,
    attackerMiB: +(bytesIn / 2 ** 20).toFixed(1),
  });
  attacker.close();
  process.disconnect();
}

const role = process.argv[2];
if (role === 'bystander') void runBystander(process.env.BENCH_URL!);
else if (role === 'attacker') void runAttacker(process.env.BENCH_URL!);
else void main();
