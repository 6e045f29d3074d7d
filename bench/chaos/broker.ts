/**
 * Bench (not a test): broker chaos at length. The same harness as test/chaos/broker-faults.test.ts
 * (test/testkit/chaos.ts), with 20 SIGKILLs and restarts by default: of the stream leader of a
 * 3-node cluster (R3) and of a single nats-server, while publishing through 2 gateway processes
 * to real centrifuge SDK clients. Prints one JSON line per mode and exits 1 if anything was lost.
 *
 *   npm run build && node dist/bench/chaos/broker.js [kills=20] [modes=r3,single]
 */
import { runBrokerChaos } from '../../test/testkit/chaos.js';

const KILLS = Number(process.argv[2] ?? 20);
const MODES = (process.argv[3] ?? 'r3,single').split(',') as ('r3' | 'single')[];

let bad = false;
for (const mode of MODES) {
  const r = await runBrokerChaos({
    mode,
    kills: KILLS,
    clientsPerChannel: 5,
    channels: 4,
    gateways: 2,
    downMs: 2_000,
    acksBetweenKills: 200,
    log: (l) => console.log(l),
  });
  const o = [...r.publishOutagesMs].sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      mode,
      ...r,
      publishOutageMs: { median: o[Math.floor(o.length / 2)], max: o[o.length - 1] },
    }),
  );
  if (r.lost + r.duplicated + r.reordered + r.offsetBreaks + r.notRecovered > 0) bad = true;
}
process.exit(bad ? 1 : 0);
