/**
 * `odin-ws health`: checks every service of a deployment at once and prints a table (or JSON).
 * Exit 0 when every required service is up, 1 when one is not, 2 on bad usage.
 */
import { readFileSync } from 'node:fs';
import {
  checkService,
  DEFAULT_ENDPOINTS,
  ENDPOINT_ENV,
  resolveEndpoints,
  SERVICE_NAMES,
  type ServiceHealth,
  type ServiceName,
} from '../../lib/ops-probe/services.js';
import { DEFAULT_PROBE_TIMEOUT_MS } from '../../lib/ops-probe/fetch-json.js';
import { renderTable } from '../../lib/ops-probe/table.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../lib/runtime/exit-codes.js';
import { parseFlags, toList, toNumber, UsageError } from '../../lib/runtime/flags.js';

/**
 * Required unless --require says otherwise: what every mode runs (`npm start`, the local stack,
 * compose). Besides these, a service the gateway's /health reports depending on (its Kafka
 * ingest) is required too; NATS is not, since `odin-ws dev` runs without it.
 */
export const DEFAULT_REQUIRED: readonly ServiceName[] = ['gateway', 'publisher'];
/** Most lines of figures --detailed prints for one service. */
const DETAIL_LINES = 24;
/** Pause between rounds of --wait, ms. */
const WAIT_POLL_MS = 250;

export const HEALTH_HELP = `Usage: odin-ws health [SERVICE...] [options]

Checks the services of an odin-ws deployment and prints one line each. With SERVICE names
(${SERVICE_NAMES.join(', ')}) only those are checked, and all of them are required.

Options:                                      env                 default
  --gateway URL        gateway base URL       ${ENDPOINT_ENV.gateway.padEnd(19)} ${DEFAULT_ENDPOINTS.gateway}
  --publisher URL      publisher control API  ${ENDPOINT_ENV.publisher.padEnd(19)} ${DEFAULT_ENDPOINTS.publisher}
  --nats URL           NATS monitoring port   ${ENDPOINT_ENV.nats.padEnd(19)} ${DEFAULT_ENDPOINTS.nats}
  --kafka HOST:PORT    Kafka bootstrap broker ${ENDPOINT_ENV.kafka.padEnd(19)} ${DEFAULT_ENDPOINTS.kafka}
  --prometheus URL                            ${ENDPOINT_ENV.prometheus.padEnd(19)} ${DEFAULT_ENDPOINTS.prometheus}
  --grafana URL                               ${ENDPOINT_ENV.grafana.padEnd(19)} ${DEFAULT_ENDPOINTS.grafana}
  --loki URL                                  ${ENDPOINT_ENV.loki.padEnd(19)} ${DEFAULT_ENDPOINTS.loki}
  --require LIST       services that must be up (comma-separated, "all" or "none")
                                              HEALTH_REQUIRE      ${DEFAULT_REQUIRED.join(',')} + what the gateway uses
  --detailed           add each service's figures (gateway /stats, NATS /varz and /jsz, Prometheus targets)
  --json               print JSON instead of a table
  --wait SECONDS       retry until every required service is up, at most this long
  --while-pid PID      with --wait: give up as soon as process PID has exited
  --timeout MS         deadline of one probe                       ${DEFAULT_PROBE_TIMEOUT_MS}
  -h, --help

Exit codes: 0 every required service is up, 1 one is not, 2 bad usage.
`;

