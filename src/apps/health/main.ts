/**
 * `odin-ws health`: checks every service of a deployment at once and prints a table (or JSON).
 * Exit 0 when every required service is up, 1 when one is not, 2 on bad usage.
 */
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

/** Required unless --require says otherwise: what the local stack cannot work without. */
export const DEFAULT_REQUIRED: readonly ServiceName[] = ['gateway', 'publisher', 'nats'];
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
                                              HEALTH_REQUIRE      ${DEFAULT_REQUIRED.join(',')}
  --detailed           add each service's figures (gateway /stats, NATS /varz and /jsz, Prometheus targets)
  --json               print JSON instead of a table
  --wait SECONDS       retry until every required service is up, at most this long
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
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface HealthOptions {
  readonly services: readonly ServiceName[];
  readonly required: ReadonlySet<ServiceName>;
  readonly endpoints: Readonly<Record<ServiceName, string>>;
  readonly detailed: boolean;
  readonly json: boolean;
  readonly waitMs: number;
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
    endpoints: resolveEndpoints(env, overrides),
    detailed: f.detailed === true,
    json: f.json === true,
    waitMs: num('wait', f.wait, 0) * 1000,
    timeoutMs: num('timeout', f.timeout, DEFAULT_PROBE_TIMEOUT_MS),
    help: f.help === true,
  };
}

export async function checkAll(o: HealthOptions): Promise<ServiceHealth[]> {
  return Promise.all(
    o.services.map((n) => checkService(n, o.endpoints[n], { required: o.required.has(n), detailed: o.detailed, timeoutMs: o.timeoutMs })),
  );
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
  for (const r of results) if (r.details) out += `\n${r.name}:\n${JSON.stringify(r.details, null, 2).replace(/^/gm, '  ')}\n`;
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
  while (!healthy(results) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    results = await checkAll(o);
  }
  const ok = healthy(results);
  if (o.json) process.stdout.write(JSON.stringify({ ok, services: results }, null, 2) + '\n');
  else process.stdout.write(healthTable(results));
  return ok ? EXIT_OK : EXIT_FAILURE;
}
