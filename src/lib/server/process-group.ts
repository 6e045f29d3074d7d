/**
 * One answer for the whole `--workers N` process group. Node's cluster hands each connection to
 * one worker, so without this a scrape of /metrics or a GET /stats reads whichever worker took
 * it (a counter reads 0, 6, 0, 6 on successive scrapes). Here the worker that takes the request
 * asks the primary over the cluster IPC channel; the primary gathers every worker's figures and
 * answers with their aggregate:
 * - /metrics: prom-client's AggregatorRegistry (counters and histograms summed; each metric's
 *   `aggregator` decides otherwise, e.g. ws_ready is the minimum);
 * - /stats: numbers summed, `ready` true only when every worker is, `uptime` the youngest
 *   worker's, client addresses merged, and one `perWorker` row each.
 * Without cluster (one process) nothing here is used.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Gateway } from '../core/gateway.js';
import type { Logger } from '../core/logger.js';
import { statsOf, type GroupView } from './http-app.js';

/** How long the primary waits for every worker, and a worker for the primary, ms. */
export const GROUP_TIMEOUT_MS = 5_000;

const REQ = 'odin-ws:group-req';
const RES = 'odin-ws:group-res';
const STATS_REQ = 'odin-ws:stats-req';
const STATS_RES = 'odin-ws:stats-res';

type What = 'metrics' | 'stats';
type GroupMessage =
  | { type: typeof REQ; id: number; what: What }
  | { type: typeof RES; id: number; ok: boolean; body: string }
  | { type: typeof STATS_REQ; id: number }
  | { type: typeof STATS_RES; id: number; stats: Record<string, unknown> };

const isGroupMessage = (m: unknown): m is GroupMessage =>
  typeof m === 'object' &&
  m !== null &&
  typeof (m as { type?: unknown }).type === 'string' &&
  (m as { type: string }).type.startsWith('odin-ws:');

// ---- worker side ----

let nextId = 1;
const waiting = new Map<number, (r: { ok: boolean; body: string }) => void>();

function ask(what: What): Promise<string> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`the process group did not answer ${what} within ${GROUP_TIMEOUT_MS} ms`));
    }, GROUP_TIMEOUT_MS);
    waiting.set(id, (r) => {
      clearTimeout(timer);
      waiting.delete(id);
      if (r.ok) resolve(r.body);
      else reject(new Error(r.body));
    });
    process.send!({ type: REQ, id, what } satisfies GroupMessage);
  });
}

/**
 * In a cluster worker: answers the primary's requests for this worker's figures, and returns the
 * view /metrics and /stats use. Null outside a cluster worker.
 */
export function joinProcessGroup(gateway: Gateway, registry: Registry): GroupView | null {
  // Only the workers `runPrimary` forks: another program's cluster has no one to answer.
  if (!cluster.isWorker || !process.send || process.env.ODIN_WS_WORKER_SLOT === undefined) return null;
  // prom-client answers the primary's metric requests with this registry (its listener is
  // installed by constructing an AggregatorRegistry in the worker).
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  process.on('message', (m: unknown) => {
    if (!isGroupMessage(m)) return;
    if (m.type === RES) waiting.get(m.id)?.({ ok: m.ok, body: m.body });
    else if (m.type === STATS_REQ)
      process.send!({ type: STATS_RES, id: m.id, stats: { ...statsOf(gateway), pid: process.pid } } satisfies GroupMessage);
  });
  return {
    metrics: () => ask('metrics'),
    stats: async () => JSON.parse(await ask('stats')) as Record<string, unknown>,
  };
}

// ---- primary side ----

/** In the primary of `--workers N`: answers workers' requests for the group's figures. */
export function serveProcessGroup(log: Logger): void {
  const aggregator = new AggregatorRegistry();
  const statsWaits = new Map<number, { rows: Record<string, unknown>[]; need: number; done: () => void }>();
  let nextStatsId = 1;

  const gatherStats = (): Promise<Record<string, unknown>[]> => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
    const id = nextStatsId++;
    return new Promise((resolve, reject) => {
      const rows: Record<string, unknown>[] = [];
      const timer = setTimeout(() => {
        statsWaits.delete(id);
        reject(new Error(`${workers.length - rows.length} of ${workers.length} workers did not answer within ${GROUP_TIMEOUT_MS} ms`));
      }, GROUP_TIMEOUT_MS);
      statsWaits.set(id, {
        rows,
        need: workers.length,
        done: () => {
          clearTimeout(timer);
          statsWaits.delete(id);
          resolve(rows);
        },
      });
      for (const w of workers) w.send({ type: STATS_REQ, id } satisfies GroupMessage);
    });
  };

  cluster.on('message', (worker: Worker, m: unknown) => {
    if (!isGroupMessage(m)) return;
    if (m.type === STATS_RES) {
      const wait = statsWaits.get(m.id);
      if (!wait) return;
      wait.rows.push(m.stats);
      if (wait.rows.length >= wait.need) wait.done();
      return;
    }
    if (m.type !== REQ) return;
    const answer = m.what === 'metrics' ? aggregator.clusterMetrics() : gatherStats().then((rows) => JSON.stringify(mergeStats(rows)));
    answer.then(
      (body) => worker.isConnected() && worker.send({ type: RES, id: m.id, ok: true, body } satisfies GroupMessage),
      (err: unknown) => {
        log.warn({ err, what: m.what }, 'process group: figures incomplete');
        if (worker.isConnected()) worker.send({ type: RES, id: m.id, ok: false, body: (err as Error).message } satisfies GroupMessage);
      },
    );
  });
}

/** Adds numbers field by field (recursively); the caller fixes the fields that are not sums. */
function sumInto(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    if (typeof v === 'number') into[k] = ((into[k] as number | undefined) ?? 0) + v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sub = (into[k] ??= {}) as Record<string, unknown>;
      sumInto(sub, v as Record<string, unknown>);
    }
  }
}

/** The group's /stats from each worker's. */
export function mergeStats(rows: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows) sumInto(out, r);
  const ips = new Map<string, number>();
  for (const r of rows)
    for (const x of (r.ips ?? []) as { ip: string; connections: number }[]) ips.set(x.ip, (ips.get(x.ip) ?? 0) + x.connections);
  delete out.pid;
  return {
    ...out,
    node: rows.map((r) => r.node).join(','),
    version: rows[0]?.version,
    ready: rows.length > 0 && rows.every((r) => r.ready === true),
    uptime: Math.min(...rows.map((r) => (r.uptime as number | undefined) ?? 0)),
    workers: rows.length,
    ips: [...ips].sort((a, b) => b[1] - a[1]).map(([ip, connections]) => ({ ip, connections })),
    perWorker: rows.map((r) => ({
      node: r.node,
      pid: r.pid,
      ready: r.ready,
      connections: (r.connections as { total?: number } | undefined)?.total,
      subscriptions: r.subscriptions,
      publications: r.publications,
      messagesOut: (r.messages as { out?: number } | undefined)?.out,
    })),
  };
}
