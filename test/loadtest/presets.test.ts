/**
 * The load tests the plans define, as `odin-ws loadtest` presets (what every `task *:test:*` runs):
 * their defaults, the overrides, an open-ended run that ends on a signal, and a run whose
 * connections fail exiting non-zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAX_FAILED, parseLoadtestArgs, PRESETS } from '../../src/apps/loadtest/options.js';
import { thresholdActual } from '../../src/lib/loadtest/report.js';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { waitFor } from '../testkit/wait.js';
import { freePort as closedPort } from '../testkit/free-port.js'; // a port nothing listens on

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PUB = ['--publisher-url', 'http://127.0.0.1:3003'];

test('presets: the plans sizes and rates are the defaults', () => {
  const at = (argv: string[]): [number, number, number, string] => {
    const o = parseLoadtestArgs([...argv, ...PUB]);
    return [o.connections, o.durationSeconds, o.rate, o.profile];
  };
  assert.deepEqual(at(['light']), [100, 30, 20, 'sustained']);
  assert.deepEqual(at(['medium']), [500, 60, 50, 'sustained']);
  assert.deepEqual(at(['heavy']), [2000, 120, 100, 'sustained']);
  // sustained 1,000/s until stopped, burst 2,000/s for 5 minutes, ramp 100 → 2,000/s until stopped.
  assert.deepEqual(at(['sustained']), [500, 0, 1000, 'sustained']);
  assert.deepEqual(at(['burst']), [500, 300, 2000, 'burst']);
  assert.deepEqual(at(['ramp']), [500, 0, 2000, 'ramp']);
  // CONNECTIONS, DURATION, RATE (the Taskfile's flags) override each value.
  assert.deepEqual(at(['burst', '--connections', '50', '--duration', '20', '--rate', '300']), [50, 20, 300, 'burst']);
  assert.equal(PRESETS.sustained.rate, 1000);
});

test('presets: the help lists them from the same table', async () => {
  const { LOADTEST_HELP } = await import('../../src/apps/loadtest/options.js');
  assert.match(LOADTEST_HELP, /^ {2}sustained +500 connections, until stopped, 1,000 events\/s sustained$/m);
  assert.match(LOADTEST_HELP, /^ {2}burst +500 connections, 300 s, 2,000 events\/s burst$/m);
  assert.ok(LOADTEST_HELP.includes(`more than\n${DEFAULT_MAX_FAILED * 100}% of the connections fail`));
});

test('a % threshold reads as a percentage', () => {
  assert.equal(thresholdActual('failed<=1%', 0.005), '0.5%');
  assert.equal(thresholdActual('failed<=1%', 1), '100%');
  assert.equal(thresholdActual('loss=0', 0), '0');
  assert.equal(thresholdActual('p99<50ms', 12.3456), '12.346');
});

interface CliRun {
  readonly child: ChildProcess;
  /** Output so far. */
  readonly out: { stdout: string; stderr: string };
  readonly done: Promise<number | null>;
}

function runCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [join(root, 'bin/odin-ws.js'), 'loadtest', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return { child, out, done: new Promise((res) => child.on('exit', (code) => res(code))) };
}

test('a run where no connection opens exits 1 and says so, without blaming the channels', { timeout: 60_000 }, async () => {
  const port = await closedPort();
  const run = runCli(['--url', `ws://127.0.0.1:${port}`, '--connections', '20', '--duration', '1', '--workers', '1', '--quiet']);
  const code = await run.done;
  const r = run.out;
  assert.equal(code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /none of the 20 connections to ws:\/\/127\.0\.0\.1:\d+\/ opened \(20 failed\)/);
  assert.doesNotMatch(r.stderr, /subscribed channels received nothing/);
  assert.match(r.stdout, /assert failed<=1% +FAILED \(actual 100%\)/);
  assert.match(r.stdout, /silent channels +not measured: no connection opened/);
});

test(
  'an open-ended run (--duration 0) measures until SIGTERM, then prints its summary and removes its pid file',
  { timeout: 60_000 },
  async () => {
    const gw = await startGateway({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
    const pidFile = join(mkdtempSync(join(tmpdir(), 'odin-lt-')), 'loadtest.pid');
    try {
      const run = runCli([
        '--url',
        gw.url.replace('http', 'ws'),
        '--connections',
        '5',
        '--duration',
        '0',
        '--workers',
        '1',
        '--pid-file',
        pidFile,
      ]);
      await waitFor(() => run.out.stderr.includes('running until stopped'), 30_000, 'the run to start measuring');
      assert.equal(Number(readFileSync(pidFile, 'utf8')), run.child.pid);
      run.child.kill('SIGTERM');
      const code = await run.done;
      const r = run.out;
      assert.equal(code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /odin-ws loadtest summary/);
      assert.match(r.stdout, /5 established of 5/);
      assert.equal(existsSync(pidFile), false);
    } finally {
      await gw.close();
    }
  },
);
