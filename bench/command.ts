/**
 * `odin-ws bench`: the fan-out benchmark. Runs every contender on this machine with the same
 * load client, scenarios interleaved across contenders and repeated, and prints medians and
 * ratios against our gateway; writes the raw JSON and an SVG chart made from it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { allContenders, WRITE_DELAYS_MS, type Contender } from './contenders.js';
import {
  fanoutScenario,
  idleScenario,
  latencyScenario,
  quietScenario,
  steppedScenario,
  type FanoutResult,
  type IdleResult,
  type Log,
  type Measured,
} from './scenarios.js';
import { barChartSvg, type BarGroup } from './chart.js';
import { fdLimit } from './proc.js';
import { parseFlags, toList, toNumber, UsageError } from '../src/lib/runtime/flags.js';

export const SCENARIOS = ['fanout', 'quiet', 'latency', 'idle'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
const DEFAULT_OURS = 'odin-ws';
/** The contender the ratios are taken against (`--ours`; odin-ws-feed for the NATS-feed runs). */
const oursOf = (results: BenchResults): string => (results.config as { ours?: string }).ours ?? DEFAULT_OURS;
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
  --svg FILE             chart                                                    docs/performance-fanout.svg
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

interface BenchRecord {
  readonly run: number;
  readonly contender: string;
  readonly scenario: ScenarioName;
  readonly fanout?: FanoutResult;
  readonly measured?: Measured;
  readonly idle?: IdleResult[];
  readonly error?: string;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly machine: { cpus: number; model: string; node: string; natsServer: string; fdLimit: number };
  readonly config: Record<string, unknown>;
  readonly skipped: Record<string, string>;
  readonly records: BenchRecord[];
}

const list = (v: string | undefined, dflt: string): string[] => toList(v ?? dflt);
const nums = (name: string, v: string | undefined, dflt: string): number[] =>
  list(v, dflt).map((s) => toNumber(`--${name}`, s, { min: 1 }, 0));

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

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
  const svgPath = f.svg ?? 'docs/performance-fanout.svg';
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

// ------------------------------------------------------------------------------- reporting

export interface ContenderSummary {
  readonly name: string;
  readonly fanoutMax?: number;
  readonly fanoutCpuPerMillion?: number;
  readonly fanoutClientCpuShare?: number;
  readonly fanoutCommonCpuPerMillion?: number;
  readonly quietCpuPerMillion?: number;
  readonly quietRate?: number;
  readonly latencyP50?: number;
  readonly latencyP99?: number;
  readonly latencyP999?: number;
  readonly latencyRate?: number;
  readonly latencyClientSaturated?: boolean;
  readonly idle?: Record<number, number>;
  readonly runs: Record<string, number>;
}

/** Medians per contender over the runs. */
export function summarize(results: BenchResults): ContenderSummary[] {
  const names = [...new Set(results.records.map((r) => r.contender))];
  const recs = (name: string, s: ScenarioName): BenchRecord[] =>
    results.records.filter((r) => r.contender === name && r.scenario === s && r.error === undefined);
  // Common fan-out step per run: the highest publish rate every contender kept up with.
  const commonRate = new Map<number, number>();
  for (const run of new Set(results.records.map((r) => r.run))) {
    const fan = results.records.filter((r) => r.run === run && r.fanout);
    if (fan.length === 0) continue;
    const perContender = fan.map((r) => Math.max(0, ...r.fanout!.steps.filter((s) => s.keptUp).map((s) => s.publishRate)));
    commonRate.set(run, Math.min(...perContender));
  }
  return names.map((name) => {
    const fan = recs(name, 'fanout');
    const quiet = recs(name, 'quiet');
    const lat = recs(name, 'latency');
    const idle = recs(name, 'idle');
    const idleBy: Record<number, number> = {};
    for (const n of new Set(idle.flatMap((r) => r.idle!.map((i) => i.connections))))
      idleBy[n] = median(idle.flatMap((r) => r.idle!.filter((i) => i.connections === n).map((i) => i.bytesPerConnection)));
    const common = fan.map((r) => r.fanout!.steps.find((s) => s.publishRate === commonRate.get(r.run))?.cpuPerMillion ?? Number.NaN);
    return {
      name,
      ...(fan.length
        ? {
            fanoutMax: median(fan.map((r) => r.fanout!.maxDeliveredPerSecond)),
            fanoutCpuPerMillion: median(fan.map((r) => r.fanout!.best?.cpuPerMillion ?? Number.NaN)),
            fanoutClientCpuShare: median(
              fan.map((r) => (r.fanout!.best ? r.fanout!.best.clientCpuSeconds / r.fanout!.best.seconds : Number.NaN)),
            ),
            fanoutCommonCpuPerMillion: median(common),
          }
        : {}),
      ...(quiet.length
        ? {
            quietCpuPerMillion: median(quiet.map((r) => r.measured!.cpuPerMillion)),
            quietRate: median(quiet.map((r) => r.measured!.deliveredPerSecond)),
          }
        : {}),
      ...(lat.length
        ? {
            latencyP50: median(lat.map((r) => r.measured!.latencyMs.p50)),
            latencyP99: median(lat.map((r) => r.measured!.latencyMs.p99)),
            latencyP999: median(lat.map((r) => r.measured!.latencyMs.p999)),
            latencyRate: median(lat.map((r) => r.measured!.deliveredPerSecond)),
            latencyClientSaturated: lat.some((r) => r.measured!.clientSaturated),
          }
        : {}),
      ...(idle.length ? { idle: idleBy } : {}),
      runs: { fanout: fan.length, quiet: quiet.length, latency: lat.length, idle: idle.length },
    };
  });
}

