/**
 * `--assert` thresholds: a comma-separated list like `p99<50ms,loss=0,failed<=1%`. Each item
 * is `metric op value[unit]`; every item must hold or the run exits non-zero.
 */

export type Op = '<' | '<=' | '>' | '>=' | '=';

export interface Threshold {
  readonly metric: ThresholdMetric;
  readonly op: Op;
  /** In the metric's base unit: ms for latencies, a fraction (0..1) for percentages. */
  readonly value: number;
  /** As the user wrote it, for the report. */
  readonly text: string;
}

/** Metrics and their base units. */
export const THRESHOLD_METRICS = {
  p50: 'ms',
  p90: 'ms',
  p99: 'ms',
  p999: 'ms',
  max: 'ms',
  connect_p99: 'ms',
  /** Publications missing (gaps found from offsets); with % a fraction of the delivered. */
  loss: 'count',
  duplicates: 'count',
  /** Connections that failed to open; with % a fraction of those attempted. */
  failed: 'count',
  disconnects: 'count',
  /** Messages delivered per second over the run. */
  rate: 'count',
} as const;

export type ThresholdMetric = keyof typeof THRESHOLD_METRICS;

export class ThresholdError extends Error {
  override readonly name = 'ThresholdError';
  readonly code = 'ERR_THRESHOLD';
}

const ITEM = /^([a-z_0-9.]+)\s*(<=|>=|<|>|==?)\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|us|µs|%|k|m)?$/i;

function isMetric(m: string): m is ThresholdMetric {
  return Object.hasOwn(THRESHOLD_METRICS, m);
}

/** Parses `--assert`; throws ThresholdError naming the bad item. */
export function parseThresholds(text: string): Threshold[] {
  const out: Threshold[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = ITEM.exec(item);
    if (!m) throw new ThresholdError(`--assert: cannot parse "${item}" (expected e.g. p99<50ms, loss=0, failed<=1%)`);
    const name = m[1]!.toLowerCase().replace('p99.9', 'p999');
    if (!isMetric(name))
      throw new ThresholdError(`--assert: unknown metric "${m[1]}" (known: ${Object.keys(THRESHOLD_METRICS).join(', ')})`);
    const op = (m[2] === '==' ? '=' : m[2]) as Op;
    let value = Number(m[3]);
    const unit = (m[4] ?? '').toLowerCase();
    const base = THRESHOLD_METRICS[name];
    if (base === 'ms') {
      if (unit === 's') value *= 1000;
      else if (unit === 'us' || unit === 'µs') value /= 1000;
      else if (unit !== '' && unit !== 'ms') throw new ThresholdError(`--assert: "${item}": ${name} is a time (ms, s or us)`);
    } else {
      if (unit === 'ms' || unit === 's' || unit === 'us' || unit === 'µs')
        throw new ThresholdError(`--assert: "${item}": ${name} is not a time`);
      if (unit === '%') {
        if (name !== 'loss' && name !== 'failed') throw new ThresholdError(`--assert: "${item}": % applies to loss and failed only`);
        value /= 100;
      } else if (unit === 'k') value *= 1e3;
      else if (unit === 'm') value *= 1e6;
    }
    out.push({ metric: name, op, value, text: item });
  }
  return out;
}

/** The measured values thresholds are checked against. */
export interface ThresholdInputs {
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  readonly connectP99Ms: number;
  readonly missing: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly failed: number;
  readonly attempted: number;
  readonly disconnects: number;
  readonly ratePerSecond: number;
}

export interface ThresholdResult {
  readonly threshold: Threshold;
  readonly actual: number;
  readonly ok: boolean;
}

function compare(a: number, op: Op, b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '=':
      return a === b;
  }
}

function actualOf(t: Threshold, m: ThresholdInputs): number {
  const pct = /%$/.test(t.text);
  switch (t.metric) {
    case 'p50':
    case 'p90':
    case 'p99':
    case 'p999':
    case 'max':
      return m.latencyMs[t.metric];
    case 'connect_p99':
      return m.connectP99Ms;
    case 'loss':
      return pct ? (m.delivered + m.missing === 0 ? 0 : m.missing / (m.delivered + m.missing)) : m.missing;
    case 'duplicates':
      return m.duplicates;
    case 'failed':
      return pct ? (m.attempted === 0 ? 0 : m.failed / m.attempted) : m.failed;
    case 'disconnects':
      return m.disconnects;
    case 'rate':
      return m.ratePerSecond;
  }
}

export function checkThresholds(list: readonly Threshold[], m: ThresholdInputs): ThresholdResult[] {
  return list.map((t) => {
    const actual = actualOf(t, m);
    return { threshold: t, actual, ok: compare(actual, t.op, t.value) };
  });
}
