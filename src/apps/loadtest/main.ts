/**
 * `odin-ws loadtest`: N subscribers against a running server, measured from outside by
 * worker processes, optionally publishing itself (server API) or driving the publisher's
 * control API. Exit code 1 when an `--assert` threshold is missed, 2 on bad usage.
 * Options and presets: options.ts; what is printed at the end: report.ts.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { LoadRun, type Totals } from '../../lib/loadtest/runner.js';
import { HttpApiTarget, PublisherControl, RatePublisher } from '../../lib/loadtest/publisher.js';
import { progressLine, summaryTable, sumOf, type LoadtestResult } from '../../lib/loadtest/report.js';
import { checkThresholds } from '../../lib/loadtest/thresholds.js';
import { UsageError } from '../../lib/runtime/flags.js';
import { ProgressReporter } from '../../lib/loadtest/report-to.js';
import { DEFAULT_MAX_FAILED, LOADTEST_HELP, parseLoadtestArgs, type LoadtestOptions } from './options.js';
import { printResult, subscribedChannels } from './report.js';

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Open-ended runs publishing through the server API: a week stands for "until stopped". */
const OPEN_ENDED_PUBLISH_MS = 7 * 24 * 3600 * 1000;

/**
 * Runs a load test; resolves with the result (the command prints it). `stop` ends the measured
 * window early (and an open-ended run, --duration 0, only then).
 */
