/**
 * bench/command.ts: `odin-ws bench` with default flags never rewrites the tracked chart
 * (docs/performance-fanout.svg); it writes bench/results/latest.svg beside its results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

test('odin-ws bench --from with default flags redraws bench/results/latest.svg and leaves docs/performance-fanout.svg alone', () => {
  const tracked = join(root, 'docs/performance-fanout.svg');
  const before = readFileSync(tracked);
  const mtime = statSync(tracked).mtimeMs;
  const latest = join(root, 'bench/results/latest.svg');
  rmSync(latest, { force: true });
  const r = spawnSync(process.execPath, [join(root, 'bin/odin-ws.js'), 'bench', '--from', join(root, 'bench/results/fanout.json')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(latest), 'the chart is written beside the results');
  assert.ok(readFileSync(latest, 'utf8').includes('<svg'));
  assert.deepEqual(readFileSync(tracked), before);
  assert.equal(statSync(tracked).mtimeMs, mtime);
  rmSync(latest, { force: true });
});

const bench = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin/odin-ws.js'), 'bench', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

test('odin-ws bench --help names the issue-25 scenarios, the Kafka-fed contenders and their variables', () => {
  const r = bench('--help');
  assert.equal(r.status, 0, r.stderr);
  for (const s of [
    'rates',
    'scale',
    'storm',
    '--points',
    '--scale-connections',
    '--storm-connections',
    'odin-ws-kafka',
    'go-gateway-kafka-multi',
  ])
    assert.ok(r.stdout.includes(s), s);
  for (const v of ['ODIN_BENCH_GO_GATEWAY_KAFKA=', 'ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI=', 'CENTRIFUGO_BIN', 'KAFKA_LIBS'])
    assert.ok(r.stdout.includes(v), v);
});

test('odin-ws bench refuses a bad --points and an unknown scenario with exit 2 and the reason', () => {
  const points = bench('--scenarios', 'rates', '--points', '2000x25,abc', '--contenders', 'naive-ws', '--runs', '0');
  assert.equal(points.status, 2);
  assert.match(points.stderr, /--points: abc is not SUBSCRIBERSxRATE/);
  const scenario = bench('--scenarios', 'rates,bogus', '--contenders', 'naive-ws', '--runs', '0');
  assert.equal(scenario.status, 2);
  assert.match(scenario.stderr, /--scenarios: unknown scenario bogus/);
});

test('processTree and treeCpuSeconds take in a process and its children (a --workers primary and its workers)', async () => {
  const { processTree, treeCpuSeconds, cpuSeconds } = await import('../../bench/proc.js');
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await new Promise<void>((r) => child.once('spawn', () => r()));
    const tree = processTree(process.pid);
    assert.equal(tree[0], process.pid);
    assert.ok(tree.includes(child.pid!), 'the child is in the tree');
    assert.ok(treeCpuSeconds(process.pid) >= cpuSeconds(process.pid));
  } finally {
    child.kill('SIGKILL');
  }
});
