/**
 * The fan-out benchmark's results file and how it reads: medians per contender, ratios against
 * ours as markdown tables, and the SVG chart. `odin-ws bench` (command.ts) writes the file and
 * renders it when a run ends; `--from FILE` renders a saved one again.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FanoutResult, IdleResult, Measured, RateResult, ScaleResult, StormResult } from './scenarios.js';
import { barChartSvg, type BarGroup } from './chart.js';

/** The scenarios a record can be of, in the order they run (`--scenarios`). */
export const SCENARIOS = ['fanout', 'quiet', 'latency', 'idle', 'rates', 'scale', 'storm'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** What `--scenarios` defaults to; rates, scale and storm run only when named. */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['fanout', 'quiet', 'latency', 'idle'];
export const DEFAULT_OURS = 'odin-ws';
/** The contender the ratios are taken against (`--ours`; odin-ws-feed for the NATS-feed runs). */
const oursOf = (results: BenchResults): string => (results.config as { ours?: string }).ours ?? DEFAULT_OURS;

export interface BenchRecord {
  readonly run: number;
  readonly contender: string;
  readonly scenario: ScenarioName;
  readonly fanout?: FanoutResult;
  readonly measured?: Measured;
  readonly idle?: IdleResult[];
  /** `rates`: one point (subscribers × publications/s) a record; `point` is set on errors too. */
  readonly rate?: RateResult;
  readonly point?: string;
  readonly scale?: ScaleResult;
  readonly storm?: StormResult;
  readonly error?: string;
}

/** The results file as a run writes it (`--out`) and `--from` reads it back. */
export interface BenchResults {
  readonly startedAt: string;
  readonly machine: { cpus: number; model: string; node: string; natsServer: string; fdLimit: number };
  readonly config: Record<string, unknown>;
  readonly skipped: Record<string, string>;
  readonly records: BenchRecord[];
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

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
  // Contenders with records of the first four scenarios only (rates, scale and storm have tables of their own).
  const s = summarize(results).filter((x) => Object.values(x.runs).some((n) => n > 0));
  const ours = s.find((x) => x.name === OURS);
  const idleNs = [...new Set(s.flatMap((x) => Object.keys(x.idle ?? {}).map(Number)))].sort((a, b) => a - b);
  const lines: string[] = [];
  lines.push(
    `\nMedians of ${(results.config as { runs: number }).runs} interleaved runs; ${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}, ${results.machine.natsServer}.\n`,
  );
  if (s.length > 0)
    lines.push(
      '| contender | fan-out max deliveries/s | CPU-s per 1M (at max) | CPU-s per 1M (common step) | load client CPU (cores, at max) | quiet: CPU-s per 1M | latency: deliveries/s | p50 ms | p99 ms | p99.9 ms | ' +
        idleNs.map((n) => `idle ${n}: KiB/conn`).join(' | ') +
        ' |',
    );
  if (s.length > 0) lines.push('|---|' + '---:|'.repeat(9 + idleNs.length));
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
  lines.push(ratesTable(results));
  lines.push(scaleTable(results));
  for (const [name, why] of Object.entries(results.skipped)) lines.push(`\nNot run: ${name} — ${why}`);
  const errors = results.records.filter((r) => r.error !== undefined);
  for (const e of errors) lines.push(`\nError: run ${e.run} ${e.scenario}${e.point ? ` ${e.point}` : ''} ${e.contender}: ${e.error}`);
  return lines.join('\n') + '\n';
}

const MiB = 2 ** 20;

/**
 * `rates`: per point (subscribers × publications/s on one channel), medians over the runs of each
 * contender's server CPU per million deliveries, latency, RSS, and our ratios against each.
 */
export function ratesTable(results: BenchResults): string {
  const OURS = oursOf(results);
  const recs = results.records.filter((r) => r.scenario === 'rates' && r.point !== undefined);
  if (recs.length === 0) return '';
  const points = [...new Set(recs.map((r) => r.point!))];
  const names = [...new Set(recs.map((r) => r.contender))];
  const med = (name: string, point: string, f: (x: RateResult) => number): number =>
    median(recs.filter((r) => r.contender === name && r.point === point && r.rate).map((r) => f(r.rate!)));
  const lines = [
    '',
    `Fixed rates (\`rates\`: subscribers × publications/s on one channel), medians of the runs; ratios ${OURS} against each (>1× means ${OURS} uses less / is faster):`,
    '',
    `| point | contender | deliveries/s (share of expected) | server CPU-s per 1M | user / kernel | p50 ms | p99 ms | RSS MiB | kept up | CPU ratio | user-space CPU ratio | p99 ratio | RSS ratio |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  // The kernel's part (stime), where the results have it: what the socket writes cost, which no
  // gateway's own code can make cheaper.
  const system = (x: RateResult): number => x.systemCpuPerMillion ?? Number.NaN;
  const user = (x: RateResult): number => x.cpuPerMillion - system(x);
  for (const point of points) {
    const cpuOurs = med(OURS, point, (x) => x.cpuPerMillion);
    const p99Ours = med(OURS, point, (x) => x.latencyMs.p99);
    const rssOurs = med(OURS, point, (x) => x.rssBytes);
    const userOurs = med(OURS, point, user);
    for (const name of names) {
      const all = recs.filter((r) => r.contender === name && r.point === point);
      const ok = all.filter((r) => r.rate);
      if (all.length === 0) continue;
      const cpu = med(name, point, (x) => x.cpuPerMillion);
      const p99 = med(name, point, (x) => x.latencyMs.p99);
      const rss = med(name, point, (x) => x.rssBytes);
      const userCpu = med(name, point, user);
      const vsOurs = (ours: number, theirs: number): string => (name === OURS ? '' : ratio(ours, theirs, true));
      const delivered = med(name, point, (x) => x.deliveredPerSecond);
      const share = med(name, point, (x) => x.deliveredPerSecond / x.expectedPerSecond);
      const cells = [
        `${fmtN(delivered)} (${fmtN(100 * share)}%)`,
        fmtN(cpu, 2),
        Number.isNaN(userCpu) ? '–' : `${fmtN(userCpu, 2)} / ${fmtN(med(name, point, system), 2)}`,
        fmtN(
          med(name, point, (x) => x.latencyMs.p50),
          1,
        ),
        fmtN(p99, 1),
        fmtN(rss / MiB, 1),
        `${ok.filter((r) => r.rate!.keptUp).length}/${all.length}`,
        vsOurs(cpuOurs, cpu),
        Number.isNaN(userCpu) || Number.isNaN(userOurs) ? (name === OURS ? '' : '–') : vsOurs(userOurs, userCpu),
        vsOurs(p99Ours, p99),
        vsOurs(rssOurs, rss),
      ];
      lines.push(`| ${point} | ${name} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** `scale` and `storm`: medians per contender. */
export function scaleTable(results: BenchResults): string {
  const lines: string[] = [];
  const scale = results.records.filter((r) => r.scale);
  const names = (rs: BenchRecord[]): string[] => [...new Set(rs.map((r) => r.contender))];
  if (scale.length > 0) {
    lines.push(
      '',
      'Connection scale (`scale`: every connection subscribed, 1 msg/s each), medians of the runs:',
      '',
      '| contender | connections | subscribed | RSS MiB (base → loaded) | KiB per connection | deliveries/s | p50 ms | p99 ms | lost (gaps + disconnects) | window shortfall | server CPU-s per s |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const name of names(scale)) {
      const rs = scale.filter((r) => r.contender === name).map((r) => r.scale!);
      const m = (f: (x: ScaleResult) => number): number => median(rs.map(f));
      const cells = [
        fmtN(m((x) => x.connections)),
        fmtN(m((x) => x.subscribed)),
        `${fmtN(
          m((x) => x.rssBaseBytes / MiB),
          1,
        )} → ${fmtN(
          m((x) => x.rssBytes / MiB),
          1,
        )}`,
        fmtN(
          m((x) => x.bytesPerConnection / 1024),
          2,
        ),
        fmtN(m((x) => x.measured.deliveredPerSecond)),
        fmtN(
          m((x) => x.measured.latencyMs.p50),
          1,
        ),
        fmtN(
          m((x) => x.measured.latencyMs.p99),
          1,
        ),
        fmtN(m((x) => x.lost)),
        fmtN(m((x) => x.shortfall)),
        fmtN(
          m((x) => x.measured.serverCpuSeconds / x.measured.seconds),
          2,
        ),
      ];
      lines.push(`| ${name} | ${cells.join(' | ')} |`);
    }
  }
  const storm = results.records.filter((r) => r.storm);
  if (storm.length > 0) {
    lines.push(
      '',
      'Handshake storm (`storm`: all connections opened at once, no retries), medians of the runs:',
      '',
      '| contender | connections | subscribed | failed handshakes | seconds to settle | connect p50 ms | connect p99 ms | server CPU-s |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const name of names(storm)) {
      const rs = storm.filter((r) => r.contender === name).map((r) => r.storm!);
      const m = (f: (x: StormResult) => number): number => median(rs.map(f));
      const cells = [
        fmtN(m((x) => x.connections)),
        fmtN(m((x) => x.subscribed)),
        fmtN(m((x) => x.failedCount)),
        fmtN(
          m((x) => x.seconds),
          1,
        ),
        fmtN(
          m((x) => x.connectMs.p50),
          1,
        ),
        fmtN(
          m((x) => x.connectMs.p99),
          1,
        ),
        fmtN(
          m((x) => x.serverCpuSeconds),
          2,
        ),
      ];
      lines.push(`| ${name} | ${cells.join(' | ')} |`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
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
