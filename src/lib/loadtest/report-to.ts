/**
 * `odin-ws loadtest --report-to <gateway url>`: the run's progress, published once a second
 * through the gateway's server API to the loadtest stats channel, where the dashboard's
 * load-test view shows it live. Fire and forget: a failed report never slows the run; the
 * first failure is logged once.
 */
import { randomBytes } from 'node:crypto';
import { LOADTEST_CHANNEL } from '../protocol/addresses.js';

/** What the dashboard's load-test view reads (docs/dashboard.md). */
export interface LoadtestProgress {
  readonly state: 'connecting' | 'running' | 'done' | 'failed';
  readonly elapsed: number;
  readonly target: number;
  readonly subscribed: number;
  /** Messages received per second over the last interval. */
  readonly rate: number;
  /** Latency over the last interval, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly missing: number;
  readonly gaps: number;
  readonly duplicates: number;
  readonly disconnects: number;
  /** The summary table, on the final report. */
  readonly summary?: string;
}

const REPORT_TIMEOUT_MS = 2000;

export class ProgressReporter {
  /** Tells one run's reports from another's. */
  readonly run = randomBytes(4).toString('hex');
  private failed = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly log: (line: string) => void,
  ) {}

  report(p: LoadtestProgress): void {
    const body = JSON.stringify({ channel: LOADTEST_CHANNEL, data: { v: 1, run: this.run, ts: Date.now(), ...p } });
    this.inFlight = fetch(new URL('/api/publish', this.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': this.apiKey },
      body,
      signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
    }).then(
      async (res) => {
        if (!res.ok) this.fail(`HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      },
      (err: unknown) => this.fail(err instanceof Error ? err.message : String(err)),
    );
  }

  /** Resolves when the last report was answered (the final one should land before exit). */
  flush(): Promise<void> {
    return this.inFlight;
  }

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = true;
    this.log(`--report-to: progress not accepted by ${this.baseUrl} (${why}); the run goes on`);
  }
}