const fmtN = (v: number | undefined, digits = 0): string =>
  v === undefined || !Number.isFinite(v)
    ? '—'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (ours: number | undefined, theirs: number | undefined, lowerIsBetter: boolean): string => {
  if (ours === undefined || theirs === undefined || !Number.isFinite(ours) || !Number.isFinite(theirs) || ours === 0 || theirs === 0)
    return '—';
  return (lowerIsBetter ? theirs / ours : ours / theirs).toFixed(2) + '×';
};

/** Markdown tables: medians per contender and ratios of our gateway against each. */
export function renderTables(results: BenchResults): string {
  const OURS = oursOf(results);
  const s = summarize(results);
  const ours = s.find((x) => x.name === OURS);
  const idleNs = [...new Set(s.flatMap((x) => Object.keys(x.idle ?? {}).map(Number)))].sort((a, b) => a - b);
  const lines: string[] = [];
  lines.push(
    `\nMedians of ${(results.config as { runs: number }).runs} interleaved runs; ${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}, ${results.machine.natsServer}.\n`,
  );
  lines.push(
    '| contender | fan-out max deliveries/s | CPU-s per 1M (at max) | CPU-s per 1M (common step) | load client CPU (cores, at max) | quiet: CPU-s per 1M | latency: deliveries/s | p50 ms | p99 ms | p99.9 ms | ' +
      idleNs.map((n) => `idle ${n}: KiB/conn`).join(' | ') +
      ' |',
  );
  lines.push('|---|' + '---:|'.repeat(9 + idleNs.length));
  for (const x of s) {
    lines.push(
      `| ${x.name} | ${fmtN(x.fanoutMax)} | ${fmtN(x.fanoutCpuPerMillion, 3)} | ${fmtN(x.fanoutCommonCpuPerMillion, 3)} | ${fmtN(x.fanoutClientCpuShare, 2)} | ${fmtN(x.quietCpuPerMillion, 3)} | ${fmtN(x.latencyRate)} | ${fmtN(x.latencyP50, 2)} | ${fmtN(x.latencyP99, 2)}${x.latencyClientSaturated ? ' (client saturated)' : ''} | ${fmtN(x.latencyP999, 2)} | ` +
        idleNs.map((n) => fmtN((x.idle?.[n] ?? Number.NaN) / 1024, 2)).join(' | ') +
        ' |',
    );
  }
  if (ours) {
    lines.push(`\nRatios, ${OURS} against each (deliveries per server CPU-second; >1× means ${OURS} is better):\n`);
    lines.push(
      '| against | fan-out max rate | fan-out deliveries/CPU-s (at each max) | fan-out deliveries/CPU-s (common step) | quiet deliveries/CPU-s | latency p99 | ' +
        idleNs.map((n) => `idle ${n} bytes/conn`).join(' | ') +
        ' |',
    );
    lines.push('|---|' + '---:|'.repeat(5 + idleNs.length));
    for (const x of s) {
      if (x.name === OURS) continue;
      lines.push(
        `| ${x.name} | ${ratio(ours.fanoutMax, x.fanoutMax, false)} | ${ratio(ours.fanoutCpuPerMillion, x.fanoutCpuPerMillion, true)} | ${ratio(ours.fanoutCommonCpuPerMillion, x.fanoutCommonCpuPerMillion, true)} | ${ratio(ours.quietCpuPerMillion, x.quietCpuPerMillion, true)} | ${ratio(ours.latencyP99, x.latencyP99, true)} | ` +
          idleNs.map((n) => ratio(ours.idle?.[n], x.idle?.[n], true)).join(' | ') +
          ' |',
      );
    }
  }
  lines.push(fanoutByRate(results));
  for (const [name, why] of Object.entries(results.skipped)) lines.push(`\nNot run: ${name} — ${why}`);
  const errors = results.records.filter((r) => r.error !== undefined);
  for (const e of errors) lines.push(`\nError: run ${e.run} ${e.scenario} ${e.contender}: ${e.error}`);
  return lines.join('\n') + '\n';
}

