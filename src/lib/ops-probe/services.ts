/**
 * The services of an odin-ws deployment and how to tell each is up: one check a service, each
 * returning a status, a latency and (when asked) details. Used by `odin-ws health` and `stats`.
 */
import { DEFAULT_KAFKA_BROKERS } from '../kafka/config.js';
import { getJson } from './fetch-json.js';
import { kafkaPing } from './kafka-ping.js';

export const SERVICE_NAMES = ['gateway', 'publisher', 'nats', 'kafka', 'prometheus', 'grafana', 'loki'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Where each service is; Kafka is host:port, the others base URLs. Defaults are the local stack's ports (README). */
export type Endpoints = Readonly<Record<ServiceName, string>>;

export const DEFAULT_ENDPOINTS: Endpoints = {
  gateway: 'http://127.0.0.1:3002',
  publisher: 'http://127.0.0.1:3003',
  nats: 'http://127.0.0.1:8222',
  // The same port as `odin-ws dev --kafka`, `odin-ws kafka broker` and the local stack.
  kafka: DEFAULT_KAFKA_BROKERS,
  prometheus: 'http://127.0.0.1:9091',
  grafana: 'http://127.0.0.1:3010',
  loki: 'http://127.0.0.1:3100',
};

/** Environment variable that overrides each endpoint (the flag overrides it in turn). */
export const ENDPOINT_ENV: Readonly<Record<ServiceName, string>> = {
  gateway: 'GATEWAY_URL',
  publisher: 'PUBLISHER_URL',
  nats: 'NATS_MONITOR_URL',
  kafka: 'KAFKA_BROKERS',
  prometheus: 'PROMETHEUS_URL',
  grafana: 'GRAFANA_URL',
  loki: 'LOKI_URL',
};

export type Status = 'up' | 'degraded' | 'down';

export interface ServiceHealth {
  readonly name: ServiceName;
  readonly url: string;
  readonly status: Status;
  readonly required: boolean;
  readonly latencyMs: number;
  /** One line: what is wrong, or a short fact when up. */
  readonly message: string;
  readonly details?: Record<string, unknown>;
  /** Gateway only: the services its /health says it depends on (e.g. kafka, when it ingests from Kafka). */
  readonly uses?: readonly ServiceName[];
}

type Check = (url: string, detailed: boolean, timeoutMs: number) => Promise<Omit<ServiceHealth, 'name' | 'url' | 'required'>>;

const trim = (u: string): string => u.replace(/\/+$/, '');

const down = (ms: number, message: string): Omit<ServiceHealth, 'name' | 'url' | 'required'> => ({
  status: 'down',
  latencyMs: ms,
  message,
});

const checks: Record<ServiceName, Check> = {
  async gateway(url, detailed, t) {
    const h = await getJson<{ status?: string; checks?: Record<string, unknown>; uptime?: number }>(`${trim(url)}/health`, t);
    if (!h.ok) return down(h.ms, h.error);
    const status: Status = h.body.status === 'healthy' ? 'up' : 'degraded';
    const failing = failingChecks(h.body.checks);
    const why = status === 'degraded' && failing.length > 0 ? ` (${failing.join('; ')})` : '';
    const base = {
      status,
      latencyMs: h.ms,
      message: `${h.body.status ?? '?'}${why}, uptime ${h.body.uptime ?? '?'}s`,
      ...(gatewayUses(h.body.checks).length > 0 ? { uses: gatewayUses(h.body.checks) } : {}),
    };
    if (!detailed) return base;
    const s = await getJson<Record<string, unknown>>(`${trim(url)}/stats`, t);
    return { ...base, details: { checks: h.body.checks, ...(s.ok ? { stats: s.body } : { statsError: s.error }) } };
  },
  async publisher(url, detailed, t) {
    const h = await getJson<{ status?: string; sink?: { kind?: string; target?: string; connected?: boolean }; publishing?: boolean }>(
      `${trim(url)}/health`,
      t,
      false,
      true,
    );
    if (!h.ok) return down(h.ms, h.error);
    const status: Status = h.body.status === 'healthy' || h.body.status === 'ok' ? 'up' : 'degraded';
    const sink = h.body.sink;
    const why =
      status === 'degraded' && sink ? ` (its ${sink.kind ?? '?'} sink ${sink.target ?? ''} is disconnected)`.replace(' )', ')') : '';
    const base = {
      status,
      latencyMs: h.ms,
      message: `${h.body.status ?? '?'}${why}, ${h.body.publishing ? 'publishing' : 'idle'}${sink?.kind ? ` into ${sink.kind}` : ''}`,
    };
    if (!detailed) return base;
    const s = await getJson<Record<string, unknown>>(`${trim(url)}/stats`, t);
    return { ...base, details: { health: h.body, ...(s.ok ? { stats: s.body } : { statsError: s.error }) } };
  },
  async nats(url, detailed, t) {
    const h = await getJson<{ status?: string; error?: string }>(`${trim(url)}/healthz`, t);
    if (!h.ok) return down(h.ms, h.error);
    const base = { status: (h.body.status === 'ok' ? 'up' : 'degraded') as Status, latencyMs: h.ms, message: h.body.error ?? 'ok' };
    if (!detailed) return base;
    const [v, j] = await Promise.all([
      getJson<Record<string, unknown>>(`${trim(url)}/varz`, t),
      getJson<Record<string, unknown>>(`${trim(url)}/jsz`, t),
    ]);
    const varz = v.ok ? v.body : {};
    return {
      ...base,
      message: `ok, nats-server ${String(varz.version ?? '?')}`,
      details: {
        version: varz.version,
        connections: varz.connections,
        inMsgs: varz.in_msgs,
        outMsgs: varz.out_msgs,
        jetstream: j.ok ? { streams: j.body.streams, consumers: j.body.consumers, messages: j.body.messages, bytes: j.body.bytes } : null,
      },
    };
  },
  async kafka(url, detailed, t) {
    const first = url.split(',')[0]!.trim();
    const p = await kafkaPing(first, t);
    if (!p.ok) return down(p.ms, p.error ?? 'down');
    return {
      status: 'up',
      latencyMs: p.ms,
      message: `answers ApiVersions (${p.apis} APIs)`,
      ...(detailed ? { details: { broker: first, apis: p.apis } } : {}),
    };
  },
  async prometheus(url, detailed, t) {
    const h = await getJson<string>(`${trim(url)}/-/ready`, t, true);
    if (!h.ok) return down(h.ms, h.error);
    const base = { status: 'up' as Status, latencyMs: h.ms, message: 'ready' };
    if (!detailed) return base;
    const tg = await getJson<{ data?: { activeTargets?: { labels?: { job?: string }; health?: string; lastError?: string }[] } }>(
      `${trim(url)}/api/v1/targets`,
      t,
    );
    const targets = (tg.ok ? (tg.body.data?.activeTargets ?? []) : []).map((x) => ({
      job: x.labels?.job,
      health: x.health,
      ...(x.lastError ? { lastError: x.lastError } : {}),
    }));
    const up = targets.filter((x) => x.health === 'up').length;
    return { ...base, message: `ready, ${up}/${targets.length} targets up`, details: { targets } };
  },
  async grafana(url, detailed, t) {
    const h = await getJson<{ database?: string; version?: string }>(`${trim(url)}/api/health`, t);
    if (!h.ok) return down(h.ms, h.error);
    return {
      status: h.body.database === 'ok' ? 'up' : 'degraded',
      latencyMs: h.ms,
      message: `database ${h.body.database ?? '?'}, version ${h.body.version ?? '?'}`,
      ...(detailed ? { details: h.body } : {}),
    };
  },
  async loki(url, _detailed, t) {
    const h = await getJson<string>(`${trim(url)}/ready`, t, true);
    if (!h.ok) return down(h.ms, h.error);
    return { status: 'up', latencyMs: h.ms, message: h.body.trim() || 'ready' };
  },
};

/** "kafka: no partitions assigned" for each check of a gateway's /health that is not ok. */
function failingChecks(checks: Record<string, unknown> | undefined): string[] {
  return Object.entries(checks ?? {})
    .filter(([k, v]) => v !== 'ok' && !(k === 'draining' && v === false))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/** Services a gateway reports a readiness check for (the Kafka ingest registers "kafka"). */
function gatewayUses(checks: Record<string, unknown> | undefined): ServiceName[] {
  return Object.keys(checks ?? {}).filter((k): k is ServiceName => k !== 'gateway' && (SERVICE_NAMES as readonly string[]).includes(k));
}

/** Checks one service. */
export async function checkService(
  name: ServiceName,
  url: string,
  opts: { required: boolean; detailed: boolean; timeoutMs: number },
): Promise<ServiceHealth> {
  const r = await checks[name](url, opts.detailed, opts.timeoutMs);
  return { name, url, required: opts.required, ...r };
}

/** Endpoints from defaults ← environment ← explicit overrides. */
export function resolveEndpoints(env: NodeJS.ProcessEnv, overrides: Partial<Record<ServiceName, string>>): Endpoints {
  const out = { ...DEFAULT_ENDPOINTS };
  for (const n of SERVICE_NAMES) {
    const v = overrides[n] ?? env[ENDPOINT_ENV[n]];
    if (v) out[n] = v;
  }
  return out;
}
