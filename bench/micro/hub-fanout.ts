/**
 * Microbenchmark of core's fan-out alone (no sockets): one channel, N subscribers, publications
 * in bursts; reports deliveries/s and ns per delivery. Shows what core costs on top of writes.
 *   npm run build && node dist/bench/micro/hub-fanout.js [subscribers=1000] [publications=2000] [burst=10]
 */
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { resolveGatewayOptions } from '../../src/lib/core/options.js';
import type { ConnectionAcceptor } from '../../src/lib/core/transport.js';
import { NullConnection, nullEncoder } from './null-connection.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

const transport = nullEncoder;
const [subs = 1000, pubs = 2000, burst = 10] = process.argv.slice(2).map(Number);

async function main(): Promise<void> {
  const gw = new Gateway(resolveGatewayOptions({ maxConnections: subs + 1, commandRatePerSecond: 1e6 }), {
    broker: new MemoryBroker({ clock: systemClock }),
    transport,
    clock: systemClock,
  });
  await gw.start();
  const acceptor: ConnectionAcceptor = gw;
  const conns: NullConnection[] = [];
  for (let i = 0; i < subs; i++) {
    const c = new NullConnection();
    const h = acceptor.accept(c, { protocol: i % 2 ? 'centrifuge' : 'odin', ip: '127.0.0.1' });
    if (i % 2) {
      h.onMessage(Buffer.from('{"id":1,"connect":{}}'), false);
      await new Promise((r) => setImmediate(r));
      h.onMessage(Buffer.from('{"id":2,"subscribe":{"channel":"BTC.trade"}}'), false);
    } else h.onMessage(Buffer.from('{"type":"subscribe","data":{"channels":["BTC.trade"]}}'), false);
    conns.push(c);
  }
  while (gw.stats.subscriptions < subs) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const data = JSON.stringify({
    type: 'trade:new',
    tokenId: 'BTC',
    price: 43250.5,
    amount: 0.25,
    trader: 'bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh',
    ts: Date.now(),
  });
  const before = conns.reduce((a, c) => a + c.frames, 0);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pubs; i += burst) {
    for (let j = 0; j < burst; j++) void gw.api.publish({ channel: 'BTC.trade', data });
    await new Promise((r) => setImmediate(r));
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const deliveries = conns.reduce((a, c) => a + c.frames, 0) - before;
  console.log(
    JSON.stringify({
      subscribers: subs,
      publications: pubs,
      burst,
      deliveries,
      deliveriesPerSec: Math.round(deliveries / (ns / 1e9)),
      nsPerDelivery: +(ns / deliveries).toFixed(1),
      cpuUsPerDelivery: +((cpu.user + cpu.system) / deliveries).toFixed(3),
    }),
  );
  await gw.shutdown();
}
void main();