export async function runLoadtest(
  o: LoadtestOptions,
  log: (line: string, live?: boolean) => void = () => undefined,
  stop?: AbortSignal,
): Promise<LoadtestResult> {
  const run = await LoadRun.start({
    host: o.url.hostname,
    port: Number(o.url.port || 80),
    protocol: o.protocol,
    ...(o.url.pathname !== '/' ? { path: o.url.pathname } : {}),
    connections: o.connections,
    connectRate: o.connectRate,
    channels: o.channels,
    channelsPerConnection: o.channelsPerConnection,
    trackEvery: o.trackEvery,
    perAddress: o.perAddress,
    reconnect: o.reconnect,
    connectRetries: o.connectRetries,
    dropPerSecond: o.dropPerSecond,
    ...(o.seed !== null ? { seed: o.seed } : {}),
    workers: o.workers,
  });
  const started = Date.now();
  let lastDelivered = 0;
  let lastAt = performance.now();
  const reporter = o.reportTo ? new ProgressReporter(o.reportTo.url, o.reportTo.apiKey, (l) => log(l)) : null;
  let state: 'connecting' | 'running' = 'connecting';
  const tick = (): void => {
    const t = run.totals();
    const now = performance.now();
    const rate = ((t.delivered - lastDelivered) * 1000) / Math.max(1, now - lastAt);
    lastDelivered = t.delivered;
    lastAt = now;
    const interval = run.takeInterval();
    const elapsed = (Date.now() - started) / 1000;
    log(progressLine(elapsed, t, o.connections, rate, interval.p99), true);
    reporter?.report({
      state,
      elapsed,
      target: o.connections,
      subscribed: t.subscribed,
      rate: Math.round(rate),
      p50: interval.p50,
      p99: interval.p99,
      missing: t.missing,
      gaps: t.gaps,
      duplicates: t.duplicates,
      disconnects: sumOf(t.disconnects),
    });
  };
  let publisher: RatePublisher | null = null;
  let control: PublisherControl | null = null;
  let publisherMode = '';
  try {
    const rampBudgetMs = (o.connections / o.connectRate) * 2000 + 15_000;
    await run.waitConnected(rampBudgetMs, tick);
    const window = await run.beginWindow();
    state = 'running';
    if (o.rate > 0 && o.apiKey !== null) {
      publisher = new RatePublisher(
        new HttpApiTarget(o.apiUrl, o.apiKey),
        o.channels,
        o.profile,
        o.rate,
        o.durationSeconds > 0 ? o.durationSeconds * 1000 : OPEN_ENDED_PUBLISH_MS,
      );
      publisher.start();
      publisherMode = `server API ${o.apiUrl}, ${o.profile} ${o.rate}/s`;
    } else if (o.rate > 0 && o.publisherUrl !== null) {
      control = new PublisherControl(o.publisherUrl, o.publisherKey);
      await control.start({ messagesPerSecond: o.rate, durationSeconds: o.durationSeconds, profile: o.profile });
      publisherMode = `publisher control ${o.publisherUrl}, ${o.profile} ${o.rate}/s`;
    }
    const end = o.durationSeconds > 0 ? Date.now() + o.durationSeconds * 1000 : Infinity;
    if (o.durationSeconds === 0) log('running until stopped (Ctrl-C, SIGTERM or `task local:test:stop`)');
    while (Date.now() < end && stop?.aborted !== true) {
      await pause(Math.min(1000, end - Date.now()), stop);
      tick();
    }
    await publisher?.drain();
    let controlStats = { published: 0, failed: 0 };
    if (control)
      controlStats = await control.stop().catch((e: unknown) => (log(`publisher stop failed: ${(e as Error).message}`), controlStats));
    // Let deliveries in flight land before the window closes.
    await new Promise<void>((r) => setTimeout(r, 300));
    const w = await run.endWindow(window);
    const t: Totals = await run.stop();
    const saturated = t.client.saturatedIntervals > 0;
    const result: Omit<LoadtestResult, 'thresholds'> = {
      target: o.url.href,
      protocol: o.protocol,
      connections: o.connections,
      durationSeconds: w.seconds,
      connect: { established: t.established, failed: t.failed, retried: t.connectRetried, timeMs: run.connectAll.summary() },
      messages: { delivered: t.delivered, perSecond: w.deliveredPerSecond, tracked: t.trackedDelivered },
      latencyMs: run.latencyAll.summary(),
      sequence: { inOrder: t.inOrder, missing: t.missing, gaps: t.gaps, duplicates: t.duplicates },
      disconnects: t.disconnects,
      reconnects: t.reconnects,
      recovery: { recovered: t.recovered, notRecovered: t.notRecovered },
      serverErrors: t.serverErrors,
      publisher: publisher
        ? { mode: publisherMode, ...publisher.stats }
        : control
          ? { mode: publisherMode, ...controlStats, behindTicks: 0 }
          : null,
      client: { ...t.client, saturated },
      silentChannels: subscribedChannels(o.channels, o.connections, o.channelsPerConnection).filter((c) => !t.heardChannels.includes(c)),
      seed: run.seed,
    };
    if (reporter) {
      reporter.report({
        state: 'done',
        elapsed: (Date.now() - started) / 1000,
        target: o.connections,
        subscribed: t.subscribed,
        rate: Math.round(w.deliveredPerSecond),
        p50: result.latencyMs.p50,
        p99: result.latencyMs.p99,
        missing: t.missing,
        gaps: t.gaps,
        duplicates: t.duplicates,
        disconnects: sumOf(t.disconnects),
        summary: summaryTable({ ...result, thresholds: [] }),
      });
      await reporter.flush();
    }
    const thresholds = o.thresholds.some((x) => x.metric === 'failed')
      ? o.thresholds
      : [
          ...o.thresholds,
          { metric: 'failed' as const, op: '<=' as const, value: DEFAULT_MAX_FAILED, text: `failed<=${DEFAULT_MAX_FAILED * 100}%` },
        ];
    const checks = checkThresholds(thresholds, {
      latencyMs: result.latencyMs,
      connectP99Ms: result.connect.timeMs.p99,
      missing: t.missing,
      delivered: t.trackedDelivered,
      duplicates: t.duplicates,
      failed: sumOf(t.failed),
      attempted: t.attempted,
      disconnects: sumOf(t.disconnects),
      ratePerSecond: w.deliveredPerSecond,
    });
    return { ...result, thresholds: checks.map((c) => ({ text: c.threshold.text, actual: c.actual, ok: c.ok })) };
  } finally {
    publisher?.stop();
    await run.stop();
  }
}

export async function loadtestCommand(argv: readonly string[]): Promise<number> {
  let o: LoadtestOptions;
  try {
    o = parseLoadtestArgs(argv, process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`odin-ws loadtest: ${e.message}\n(see odin-ws loadtest --help)\n`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(LOADTEST_HELP);
    return 0;
  }
  const tty = process.stderr.isTTY === true;
  const log = (line: string, live = false): void => {
    if (o.quiet && live) return;
    if (live && tty) process.stderr.write(`\r${line}\x1b[K`);
    else process.stderr.write(line + '\n');
  };
  // Ctrl-C or SIGTERM (`task local:test:stop`) ends the measured window: the summary is still printed.
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (o.pidFile !== null) writeFileSync(o.pidFile, `${process.pid}\n`);
  let r: LoadtestResult;
  try {
    r = await runLoadtest(o, log, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (o.pidFile !== null) rmSync(o.pidFile, { force: true });
  }
  if (tty && !o.quiet) process.stderr.write('\n');
  printResult(o, r, process);
  return r.thresholds.every((t) => t.ok) ? 0 : 1;
}
