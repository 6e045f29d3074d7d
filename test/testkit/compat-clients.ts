/**
 * Test-only: runs the third-party client drivers that scripts/provision/40-clients.sh installs
 * (.tmp/compat: a Python venv with centrifuge-python and cent, the Go driver built from
 * test/compat/go) and returns the JSON report each prints.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const OUT = join(ROOT, '.tmp', 'compat');
export const PYTHON = join(OUT, 'venv', 'bin', 'python');
export const GO_DRIVER = join(OUT, 'go-compat');
const PY_DIR = join(ROOT, 'test', 'compat', 'py');

function missing(path: string): Error {
  return new Error(`${path} is missing: run \`bash scripts/provision.sh\` (npm test does it first)`);
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<Record<string, unknown>> {
  if (!existsSync(cmd)) return Promise.reject(missing(cmd));
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${cmd.split('/').pop()} ${args[0] ?? ''} failed: ${err.message}\n${stderr.slice(-4000)}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`no JSON report from ${cmd}: ${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

/** The Go driver (gocent, centrifuge-go): `api ...` or `client ...`, see test/compat/go/main.go. */
export function runGo(args: readonly string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return run(GO_DRIVER, args, timeoutMs);
}

/** A Python driver script of test/compat/py with the venv's interpreter. */
export function runPython(script: string, args: readonly string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return run(PYTHON, [join(PY_DIR, script), ...args], timeoutMs);
}
