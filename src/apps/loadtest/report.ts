/**
 * What `odin-ws loadtest` prints once a run ends: the warnings (client saturated, no connection
 * opened, subscribed channels that heard nothing) on stderr, then the summary table or the JSON
 * result on stdout.
 */
import { saturationWarning, summaryTable, sumOf, type LoadtestResult } from '../../lib/loadtest/report.js';
import type { LoadtestOptions } from './options.js';

/** The channels connections subscribe to (connection i takes k consecutive ones from i·k, as the workers do). */
export function subscribedChannels(channels: readonly string[], connections: number, perConnection: number): string[] {
  const out = new Set<string>();
  for (let i = 0; i < connections && out.size < channels.length; i++)
    for (let j = 0; j < Math.min(perConnection, channels.length); j++) out.add(channels[(i * perConnection + j) % channels.length]!);
  return [...out];
}

export function silentChannelsWarning(silent: readonly string[], subscribed: number): string {
  return (
    `\nWARNING: ${silent.length} of ${subscribed} subscribed channels received nothing: ${silent.join(', ')}\n` +
    '  Nothing was published there during the run (check --channels against what the publisher sends: the simulated\n' +
    '  feed publishes {SYMBOL}.trade, {SYMBOL}.analytics, {SYMBOL}.liquidity, ...; see docs/publisher.md).\n'
  );
}

/** Where the report goes: process.stdout and process.stderr, or a test's buffers. */
export interface ReportStreams {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** Prints a run's result: warnings first (stderr), then the summary or the JSON (stdout). */
export function printResult(o: LoadtestOptions, r: LoadtestResult, out: ReportStreams): void {
  if (r.client.saturated) out.stderr.write(saturationWarning(r.client));
  if (r.connect.established === 0)
    out.stderr.write(
      `\nERROR: none of the ${o.connections.toLocaleString('en-US')} connections to ${o.url.href} opened ` +
        `(${sumOf(r.connect.failed).toLocaleString('en-US')} failed): is the gateway running there? (odin-ws health gateway)\n`,
    );
  else if (r.silentChannels.length > 0)
    out.stderr.write(
      silentChannelsWarning(r.silentChannels, subscribedChannels(o.channels, o.connections, o.channelsPerConnection).length),
    );
  if (o.json) out.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else out.stdout.write('\nodin-ws loadtest summary\n' + summaryTable(r));
}
