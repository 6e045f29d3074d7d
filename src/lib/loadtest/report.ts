/** The loadtest's outputs: the live progress line, the summary table, and the JSON result. */
import type { PercentileSummary } from '../histogram/histogram.js';
import type { Totals } from './runner.js';

export interface LoadtestResult {
  readonly target: string;
  readonly protocol: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly connect: {
    readonly established: number;
    readonly failed: Record<string, number>;
    readonly retried: number;
    readonly timeMs: PercentileSummary;
  };
  readonly messages: { readonly delivered: number; readonly perSecond: number; readonly tracked: number };
  readonly latencyMs: PercentileSummary;
  readonly sequence: { readonly inOrder: number; readonly missing: number; readonly gaps: number; readonly duplicates: number };
  readonly disconnects: Record<string, number>;
  readonly reconnects: number;
  readonly recovery: { readonly recovered: number; readonly notRecovered: number };
  readonly serverErrors: Record<string, number>;
  readonly publisher: { readonly mode: string; readonly published: number; readonly failed: number; readonly behindTicks: number } | null;
  readonly client: Totals['client'] & { readonly saturated: boolean };
  /** Subscribed channels on which no connection received anything during the run. */
  readonly silentChannels: readonly string[];
  readonly thresholds: { readonly text: string; readonly actual: number; readonly ok: boolean }[];
  /** Seed of the run's random draws (drops, jitter): `--seed` replays them. */
  readonly seed: number;
}

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms';

export function progressLine(elapsedS: number, t: Totals, target: number, rate: number, p99: number): string {
  const sat = t.client.saturatedIntervals > 0 ? '  CLIENT SATURATED' : '';
  return `[${elapsedS.toFixed(0).padStart(4)}s] conns ${n(t.subscribed)}/${n(target)}  msgs/s ${n(rate).padStart(9)}  p99 ${ms(p99).padStart(9)}  missing ${n(t.missing)}  disc ${n(sumOf(t.disconnects))}${sat}`;
}

export function sumOf(r: Record<string, number>): number {
  let s = 0;
  for (const v of Object.values(r)) s += v;
  return s;
}

function kv(r: Record<string, number>): string {
  const e = Object.entries(r);
  return e.length === 0 ? '0' : `${n(sumOf(r))} (${e.map(([k, v]) => `${k}: ${n(v)}`).join(', ')})`;
}

export function saturationWarning(c: LoadtestResult['client']): string {
  return (
    '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' +
    `!! THE LOAD CLIENT WAS SATURATED in ${c.saturatedIntervals} of ${c.intervals} intervals (max event-loop utilisation\n` +
    `!! ${(c.maxElu * 100).toFixed(0)}%, event-loop delay p99 up to ${c.maxLoopDelayP99Ms.toFixed(0)} ms): latencies and rates below measure the\n` +
    '!! client as much as the server. Use more --workers, fewer connections, or --track-every N.\n' +
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
  );
}

export function summaryTable(r: LoadtestResult): string {
  const rows: [string, string][] = [
    ['target', `${r.target} (${r.protocol})`],
    ['duration', `${r.durationSeconds.toFixed(1)} s`],
    [
      'connections',
      `${n(r.connect.established)} established of ${n(r.connections)}; failed ${kv(r.connect.failed)}; ${n(r.connect.retried)} failed opens retried`,
    ],
    [
      'connect time',
      `p50 ${ms(r.connect.timeMs.p50)}  p90 ${ms(r.connect.timeMs.p90)}  p99 ${ms(r.connect.timeMs.p99)}  max ${ms(r.connect.timeMs.max)}`,
    ],
    ['messages', `${n(r.messages.delivered)} delivered, ${n(r.messages.perSecond)}/s (${n(r.messages.tracked)} checked)`],
    [
      'silent channels',
      r.connect.established === 0
        ? 'not measured: no connection opened'
        : r.silentChannels.length === 0
          ? 'none (every subscribed channel received data)'
          : `${r.silentChannels.length}: ${r.silentChannels.join(', ')} received nothing`,
    ],
    [
      'latency',
      `p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}  p99.9 ${ms(r.latencyMs.p999)}  max ${ms(r.latencyMs.max)}`,
    ],
    [
      'sequence',
      `${n(r.sequence.inOrder)} in order, ${n(r.sequence.missing)} missing in ${n(r.sequence.gaps)} gaps, ${n(r.sequence.duplicates)} duplicates`,
    ],
    ['disconnects', kv(r.disconnects)],
    ['reconnects', `${n(r.reconnects)}; recovery: ${n(r.recovery.recovered)} recovered, ${n(r.recovery.notRecovered)} not recovered`],
    ['server errors', kv(r.serverErrors)],
    ['seed', `${r.seed} (--seed ${r.seed} draws the same drops and reconnect jitter again)`],
  ];
  if (r.publisher)
    rows.push([
      'publisher',
      `${r.publisher.mode}: ${n(r.publisher.published)} published, ${n(r.publisher.failed)} failed, ${n(r.publisher.behindTicks)} ticks behind`,
    ]);
  rows.push([
    'load client',
    `${r.client.workers} worker processes, ${r.client.cpuSeconds.toFixed(1)} CPU-s, max event-loop use ${(r.client.maxElu * 100).toFixed(0)}%, loop delay p99 ≤ ${r.client.maxLoopDelayP99Ms.toFixed(1)} ms${r.client.saturated ? '  ** SATURATED **' : ''}`,
  ]);
  for (const t of r.thresholds) rows.push([`assert ${t.text}`, `${t.ok ? 'ok' : 'FAILED'} (actual ${thresholdActual(t.text, t.actual)})`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/** A threshold's measured value in the unit it was written in: `failed<=1%` reads 0.5%, not 0.005. */
export function thresholdActual(text: string, actual: number): string {
  if (text.endsWith('%')) return `${Number((actual * 100).toFixed(3))}%`;
  return Number.isInteger(actual) ? String(actual) : actual.toFixed(3);
}
