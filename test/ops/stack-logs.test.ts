/**
 * `task local:logs:*` (scripts/local/stack.sh logs): on a terminal it follows the log, through a
 * pipe it prints the last lines and ends; `logs all` interleaves every service's log.
 * The terminal is a real pseudo-terminal (util-linux `script`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../testkit/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const stack = join(root, 'scripts/local/stack.sh');

function runDirWithLogs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'odin-logs-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'logs/gateway.log'), 'gateway line 1\n');
  writeFileSync(join(dir, 'logs/nats.log'), 'nats line 1\n');
  return dir;
}

test('through a pipe: the last lines, then it ends; logs all shows every service', () => {
  const dir = runDirWithLogs();
  try {
    const one = spawnSync('bash', [stack, 'logs', 'gateway'], { env: { ...process.env, RUN_DIR: dir }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(one.status, 0, one.stderr);
    assert.equal(one.stdout, 'gateway line 1\n');
    const all = spawnSync('bash', [stack, 'logs', 'all'], { env: { ...process.env, RUN_DIR: dir }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /==> .*nats\.log <==\nnats line 1/);
    assert.match(all.stdout, /==> .*gateway\.log <==\ngateway line 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on a terminal it follows: a line written later is shown', { timeout: 30_000 }, async () => {
  const dir = runDirWithLogs();
  const child = spawn('script', ['-qfec', `bash ${stack} logs gateway`, '/dev/null'], {
    env: { ...process.env, RUN_DIR: dir, FOLLOW: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => out.includes('gateway line 1'), 15_000, 'the last lines');
    appendFileSync(join(dir, 'logs/gateway.log'), 'gateway line 2\n');
    await waitFor(() => out.includes('gateway line 2'), 15_000, 'the line written later');
    assert.equal(child.exitCode, null, 'still following');
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
