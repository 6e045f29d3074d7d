/**
 * What `odin-ws loadtest` prints once a run ends (src/apps/loadtest/report.ts): the warnings on
 * stderr — client saturated, no connection opened, silent channels — and then the summary or the
 * JSON result on stdout; and which channels the connections subscribed to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoadtestArgs } from '../../src/apps/loadtest/options.js';
import { printResult, subscribedChannels } from '../../src/apps/loadtest/report.js';
import type { LoadtestResult } from '../../src/lib/loadtest/report.js';

const summary = { count: 10, p50: 1, p90: 2, p99: 3, p999: 4, max: 5, mean: 1.5 };
const client = {
  cpuSeconds: 1,
  maxElu: 0.2,
  maxLoopDelayP99Ms: 3,
  maxLoopDelayMs: 4,
  saturatedIntervals: 0,
  intervals: 10,
  workers: 1,
  rssBytes: 50e6,
  saturated: false,
};

function result(over: Partial<LoadtestResult> = {}): LoadtestResult {
  return {
    target: 'ws://127.0.0.1:3002/',
    protocol: 'odin',
    connections: 4,
    durationSeconds: 1,
    connect: { established: 4, failed: {}, retried: 0, timeMs: summary },
    messages: { delivered: 10, perSecond: 10, tracked: 10 },
    latencyMs: summary,
    sequence: { inOrder: 10, missing: 0, gaps: 0, duplicates: 0 },
    disconnects: {},
    reconnects: 0,
    recovery: { recovered: 0, notRecovered: 0 },
    serverErrors: {},
    publisher: null,
    client,
    silentChannels: [],
    thresholds: [],
    seed: 1,
    ...over,
  };
}

/** Runs printResult into buffers. */
function printed(argv: string[], r: LoadtestResult): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  printResult(parseLoadtestArgs(argv), r, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { stdout, stderr };
}

test('a clean run: no warning, the summary on stdout', () => {
  const out = printed(['--connections', '4'], result());
  assert.equal(out.stderr, '');
  assert.ok(out.stdout.startsWith('\nodin-ws loadtest summary\n'));
});

test('--json: the result as JSON on stdout', () => {
  const r = result();
  const out = printed(['--connections', '4', '--json'], r);
  assert.deepEqual(JSON.parse(out.stdout), r);
});

test('no connection opened: an error naming the target and the failures, instead of the silent-channel warning', () => {
  const out = printed(['--connections', '4'], result({ connect: { established: 0, failed: { refused: 4 }, retried: 0, timeMs: summary } }));
  assert.match(out.stderr, /ERROR: none of the 4 connections to ws:\/\/127\.0\.0\.1:3002\/ opened \(4 failed\)/);
  assert.ok(!out.stderr.includes('received nothing'));
});

test('silent channels: named, out of the channels the connections subscribed to', () => {
  const out = printed(['--connections', '2', '--channels', 'a,b,c'], result({ silentChannels: ['b'] }));
  assert.match(out.stderr, /WARNING: 1 of 2 subscribed channels received nothing: b\n/);
});

test('a saturated client: the warning first', () => {
  const out = printed(['--connections', '4'], result({ client: { ...client, saturatedIntervals: 3, saturated: true } }));
  assert.match(out.stderr, /THE LOAD CLIENT WAS SATURATED in 3 of 10 intervals/);
});

test('subscribedChannels: connection i takes k consecutive channels from i·k, wrapping', () => {
  assert.deepEqual(subscribedChannels(['a', 'b', 'c', 'd'], 1, 2), ['a', 'b']);
  assert.deepEqual(subscribedChannels(['a', 'b', 'c', 'd'], 3, 1), ['a', 'b', 'c']);
  assert.deepEqual(subscribedChannels(['a', 'b', 'c'], 2, 2).sort(), ['a', 'b', 'c']);
  assert.deepEqual(subscribedChannels(['a', 'b'], 10, 5).sort(), ['a', 'b']);
});
