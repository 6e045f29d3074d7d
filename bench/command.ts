/**
 * `odin-ws bench`: the fan-out benchmark. Runs every contender on this machine with the same
 * load client, scenarios interleaved across contenders and repeated, and prints medians and
 * ratios against our gateway; writes the raw JSON and an SVG chart made from it (report.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { allContenders, stopSharedFeeds, WRITE_DELAYS_MS, type Contender } from './contenders.js';
import {
  fanoutScenario,
  idleScenario,
  KEEP_UP_P99_MS,
  latencyScenario,
  parsePoint,
  quietScenario,
  rateScenario,
  scaleScenario,
  steppedScenario,
  stormScenario,
  type IdleResult,
  type Log,
  type RatePoint,
} from './scenarios.js';
import { fdLimit } from './proc.js';
import {
  DEFAULT_OURS,
  DEFAULT_SCENARIOS,
  renderTables,
  SCENARIOS,
  writeChart,
  type BenchRecord,
  type BenchResults,
  type ScenarioName,
} from './report.js';
import { parseFlags, toList, toNumber, UsageError } from '../src/lib/runtime/flags.js';

/** Contenders fed by NATS subjects or Kafka: run only when named (`--contenders`). */
const FEED_CONTENDERS = [
  'odin-ws-feed',
  'odin-ws-js-feed',
  'odin-ws-js-feed-w2',
  'go-gateway',
  ...WRITE_DELAYS_MS.map((ms) => `odin-ws-feed-wd${ms}`),
  'odin-ws-kafka',
  'go-gateway-kafka',
  'go-gateway-kafka-multi',
];

export const BENCH_HELP = `Usage: odin-ws bench [options]

Fan-out benchmark: our gateway against nats-server's WebSocket listener, a naive \`ws\`
broadcast server and Centrifugo (when installed), same machine, same load client. Each
contender runs as a child process; its CPU (utime+stime) and RSS come from /proc.

Scenarios (default: ${DEFAULT_SCENARIOS.join(',')}; the others only when named):
  fanout   N subscribers on one channel, publish rate stepped until delivery falls behind
  quiet    one message per client per flush (every connection on its own channel)
  latency  many connections × several channels at a fixed rate; latency percentiles
  idle     idle subscribed connections; server RSS per connection
  rates    fixed loads on one channel (--points): CPU-s per 1M deliveries, p99, RSS, each
           point on a fresh server, contenders interleaved
  scale    --scale-connections connections (many 127.0.0.x source addresses; the server's
           open-file limit raised with prlimit), each subscribed, 1 msg/s each: RSS per
           connection, p99, lost
  storm    --storm-connections connections opened at once, no retries: failed handshakes

Options:
  --contenders LIST      odin-ws,nats-server,naive-ws,centrifugo  (default: those available;
                         centrifugo: CENTRIFUGO_BIN, else the v6.9.1 build of scripts/provision/45-centrifugo.sh)
                         NATS feed (named only): odin-ws-feed,odin-ws-js-feed,go-gateway (ODIN_BENCH_GO_GATEWAY=binary),
                         odin-ws-feed-wdN (client.writeDelayMs N ms; N: ${WRITE_DELAYS_MS.join('|')}),
                         odin-ws-js-feed-w2 (JetStream broker, --workers 2; odin-ws-js-feed is --workers 1)
                         Kafka feed (named only; one local Kafka broker, KAFKA_LIBS or tools/kafka jars):
                         odin-ws-kafka, go-gateway-kafka (ODIN_BENCH_GO_GATEWAY_KAFKA=ws_poc kafka-refactor
                         ws/cmd/single binary), go-gateway-kafka-multi (ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI=ws/cmd/multi)
  --ours NAME            the contender ratios are taken against                  odin-ws
  --scenarios LIST       ${SCENARIOS.join(',')}
  --runs N               repetitions, contenders interleaved; medians reported   3
  --subscribers N        fanout subscribers                                       1000
  --rates LIST           fanout publish rates per second, stepped                 50,100,250,500,1000,1500,2000,3000,4000
  --step-seconds S       measured seconds per step (after 1 s warm-up)            4
  --p99-ms MS            fanout/rates: a step keeps up only with p99 under this   1000
                         (e.g. 100 to compare --workers 2 with 1 at the same p99)
  --quiet-connections N  quiet scenario connections (= channels)                 1000
  --quiet-rate R         quiet scenario publications per second                  5000
  --latency-connections N                                                        10000
  --latency-channels K   channels per connection, from a pool of 100              10
  --latency-rate R       publications/s (default: 80% of odin-ws's maximum in this scenario, found first)
  --latency-seconds S                                                            10
  --idle LIST            idle connection counts                                   10000,19000
  --points LIST          rates: SUBSCRIBERSxRATE on one channel                   200x50,2000x25,1000x100
                         (the API-feed points of issue 25: 4000x25,1000x100,1000x1000)
  --rate-seconds S       rates: measured seconds per point (after the warm-up)   10
  --rate-warmup S        rates: seconds of publishing before the window          3
  --scale-connections N  scale                                                   100000
  --scale-channels K     scale: channels (each published once a second)          100
  --scale-seconds S      scale: measured seconds                                 10
  --storm-connections N  storm                                                   20000
  --workers N            load worker processes                                    2 (idle: 4)
  --out FILE             raw results JSON                                         bench/results/latest.json
  --svg FILE             chart (docs/performance-fanout.svg only when named here)  bench/results/latest.svg
  --from FILE            only print tables and redraw the chart from a results JSON
  -h, --help
`;

