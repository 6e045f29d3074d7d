/**
 * Test-only: a real Centrifugo v6.9.1 (built by scripts/provision/45-centrifugo.sh from its Go
 * module into a cache outside the repository; `CENTRIFUGO_BIN` names another binary) on a free
 * loopback port, for side-by-side comparisons with odin-ws.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const CENTRIFUGO_VERSION = 'v6.9.1';

export function centrifugoBinary(): string {
  if (process.env.CENTRIFUGO_BIN) return process.env.CENTRIFUGO_BIN;
  const cache = process.env.ODIN_WS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'odin-ws');
  return join(cache, `centrifugo-${CENTRIFUGO_VERSION}`, 'centrifugo');
}

export interface CentrifugoHandle {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Resolves true once the port accepts connections, false if the process exits first. */
async function listening(child: ChildProcess, port: number): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (child.exitCode === null && Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return child.exitCode === null;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (child.exitCode === null) child.kill('SIGKILL');
  return false;
}

/** Starts Centrifugo with `config` (its v6 JSON config; the HTTP address is set here). */
export async function startCentrifugo(config: Record<string, unknown>): Promise<CentrifugoHandle> {
  const bin = centrifugoBinary();
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/provision.sh\` (npm test does it first)`);
  const dir = mkdtempSync(join(tmpdir(), 'centrifugo-'));
  for (let attempt = 0; attempt < 5; attempt++) {
    // Centrifugo reads `port: 0` as unset (8000), so it cannot pick its own: a port free a moment
    // ago, and another try if it was taken in between (Centrifugo then exits).
    const port = await freePort();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...config, http_server: { address: '127.0.0.1', port } }));
    const child = spawn(bin, ['-c', file], { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
    if (!(await listening(child, port))) continue;
    return {
      url: `http://127.0.0.1:${port}`,
      stop: () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => {
            rmSync(dir, { recursive: true, force: true });
            resolve();
          });
          child.kill('SIGTERM');
        }),
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('Centrifugo did not start');
}
