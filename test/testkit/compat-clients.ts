/**
 * Test-only: runs the third-party client drivers that scripts/provision/40-clients.sh installs
 * (.tmp/compat: a Python venv with centrifuge-python and cent, the Go driver built from
 * test/compat/go, the Java driver built from test/compat/java) and returns the JSON report each prints.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const OUT = join(ROOT, '.tmp', 'compat');
export const PYTHON = join(OUT, 'venv', 'bin', 'python');
export const GO_DRIVER = join(OUT, 'go-compat');
const PY_DIR = join(ROOT, 'test', 'compat', 'py');
const JAVA_SRC = join(ROOT, 'test', 'compat', 'java');
const JAVA_OUT = join(OUT, 'java');
export const JAVA_JAR = join(JAVA_OUT, 'java-compat-1.jar');

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

function newestUnder(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The Java driver (centrifuge-java, protobuf; test/compat/java/.../Main.java): built here with
 * Maven offline (provision resolved its jars) when missing or older than its sources.
 */
export function runJava(args: readonly string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  if (
    !existsSync(JAVA_JAR) ||
    statSync(JAVA_JAR).mtimeMs < newestUnder(join(JAVA_SRC, 'src')) ||
    statSync(JAVA_JAR).mtimeMs < statSync(join(JAVA_SRC, 'pom.xml')).mtimeMs
  ) {
    try {
      execFileSync('mvn', ['-q', '-B', '-o', '-f', join(JAVA_SRC, 'pom.xml'), `-Dcompat.out=${JAVA_OUT}`, 'package', '-DskipTests'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 300_000,
      });
    } catch (e) {
      return Promise.reject(new Error(`building the Java driver failed (run \`bash scripts/provision.sh\` once online): ${String(e)}`));
    }
  }
  const java = '/usr/bin/java';
  return run(existsSync(java) ? java : 'java', ['-cp', `${JAVA_JAR}:${join(JAVA_OUT, 'lib')}/*`, 'odinws.compat.Main', ...args], timeoutMs);
}
