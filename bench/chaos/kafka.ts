/**
 * Bench (not a test): Kafka broker chaos at length. The same harness as
 * test/chaos/kafka-faults.test.ts (test/testkit/kafka-chaos.ts), with 20 SIGKILLs and restarts of
 * the only Kafka broker by default while a producer writes, into gateways ingesting with
 * `--ingest kafka` (`memory`: one gateway on the memory broker; `jetstream`: two gateways in one
 * consumer group on a nats-server), with real centrifuge SDK clients (some dropping their
 * connection and recovering at each kill). Prints one JSON line per mode and exits 1 if an
 * acknowledged record was lost, doubled or reordered.
 *
 *   npm run build && node dist/bench/chaos/kafka.js [kills=20] [modes=memory,jetstream]
 */
import { runKafkaChaos } from '../../test/testkit/kafka-chaos.js';

const KILLS = Number(process.argv[2] ?? 20);
const MODES = (process.argv[3] ?? 'memory,jetstream').split(',') as ('memory' | 'jetstream')[];

const median = (xs: readonly number[]): number | undefined => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs: readonly number[]): number | undefined => (xs.length === 0 ? undefined : Math.max(...xs));

let bad = false;
for (const broker of MODES) {
  const r = await runKafkaChaos({
    broker,
    gateways: 2,
    kills: KILLS,
    keys: 4,
    clientsPerKey: 4,
    downMs: 1_000,
    acksBetweenKills: 200,
    reconnectsPerKill: 2,
    log: (l) => console.log('# ' + l),
  });
  console.log(
    JSON.stringify({
      broker,
      ...r,
      kafkaStartMs: { median: median(r.kafkaStartMs), max: max(r.kafkaStartMs) },
      produceOutageMs: { median: median(r.produceOutagesMs), max: max(r.produceOutagesMs) },
      produceOutagesMs: undefined,
    }),
  );
  if (r.lost + r.duplicated + r.reordered + r.offsetBreaks + r.notRecovered > 0) bad = true;
}
process.exit(bad ? 1 : 0);