const FLAGS = {
  contenders: { type: 'string' },
  ours: { type: 'string' },
  scenarios: { type: 'string' },
  runs: { type: 'string' },
  subscribers: { type: 'string' },
  rates: { type: 'string' },
  'step-seconds': { type: 'string' },
  'p99-ms': { type: 'string' },
  'quiet-connections': { type: 'string' },
  'quiet-rate': { type: 'string' },
  'latency-connections': { type: 'string' },
  'latency-channels': { type: 'string' },
  'latency-rate': { type: 'string' },
  'latency-seconds': { type: 'string' },
  idle: { type: 'string' },
  points: { type: 'string' },
  'rate-seconds': { type: 'string' },
  'rate-warmup': { type: 'string' },
  'scale-connections': { type: 'string' },
  'scale-channels': { type: 'string' },
  'scale-seconds': { type: 'string' },
  'storm-connections': { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string' },
  svg: { type: 'string' },
  from: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const list = (v: string | undefined, dflt: string): string[] => toList(v ?? dflt);
const nums = (name: string, v: string | undefined, dflt: string): number[] =>
  list(v, dflt).map((s) => toNumber(`--${name}`, s, { min: 1 }, 0));

/** `odin-ws bench`; bad usage prints the reason and returns 2. */
export async function benchCommand(argv: readonly string[]): Promise<number> {
  try {
    return await runBench(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`odin-ws bench: ${e.message}\n`);
    return 2;
  }
}

async function runBench(argv: readonly string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS).values;
  if (f.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  // The tracked chart in docs/ is rewritten only when asked for by name: a default run writes beside its results.
  const svgPath = f.svg ?? 'bench/results/latest.svg';
  if (f.from !== undefined) {
    const results = JSON.parse(readFileSync(f.from, 'utf8')) as BenchResults;
    process.stdout.write(renderTables(results));
    writeChart(results, svgPath);
    return 0;
  }
  const log: Log = (line) => process.stderr.write(line + '\n');
  const skipped: Record<string, string> = {};
  const wanted = f.contenders !== undefined ? list(f.contenders, '') : null;
  const contenders: Contender[] = [];
  // A name no contender has (odin-ws-uws, removed with the uws transport) is an error, not an empty run.
  const known = allContenders().map((c) => c.name);
  for (const n of wanted ?? [])
    if (!known.includes(n)) throw new UsageError(`--contenders: unknown contender ${n} (known: ${known.join(',')})`);
  for (const c of allContenders()) {
    if (wanted !== null ? !wanted.includes(c.name) : FEED_CONTENDERS.includes(c.name)) continue;
    const why = c.unavailable();
    if (why !== null) {
      skipped[c.name] = why;
      log(`skipping ${c.name}: ${why}`);
      continue;
    }
    contenders.push(c);
  }
  const scenarios = list(f.scenarios, DEFAULT_SCENARIOS.join(',')) as ScenarioName[];
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new UsageError(`--scenarios: unknown scenario ${s}`);
  const runs = toNumber('--runs', f.runs, { min: 0 }, 3);
  const workers = toNumber('--workers', f.workers, { min: 0 }, 2);
  const cfg = {
    ours: f.ours ?? DEFAULT_OURS,
    runs,
    scenarios,
    contenders: contenders.map((c) => c.name),
    subscribers: toNumber('--subscribers', f.subscribers, { min: 0 }, 1000),
    rates: nums('rates', f.rates, '50,100,250,500,1000,1500,2000,3000,4000'),
    stepSeconds: toNumber('--step-seconds', f['step-seconds'], { min: 0 }, 4),
    p99Ms: toNumber('--p99-ms', f['p99-ms'], { min: 1 }, KEEP_UP_P99_MS),
    quietConnections: toNumber('--quiet-connections', f['quiet-connections'], { min: 0 }, 1000),
    quietRate: toNumber('--quiet-rate', f['quiet-rate'], { min: 0 }, 5000),
    latencyConnections: toNumber('--latency-connections', f['latency-connections'], { min: 0 }, 10000),
    latencyChannels: toNumber('--latency-channels', f['latency-channels'], { min: 0 }, 10),
    latencyPool: 100,
    latencyRate: toNumber('--latency-rate', f['latency-rate'], { min: 0 }) ?? null,
    latencySeconds: toNumber('--latency-seconds', f['latency-seconds'], { min: 0 }, 10),
    latencyCalibrationRates: [25, 50, 100, 150, 200, 300, 400, 600, 800, 1200],
    idle: nums('idle', f.idle, '10000,19000'),
    points: list(f.points, '200x50,2000x25,1000x100').map((p) => {
      const point = parsePoint(p);
      if (point === null) throw new UsageError(`--points: ${p} is not SUBSCRIBERSxRATE (e.g. 2000x25)`);
      return point;
    }),
    rateSeconds: toNumber('--rate-seconds', f['rate-seconds'], { min: 1 }, 10),
    rateWarmup: toNumber('--rate-warmup', f['rate-warmup'], { min: 0 }, 3),
    scaleConnections: toNumber('--scale-connections', f['scale-connections'], { min: 1 }, 100_000),
    scaleChannels: toNumber('--scale-channels', f['scale-channels'], { min: 1 }, 100),
    scaleSeconds: toNumber('--scale-seconds', f['scale-seconds'], { min: 1 }, 10),
    stormConnections: toNumber('--storm-connections', f['storm-connections'], { min: 1 }, 20_000),
    workers,
  };
  const nats = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? '',
      node: process.version,
      natsServer: (nats.stdout ?? '').trim(),
      fdLimit: fdLimit(),
    },
    config: cfg,
    skipped,
    records: [],
  };
  const out = f.out ?? 'bench/results/latest.json';
  const save = (): void => {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(results, null, 1));
  };

  if (scenarios.includes('latency') && cfg.latencyRate === null) {
    // Scenario 2's own maximum (many clients, few messages each per flush, unlike scenario 1),
    // found once on our gateway; every contender then runs at 80% of it.
    const OURS = cfg.ours;
    const ours = contenders.find((c) => c.name === OURS);
    if (ours) {
      log(`calibrating the latency scenario on ${OURS}: stepping the publish rate`);
      const server = await ours.start();
      try {
        const r = await steppedScenario(
          server,
          {
            connections: cfg.latencyConnections,
            channels: latencyChannels(cfg.latencyPool),
            perConnection: cfg.latencyChannels,
            trackEvery: 10,
            rates: cfg.latencyCalibrationRates,
            stepSeconds: 3,
            workers: Math.max(workers, Math.ceil(cfg.latencyConnections / 5000)),
          },
          log,
        );
        const best = r.best?.publishRate ?? cfg.latencyCalibrationRates[0]!;
        cfg.latencyRate = Math.max(1, Math.round(0.8 * best));
        (results.config as { latencyRate: number; latencyMaxPublishRate: number }).latencyMaxPublishRate = best;
      } finally {
        await server.stop();
      }
    } else cfg.latencyRate = 100;
    (results.config as { latencyRate: number }).latencyRate = cfg.latencyRate;
    log(`latency scenario rate: ${cfg.latencyRate} pub/s`);
  }

  try {
    for (let run = 1; run <= runs; run++) {
      for (const scenario of scenarios) {
        // Interleave: rotate the contender order each run (and, for rates, at each point).
        const order = contenders.map((_, i) => contenders[(i + run - 1) % contenders.length]!);
        for (const point of scenario === 'rates' ? cfg.points : [null]) {
          for (const c of order) {
            const label = point ? `${point.subscribers}x${point.rate}` : undefined;
            log(`run ${run}/${runs} · ${scenario}${label ? ` ${label}` : ''} · ${c.name}`);
            try {
              const rec = await runOne(c, scenario, run, cfg, point, log);
              results.records.push(rec);
            } catch (e) {
              log(`    failed: ${(e as Error).message}`);
              results.records.push({ run, contender: c.name, scenario, ...(label ? { point: label } : {}), error: (e as Error).message });
            }
            save();
          }
        }
      }
    }
  } finally {
    await stopSharedFeeds();
  }
  save();
  process.stdout.write(renderTables(results));
  writeChart(results, svgPath);
  log(`results: ${out}; chart: ${svgPath}`);
  return 0;
}

