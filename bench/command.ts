/**
 * `odin-ws bench`: the fan-out benchmark. Runs every contender on this machine with the same
 * load client, scenarios interleaved across contenders and repeated, and prints medians and
 * ratios against our gateway; writes the raw JSON and an SVG chart made from it (report.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { allContenders, WRITE_DELAYS_MS, type Contender } from './contenders.js';
import { fanoutScenario, idleScenario, latencyScenario, quietScenario, steppedScenario, type IdleResult, type Log } from './scenarios.js';
import { fdLimit } from './proc.js';
import { DEFAULT_OURS, renderTables, SCENARIOS, writeChart, type BenchRecord, type BenchResults, type ScenarioName } from './report.js';
import { parseFlags, toList, toNumber, UsageError } from '../src/lib/runtime/flags.js';

/** Contenders fed by NATS subjects: run only when named (`--contenders`). */
const FEED_CONTENDERS = ['odin-ws-feed', 'odin-ws-js-feed', 'go-gateway', ...WRITE_DELAYS_MS.map((ms) => `odin-ws-feed-wd${ms}`)];

export const BENCH_HELP = `Usage: odin-ws bench [options]

Fan-out benchmark: our gateway against nats-server's WebSocket listener, a naive \`ws\`
broadcast server and Centrifugo (when installed), same machine, same load client. Each
contender runs as a child process; its CPU (utime+stime) and RSS come from /proc.

Scenarios:
  fanout   N subscribers on one channel, publish rate stepped until delivery falls behind
  quiet    one message per client per flush (every connection on its own channel)
  latency  many connections × several channels at a fixed rate; latency percentiles
  idle     idle subscribed connections; server RSS per connection

Options:
  --contenders LIST      odin-ws,nats-server,naive-ws,centrifugo  (default: those available)
                         NATS feed (named only): odin-ws-feed,odin-ws-js-feed,go-gateway (ODIN_BENCH_GO_GATEWAY=binary),
                         odin-ws-feed-wdN (client.writeDelayMs N ms; N: ${WRITE_DELAYS_MS.join('|')})
  --ours NAME            the contender ratios are taken against                  odin-ws
  --scenarios LIST       ${SCENARIOS.join(',')}   (default: all)
  --runs N               repetitions, contenders interleaved; medians reported   3
  --subscribers N        fanout subscribers                                       1000
  --rates LIST           fanout publish rates per second, stepped                 50,100,250,500,1000,1500,2000,3000,4000
  --step-seconds S       measured seconds per step (after 1 s warm-up)            4
  --quiet-connections N  quiet scenario connections (= channels)                 1000
  --quiet-rate R         quiet scenario publications per second                  5000
  --latency-connections N                                                        10000
  --latency-channels K   channels per connection, from a pool of 100              10
  --latency-rate R       publications/s (default: 80% of odin-ws's maximum in this scenario, found first)
  --latency-seconds S                                                            10
  --idle LIST            idle connection counts                                   10000,19000
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
  'quiet-connections': { type: 'string' },
  'quiet-rate': { type: 'string' },
  'latency-connections': { type: 'string' },
  'latency-channels': { type: 'string' },
  'latency-rate': { type: 'string' },
  'latency-seconds': { type: 'string' },
  idle: { type: 'string' },
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
  const scenarios = list(f.scenarios, SCENARIOS.join(',')) as ScenarioName[];
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
    quietConnections: toNumber('--quiet-connections', f['quiet-connections'], { min: 0 }, 1000),
    quietRate: toNumber('--quiet-rate', f['quiet-rate'], { min: 0 }, 5000),
    latencyConnections: toNumber('--latency-connections', f['latency-connections'], { min: 0 }, 10000),
    latencyChannels: toNumber('--latency-channels', f['latency-channels'], { min: 0 }, 10),
    latencyPool: 100,
    latencyRate: toNumber('--latency-rate', f['latency-rate'], { min: 0 }) ?? null,
    latencySeconds: toNumber('--latency-seconds', f['latency-seconds'], { min: 0 }, 10),
    latencyCalibrationRates: [25, 50, 100, 150, 200, 300, 400, 600, 800, 1200],
    idle: nums('idle', f.idle, '10000,19000'),
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

  for (let run = 1; run <= runs; run++) {
    for (const scenario of scenarios) {
      // Interleave: rotate the contender order each run.
      const order = contenders.map((_, i) => contenders[(i + run - 1) % contenders.length]!);
      for (const c of order) {
        log(`run ${run}/${runs} · ${scenario} · ${c.name}`);
        try {
          const rec = await runOne(c, scenario, run, cfg, results, log);
          results.records.push(rec);
        } catch (e) {
          log(`    failed: ${(e as Error).message}`);
          results.records.push({ run, contender: c.name, scenario, error: (e as Error).message });
        }
        save();
      }
    }
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
  quietConnections: number;
  quietRate: number;
  latencyConnections: number;
  latencyChannels: number;
  latencyPool: number;
  latencyRate: number | null;
  latencySeconds: number;
  latencyCalibrationRates: number[];
  idle: number[];
  workers: number;
};

async function runOne(c: Contender, scenario: ScenarioName, run: number, cfg: Cfg, results: BenchResults, log: Log): Promise<BenchRecord> {
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
  const server = await c.start();
  try {
    switch (scenario) {
      case 'fanout':
        return {
          run,
          contender: c.name,
          scenario,
          fanout: await fanoutScenario(
            server,
            { subscribers: cfg.subscribers, rates: cfg.rates, stepSeconds: cfg.stepSeconds, workers: cfg.workers },
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