const FLAGS = {
  gateway: { type: 'string' },
  publisher: { type: 'string' },
  nats: { type: 'string' },
  kafka: { type: 'string' },
  prometheus: { type: 'string' },
  grafana: { type: 'string' },
  loki: { type: 'string' },
  require: { type: 'string' },
  detailed: { type: 'boolean' },
  json: { type: 'boolean' },
  wait: { type: 'string' },
  'while-pid': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface HealthOptions {
  readonly services: readonly ServiceName[];
  readonly required: ReadonlySet<ServiceName>;
  /** Also require what the gateway reports using (no --require, HEALTH_REQUIRE or SERVICE given). */
  readonly requireUsed: boolean;
  readonly endpoints: Readonly<Record<ServiceName, string>>;
  readonly detailed: boolean;
  readonly json: boolean;
  readonly waitMs: number;
  readonly whilePid: number | null;
  readonly timeoutMs: number;
  readonly help: boolean;
}

function serviceList(raw: string, what: string): ServiceName[] {
  const names = toList(raw);
  if (names.length === 1 && names[0] === 'all') return [...SERVICE_NAMES];
  if (names.length === 1 && names[0] === 'none') return [];
  for (const n of names)
    if (!(SERVICE_NAMES as readonly string[]).includes(n))
      throw new UsageError(`${what}: unknown service "${n}" (${SERVICE_NAMES.join(', ')})`);
  return names as ServiceName[];
}

export function parseHealthArgs(argv: readonly string[], env: NodeJS.ProcessEnv): HealthOptions {
  const parsed = parseFlags(argv, FLAGS, { positionals: true });
  const f = parsed.values;
  const only = parsed.positionals.length > 0 ? serviceList(parsed.positionals.join(','), 'service') : null;
  const services = only ?? [...SERVICE_NAMES];
  const requireRaw = f.require ?? env.HEALTH_REQUIRE;
  const required = new Set(requireRaw !== undefined ? serviceList(requireRaw, '--require') : (only ?? DEFAULT_REQUIRED));
  const num = (name: string, v: string | undefined, dflt: number): number => toNumber(`--${name}`, v, { min: 0 }, dflt);
  const overrides: Partial<Record<ServiceName, string>> = {};
  for (const n of SERVICE_NAMES) if (f[n] !== undefined) overrides[n] = f[n];
  return {
    services,
    required,
    requireUsed: requireRaw === undefined && only === null,
    endpoints: resolveEndpoints(env, overrides),
    detailed: f.detailed === true,
    json: f.json === true,
    waitMs: num('wait', f.wait, 0) * 1000,
    whilePid: f['while-pid'] === undefined ? null : (toNumber('--while-pid', f['while-pid'], { integer: true, min: 1 }) ?? null),
    timeoutMs: num('timeout', f.timeout, DEFAULT_PROBE_TIMEOUT_MS),
    help: f.help === true,
  };
}

export async function checkAll(o: HealthOptions): Promise<ServiceHealth[]> {
  const results = await Promise.all(
    o.services.map((n) => checkService(n, o.endpoints[n], { required: o.required.has(n), detailed: o.detailed, timeoutMs: o.timeoutMs })),
  );
  if (!o.requireUsed) return results;
  const used = new Set(results.find((r) => r.name === 'gateway')?.uses ?? []);
  return results.map((r) => (used.has(r.name) && !r.required ? { ...r, required: true } : r));
}

/** The figures of --detailed as short `key  value` lines (arrays of objects one line an item). */
export function detailLines(details: Record<string, unknown>, max = DETAIL_LINES): string[] {
  const out: string[] = [];
  const scalar = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) {
      if (v.length === 0) out.push(`${key}  (none)`);
      for (const item of v.slice(0, 8))
        out.push(
          `${key}  ${
            typeof item === 'object' && item !== null
              ? Object.entries(item as Record<string, unknown>)
                  .map(([k, x]) => `${k}=${scalar(x)}`)
                  .join(' ')
              : scalar(item)
          }`,
        );
      if (v.length > 8) out.push(`${key}  … ${v.length - 8} more`);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, key === '' ? k : `${key}.${k}`);
    } else if (v !== undefined) out.push(`${key}  ${scalar(v)}`);
  };
  walk(details, '');
  return out.length > max ? [...out.slice(0, max), `… ${out.length - max} more lines (--json prints them all)`] : out;
}

const healthy = (results: readonly ServiceHealth[]): boolean => results.every((r) => !r.required || r.status === 'up');

export function healthTable(results: readonly ServiceHealth[]): string {
  const rows = results.map((r) => [
    r.name,
    r.status === 'up' ? 'UP' : r.status === 'degraded' ? 'DEGRADED' : r.required ? 'DOWN' : 'down (optional)',
    r.url,
    `${r.latencyMs} ms`,
    r.message,
  ]);
  let out = renderTable(['SERVICE', 'STATUS', 'ENDPOINT', 'LATENCY', 'DETAIL'], rows);
  for (const r of results)
    if (r.details)
      out += `\n${r.name}:\n${detailLines(r.details)
        .map((l) => `  ${l}`)
        .join('\n')}\n`;
  const bad = results.filter((r) => r.required && r.status !== 'up').map((r) => r.name);
  out += bad.length === 0 ? '\nall required services are up\n' : `\nrequired but not up: ${bad.join(', ')}\n`;
  return out;
}

export async function healthCommand(argv: readonly string[]): Promise<number> {
  let o: HealthOptions;
  try {
    o = parseHealthArgs(argv, process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`odin-ws health: ${e.message}\n(see odin-ws health --help)\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(HEALTH_HELP);
    return EXIT_OK;
  }
  const deadline = Date.now() + o.waitMs;
  let results = await checkAll(o);
  const alive = (): boolean => {
    if (o.whilePid === null) return true;
    try {
      process.kill(o.whilePid, 0);
    } catch {
      return false;
    }
    // An exited child its parent has not reaped yet still answers kill(0): a zombie is gone.
    const stat = readFileSafe(`/proc/${o.whilePid}/stat`);
    return stat === null || !/^\d+ \(.*\) Z/s.test(stat);
  };
  while (!healthy(results) && Date.now() < deadline && alive()) {
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    results = await checkAll(o);
  }
  const ok = healthy(results);
  if (o.json) process.stdout.write(JSON.stringify({ ok, services: results }, null, 2) + '\n');
  else process.stdout.write(healthTable(results));
  return ok ? EXIT_OK : EXIT_FAILURE;
}

function readFileSafe(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
