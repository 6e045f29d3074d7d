/**
 * The console's load test: at most one `odin-ws loadtest` child process at a time, against this
 * gateway over loopback, reporting its progress to this gateway's `_odin.loadtest` channel. The
 * server API key reaches the child through its environment (LOADTEST_API_KEY), never its argv
 * (argv shows in `ps`). The child is stopped by its PID: SIGTERM (it ends the measured window and
 * reports `done`), then SIGKILL after KILL_AFTER_MS; a run that overstays its duration by
 * OVERRUN_GRACE_S is stopped the same way, and close() stops it with the gateway.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** After SIGTERM, the child has this long to exit before SIGKILL, ms. */
export const LOADTEST_KILL_AFTER_MS = 5000;
/** A run still alive this long after its duration (connecting, summary) is stopped, s. */
export const LOADTEST_OVERRUN_GRACE_S = 60;
/** Bytes of the child's stderr kept for the status (its last lines). */
const OUTPUT_TAIL_BYTES = 4096;

/** Where the child runs and what it runs: set by the composition root once the gateway listens. */
export interface LoadtestTarget {
  /** ws://127.0.0.1:<port>/ws of this gateway. */
  readonly wsUrl: string;
  /** http://127.0.0.1:<port> of this gateway (--report-to). */
  readonly httpUrl: string;
  /** The server API key (publish and report); passed in the environment. */
  readonly apiKey: string;
  /** The CLI: [node, path of the CLI entry]; `loadtest` and its flags follow. */
  readonly command: readonly [string, ...string[]];
}

export interface LoadtestParams {
  readonly connections: number;
  readonly durationSeconds: number;
  readonly rate: number;
  readonly protocol: 'odin' | 'centrifuge';
}

export interface LoadtestStatus {
  readonly running: boolean;
  readonly pid: number | null;
  readonly params: LoadtestParams | null;
  readonly startedAt: number | null;
  /** The last run's end: exit code or signal; null while running or before any run. */
  readonly exit: { readonly code: number | null; readonly signal: string | null } | null;
  /** The last lines the child wrote to stderr (bounded). */
  readonly output: string;
}

export class LoadtestRunner {
  private target: LoadtestTarget | null = null;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private params: LoadtestParams | null = null;
  private startedAt: number | null = null;
  private exit: LoadtestStatus['exit'] = null;
  private output = '';
  private watchdog: NodeJS.Timeout | null = null;

  setTarget(t: LoadtestTarget): void {
    this.target = t;
  }

  get available(): boolean {
    return this.target !== null && this.target.apiKey !== '';
  }

  get running(): boolean {
    return this.child !== null;
  }

  status(): LoadtestStatus {
    return {
      running: this.child !== null,
      pid: this.child?.pid ?? null,
      params: this.params,
      startedAt: this.startedAt,
      exit: this.exit,
      output: this.output,
    };
  }

  /** Starts a run; the caller checked `available` and `running`. Resolves with its PID once spawned. */
  start(p: LoadtestParams): Promise<number> {
    const t = this.target!;
    const [exe, ...pre] = t.command;
    const args = [
      ...pre,
      'loadtest',
      ...['--url', t.wsUrl, '--protocol', p.protocol, '--connections', String(p.connections)],
      ...['--duration', String(p.durationSeconds), '--rate', String(p.rate), '--report-to', t.httpUrl, '--quiet'],
    ];
    const child = spawn(exe, args, {
      env: { ...process.env, LOADTEST_API_KEY: t.apiKey },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    this.params = p;
    this.startedAt = Date.now();
    this.exit = null;
    this.output = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.output = (this.output + s).slice(-OUTPUT_TAIL_BYTES);
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.watchdog) clearTimeout(this.watchdog);
        this.watchdog = null;
        this.exit = { code, signal };
        this.child = null;
        resolve();
      });
    });
    this.watchdog = setTimeout(() => void this.stop(), (p.durationSeconds + LOADTEST_OVERRUN_GRACE_S) * 1000);
    this.watchdog.unref();
    return new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (e) => {
        this.child = null;
        if (this.watchdog) clearTimeout(this.watchdog);
        reject(e);
      });
    });
  }

  /** Stops the run by its PID (SIGTERM, then SIGKILL after `killAfterMs`); resolves once it exited. False when none ran. */
  async stop(killAfterMs = LOADTEST_KILL_AFTER_MS): Promise<boolean> {
    const child = this.child;
    if (!child?.pid) return false;
    signal(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.child === child) signal(child.pid!, 'SIGKILL');
    }, killAfterMs);
    await this.exited;
    clearTimeout(timer);
    return true;
  }

  /** With the gateway: a short deadline before SIGKILL. Idempotent. */
  close(): Promise<unknown> {
    return this.stop(1000);
  }
}

/** Signals a PID that may have exited a moment ago (its exit event still queued). */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
