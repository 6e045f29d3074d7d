/**
 * bench/command.ts: `odin-ws bench` with default flags never rewrites the tracked chart
 * (docs/performance-fanout.svg); it writes bench/results/latest.svg beside its results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