type Cfg = {
  subscribers: number;
  rates: number[];
  stepSeconds: number;
  p99Ms: number;
  quietConnections: number;
  quietRate: number;
  latencyConnections: number;
  latencyChannels: number;
  latencyPool: number;
  latencyRate: number | null;
  latencySeconds: number;
  latencyCalibrationRates: number[];
  idle: number[];
  points: RatePoint[];
  rateSeconds: number;
  rateWarmup: number;
  scaleConnections: number;
  scaleChannels: number;
  scaleSeconds: number;
  stormConnections: number;
  workers: number;
};

/** Load worker processes for n connections: at least --workers, at most 5,000 connections each. */
const loadWorkers = (cfg: Cfg, n: number): number => Math.max(cfg.workers, Math.ceil(n / 5000));

async function runOne(
  c: Contender,
  scenario: ScenarioName,
  run: number,
  cfg: Cfg,
  point: RatePoint | null,
  log: Log,
): Promise<BenchRecord> {
  if (scenario === 'idle') {
    const idle: IdleResult[] = [];
    for (const n of cfg.idle) {
      const server = await c.start();
      try {
        idle.push(await idleScenario(server, { connections: n, workers: Math.max(cfg.workers, Math.ceil(n / 5000)) }, log));
      } finally {
        await server.stop();
      }
    }
    return { run, contender: c.name, scenario, idle };
  }
  if (scenario === 'scale' || scenario === 'storm') {
    const n = scenario === 'scale' ? cfg.scaleConnections : cfg.stormConnections;
    const server = await c.start({ maxConnections: n + 1000 });
    try {
      return scenario === 'scale'
        ? {
            run,
            contender: c.name,
            scenario,
            scale: await scaleScenario(
              server,
              { connections: n, channels: cfg.scaleChannels, seconds: cfg.scaleSeconds, workers: loadWorkers(cfg, n) },
              log,
            ),
          }
        : { run, contender: c.name, scenario, storm: await stormScenario(server, { connections: n, workers: loadWorkers(cfg, n) }, log) };
    } finally {
      await server.stop();
    }
  }
  const server = await c.start();
  try {
    switch (scenario) {
      case 'rates': {
        const p = point!;
        return {
          run,
          contender: c.name,
          scenario,
          point: `${p.subscribers}x${p.rate}`,
          rate: await rateScenario(
            server,
            { ...p, seconds: cfg.rateSeconds, warmupSeconds: cfg.rateWarmup, workers: loadWorkers(cfg, p.subscribers), p99Ms: cfg.p99Ms },
            log,
          ),
        };
      }
      case 'fanout':
        return {
          run,
          contender: c.name,
          scenario,
          fanout: await fanoutScenario(
            server,
            { subscribers: cfg.subscribers, rates: cfg.rates, stepSeconds: cfg.stepSeconds, workers: cfg.workers, p99Ms: cfg.p99Ms },
            log,
          ),
        };
      case 'quiet':
        return {
          run,
          contender: c.name,
          scenario,
          measured: await quietScenario(
            server,
            { connections: cfg.quietConnections, rate: cfg.quietRate, seconds: cfg.stepSeconds, workers: cfg.workers },
            log,
          ),
        };
      case 'latency': {
        return {
          run,
          contender: c.name,
          scenario,
          measured: await latencyScenario(
            server,
            {
              connections: cfg.latencyConnections,
              channelsPerConnection: cfg.latencyChannels,
              channelPool: cfg.latencyPool,
              rate: cfg.latencyRate ?? 100,
              seconds: cfg.latencySeconds,
              workers: Math.max(cfg.workers, Math.ceil(cfg.latencyConnections / 5000)),
            },
            log,
          ),
        };
      }
    }
  } finally {
    await server.stop();
  }
}

function latencyChannels(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `L${i}.trade`);
}