/** Scenario 1 at equal load: median server CPU-s per 1M deliveries at each publish rate (steps that kept up). */
export function fanoutByRate(results: BenchResults): string {
  const OURS = oursOf(results);
  const fan = results.records.filter((r) => r.fanout);
  if (fan.length === 0) return '';
  const names = [...new Set(fan.map((r) => r.contender))];
  const rates = [...new Set(fan.flatMap((r) => r.fanout!.steps.map((s) => s.publishRate)))].sort((a, b) => a - b);
  const cell = (name: string, rate: number): { cpu: number; kept: number; ran: number } => {
    const steps = fan.filter((r) => r.contender === name).flatMap((r) => r.fanout!.steps.filter((s) => s.publishRate === rate));
    const kept = steps.filter((s) => s.keptUp);
    return { cpu: median(kept.map((s) => s.cpuPerMillion)), kept: kept.length, ran: steps.length };
  };
  const subs = fan[0]!.fanout!.subscribers;
  const lines = [
    '',
    `Scenario 1 at equal load — server CPU-s per 1M deliveries at each publish rate (× ${subs} subscribers = deliveries/s); median of the runs in which the step kept up (kept/ran):`,
    '',
  ];
  lines.push(
    '| publish rate | deliveries/s | ' +
      names.join(' | ') +
      (names.includes(OURS)
        ? ' | ' +
          names
            .filter((n) => n !== OURS)
            .map((n) => `${OURS} vs ${n}`)
            .join(' | ')
        : '') +
      ' |',
  );
  lines.push('|---:|---:|' + '---:|'.repeat(names.length + (names.includes(OURS) ? names.length - 1 : 0)));
  for (const rate of rates) {
    const cells = names.map((n) => cell(n, rate));
    const ours = names.includes(OURS) ? cell(OURS, rate).cpu : Number.NaN;
    const ratios = names.includes(OURS) ? names.filter((n) => n !== OURS).map((n) => ratio(ours, cell(n, rate).cpu, true)) : [];
    lines.push(
      `| ${rate} | ${fmtN(rate * subs)} | ` +
        cells.map((c) => (c.ran === 0 ? '—' : `${fmtN(c.cpu, 3)} (${c.kept}/${c.ran})`)).join(' | ') +
        (ratios.length ? ' | ' + ratios.join(' | ') : '') +
        ' |',
    );
  }
  const lat = (name: string, rate: number): string => {
    const steps = fan.filter((r) => r.contender === name).flatMap((r) => r.fanout!.steps.filter((s) => s.publishRate === rate));
    if (steps.length === 0) return '—';
    const share = median(steps.map((s) => s.deliveredPerSecond / s.expectedPerSecond));
    return `${fmtN(median(steps.map((s) => s.latencyMs.p50)), 1)} / ${fmtN(median(steps.map((s) => s.latencyMs.p99)), 1)} (${(share * 100).toFixed(0)}%)`;
  };
  lines.push(
    '',
    'Latency publish → client at each publish rate, median p50 / p99 ms of all runs (median share of expected deliveries):',
    '',
  );
  lines.push('| publish rate | ' + names.join(' | ') + ' |');
  lines.push('|---:|' + '---:|'.repeat(names.length));
  for (const rate of rates) lines.push(`| ${rate} | ` + names.map((n) => lat(n, rate)).join(' | ') + ' |');
  return lines.join('\n') + '\n';
}

export function writeChart(results: BenchResults, path: string): void {
  const s = summarize(results);
  const names = s.map((x) => x.name);
  const group = (title: string, unit: string, higher: boolean, pick: (x: ContenderSummary) => number | undefined): BarGroup => ({
    title,
    unit,
    higherIsBetter: higher,
    values: s.filter((x) => pick(x) !== undefined).map((x) => ({ name: x.name, value: pick(x)! })),
  });
  const groups: BarGroup[] = [
    group('Scenario 1: max fan-out deliveries/s, 1 process', 'deliveries/s', true, (x) => x.fanoutMax),
    group('Scenario 1: deliveries per server CPU-second (at max)', 'deliveries/CPU-s', true, (x) =>
      x.fanoutCpuPerMillion ? 1e6 / x.fanoutCpuPerMillion : undefined,
    ),
    group('One message per client per flush: deliveries per CPU-second', 'deliveries/CPU-s', true, (x) =>
      x.quietCpuPerMillion ? 1e6 / x.quietCpuPerMillion : undefined,
    ),
    group('Scenario 2: p99 publish-to-receive', 'ms', false, (x) => x.latencyP99),
    ...Object.keys(s.find((x) => x.idle)?.idle ?? {}).map((n) =>
      group(`Scenario 3: RSS per idle connection at ${n}`, 'KiB', false, (x) =>
        x.idle?.[Number(n)] !== undefined ? x.idle[Number(n)]! / 1024 : undefined,
      ),
    ),
  ].filter((g) => g.values.length > 0);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, barChartSvg(`odin-ws fan-out benchmark (medians, ${results.startedAt.slice(0, 10)})`, groups, names));
}
