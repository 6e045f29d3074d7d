/**
 * Test-only: `odin-ws gateway` as a real child process (port 0), and small HTTP/WebSocket
 * client helpers for multi-process tests. Every handle must be stopped by its test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'odin-ws.js');

export interface GatewayProcessOptions {
  /** Ignored with broker 'memory'. */
  readonly natsUrl: string;
  readonly apiKey: string;
  /** Default 'nats'. */
  readonly broker?: 'nats' | 'memory';
  readonly workers?: number;
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Until every worker logs "gateway listening", ms (default 20 s). */
  readonly startTimeoutMs?: number;
}

export interface GatewayProcess {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly pid: number;
  /** JSON log lines seen so far. */
  readonly logs: Record<string, unknown>[];
  running(): boolean;
  /** SIGTERM (graceful), SIGKILL after 10 s. Idempotent. */
  stop(): Promise<void>;
}

export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const workers = o.workers ?? 1;
  const brokerArgs =
    o.broker === 'memory' ? ['--broker', 'memory'] : ['--broker', 'nats', '--nats-url', o.natsUrl, '--workers', String(workers)];
  const args = [BIN, 'gateway', ...brokerArgs, '--port', '0', '--host', '127.0.0.1', ...(o.extraArgs ?? [])];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Secrets come from the environment (a secret flag is refused). Test keys are short fixture
    // names: the minimum a real process enforces is tested in test/gateway/config.test.ts.
    env: { ...process.env, LOG_LEVEL: 'info', GATEWAY_API_KEY: o.apiKey, GATEWAY_API_KEY_MIN_LENGTH: '1', ...o.env },
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const listening: string[] = [];
  let buf = '';
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway not listening within ${o.startTimeoutMs ?? 20_000} ms\n${stderr.slice(-3000)}`));
    }, o.startTimeoutMs ?? 20_000);
    child.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        logs.push(rec);
        if (logs.length > 5_000) logs.splice(0, 1_000);
        if (rec['msg'] === 'gateway listening' && typeof rec['url'] === 'string') {
          listening.push(rec['url']);
          if (listening.length === workers) {
            clearTimeout(timer);
            resolve(rec['url']);
          }
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${String(code)}) before listening\n${stderr.slice(-3000)}`));
    });
  });
  const url = await ready;
  const port = Number(new URL(url).port);
  let stopping: Promise<void> | null = null;
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    url,
    wsUrl: url.replace('http', 'ws'),
    port,
    pid: child.pid ?? 0,
    logs,
    running,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        if (!running()) {
          resolve();
          return;
        }
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      });
      return stopping;
    },
  };
}

export interface ApiReply {
  readonly status: number;
  readonly body: { result?: Record<string, unknown>; error?: { code: number; message: string } };
}

/** POST /api/<method> with the API key; never throws for HTTP errors (status is returned). */
export async function callApi(
  baseUrl: string,
  apiKey: string,
  method: string,
  params: unknown,
  timeoutMs = 10_000,
  headers: Record<string, string> = {},
): Promise<ApiReply> {
  const res = await fetch(`${baseUrl}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, ...headers },
    body: JSON.stringify(params),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: (await res.json()) as ApiReply['body'] };
}

/** A success in Centrifugo's semantics: HTTP 200 and no `error` in the body. */
export function apiOk(r: ApiReply): boolean {
  return r.status === 200 && r.body.error === undefined;
}

/** Throws unless the call succeeded (HTTP 200 alone is not success: errors come in a 200). */
export function assertApiOk(r: ApiReply): void {
  if (!apiOk(r)) throw new Error(`server API call failed: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}
