/**
 * Latency and connect-time histograms: HDR histograms in microseconds, 3 significant digits,
 * so percentiles are exact to 0.1% whatever the spread. Worker processes send theirs to the
 * coordinator as compressed base64 (the HdrHistogram wire format) and it merges them.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** Largest value kept exactly, µs (10 minutes); larger values are clamped to it. */
export const HISTOGRAM_MAX_US = 600_000_000;

export interface PercentileSummary {
  readonly count: number;
  /** Values in milliseconds (recorded in µs). */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export class LatencyHistogram {
  private readonly h: Histogram;

  constructor() {
    this.h = build({
      bitBucketSize: 32,
      autoResize: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: HISTOGRAM_MAX_US,
      numberOfSignificantValueDigits: 3,
    });
  }

  /** Records one value in µs; negative values (clock noise) count as 0, huge ones are clamped. */
  record(us: number): void {
    const v = us < 0 ? 0 : us > HISTOGRAM_MAX_US ? HISTOGRAM_MAX_US : Math.round(us);
    this.h.recordValue(v);
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Value at a percentile (0..100), µs. */
  percentileUs(p: number): number {
    return this.h.totalCount === 0 ? 0 : this.h.getValueAtPercentile(p);
  }

  get maxUs(): number {
    return this.h.totalCount === 0 ? 0 : this.h.maxValue;
  }

  merge(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  /** Adds a histogram received from a worker (see {@link encode}). */
  mergeEncoded(text: string): void {
    if (text === '') return;
    const d = decodeFromCompressedBase64(text, 32, false);
    this.h.add(d);
    d.destroy();
  }

  /** Compressed base64; '' when empty (most intervals of a quiet run). */
  encode(): string {
    return this.h.totalCount === 0 ? '' : encodeIntoCompressedBase64(this.h);
  }

  reset(): void {
    this.h.reset();
  }

  summary(): PercentileSummary {
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      count: this.h.totalCount,
      p50: ms(this.percentileUs(50)),
      p90: ms(this.percentileUs(90)),
      p99: ms(this.percentileUs(99)),
      p999: ms(this.percentileUs(99.9)),
      max: ms(this.maxUs),
      mean: this.h.totalCount === 0 ? 0 : ms(this.h.mean),
    };
  }
}
