/**
 * `odin-ws stats`: the figures of a running deployment in one place: the publisher's counts,
 * the gateway's connections and traffic (all workers), connections by client address, the
 * broker's streams and consumers (NATS JetStream) and Kafka. `--watch` redraws it live, with
 * rates computed between refreshes.
 */
import { ENDPOINT_ENV, resolveEndpoints, type Endpoints, type ServiceName } from '../../lib/ops-probe/services.js';
import {
  collectStats,
  DEFAULT_STATS_KAFKA_GROUP,
  renderStats,
  renderWatchFrame,
  STATS_VIEWS,
  type StatsSnapshot,
  type StatsView,
} from '../../lib/ops-probe/stats.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../lib/runtime/exit-codes.js';
import { parseFlags, toNumber, UsageError } from '../../lib/runtime/flags.js';

/** Refresh interval of --watch, seconds. */
export const DEFAULT_WATCH_INTERVAL_S = 2;

export const STATS_HELP = `Usage: odin-ws stats [VIEW] [options]

Views: ${STATS_VIEWS.join(', ')} (default all)
  publisher  events published, rate, errors (publisher /stats)
  ws         gateway connections, subscriptions, messages in/out, publications (gateway /stats, every worker)
  ips        gateway connections by client address (needs GATEWAY_ADMIN_TOKEN)
  topics     broker streams: NATS JetStream streams and subjects; Kafka topics and end offsets
  consume    consumers: the Kafka consumer group's committed offsets and lag; JetStream consumers
  broker     topics + consume

Options:
  --gateway URL     (${ENDPOINT_ENV.gateway})  --publisher URL (${ENDPOINT_ENV.publisher})
  --nats URL        NATS monitoring base (${ENDPOINT_ENV.nats})  --kafka HOST:PORT (${ENDPOINT_ENV.kafka})
  --kafka-group ID  Kafka consumer group for lag (KAFKA_CONSUMER_GROUP)  ${DEFAULT_STATS_KAFKA_GROUP}
  --watch           redraw every --interval seconds until Ctrl-C (rates per second between refreshes)
  --interval S      refresh interval                           ${DEFAULT_WATCH_INTERVAL_S}
  --count N         with --watch, stop after N refreshes
  --json            one JSON snapshot (with --watch: one JSON line per refresh)
  -h, --help

Exit codes: 0 ok, 1 when no service of the view answered, 2 bad usage.
`;

const FLAGS = {
  gateway: { type: 'string' },
  publisher: { type: 'string' },
  nats: { type: 'string' },
  kafka: { type: 'string' },
  'kafka-group': { type: 'string' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  count: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface StatsOptions {
  readonly view: StatsView;
  readonly endpoints: Endpoints;
  readonly kafkaGroup: string;
  /** GATEWAY_ADMIN_TOKEN: the gateway's /stats lists client addresses only with it. */
  readonly adminToken: string;
  readonly watch: boolean;
  readonly intervalMs: number;
  readonly count: number;
  readonly json: boolean;
  readonly help: boolean;
}

export function parseStatsArgs(argv: readonly string[], env: NodeJS.ProcessEnv): StatsOptions {
  const parsed = parseFlags(argv, FLAGS, { positionals: true });
  const f = parsed.values;
  if (parsed.positionals.length > 1) throw new UsageError(`one view at a time (got ${parsed.positionals.join(' ')})`);
  const view = (parsed.positionals[0] ?? 'all') as StatsView;
  if (!STATS_VIEWS.includes(view)) throw new UsageError(`unknown view "${view}" (${STATS_VIEWS.join(', ')})`);
  const num = (name: string, v: string | undefined, dflt: number, min: number): number => toNumber(`--${name}`, v, { min }, dflt);
  const overrides: Partial<Record<ServiceName, string>> = {};
  for (const n of ['gateway', 'publisher', 'nats', 'kafka'] as const) if (f[n] !== undefined) overrides[n] = f[n];
  return {
    view,
    endpoints: resolveEndpoints(env, overrides),
    kafkaGroup: f['kafka-group'] ?? env.KAFKA_CONSUMER_GROUP ?? DEFAULT_STATS_KAFKA_GROUP,
    // The gateway lists client addresses only to its admin (a secret: environment only).
    adminToken: env.GATEWAY_ADMIN_TOKEN ?? '',
    watch: f.watch === true,
    intervalMs: num('interval', f.interval, DEFAULT_WATCH_INTERVAL_S, 0.1) * 1000,
    count: Math.floor(num('count', f.count, 0, 0)),
    json: f.json === true,
    help: f.help === true,
  };
}

export async function statsCommand(argv: readonly string[]): Promise<number> {
  let o: StatsOptions;
  try {
    o = parseStatsArgs(argv, process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`odin-ws stats: ${e.message}\n(see odin-ws stats --help)\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(STATS_HELP);
    return EXIT_OK;
  }
  if (!o.watch) {
    const snap = await collectStats(o.view, o.endpoints, o.kafkaGroup, o.adminToken);
    process.stdout.write(o.json ? JSON.stringify(snap, null, 2) + '\n' : renderStats(snap, null));
    return snap.answered ? EXIT_OK : EXIT_FAILURE;
  }
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true && !o.json;
  let prev: StatsSnapshot | null = null;
  let answered = false;
  for (let i = 0; !stop && (o.count === 0 || i < o.count); i++) {
    if (i > 0) await sleepUnless(o.intervalMs, () => stop);
    if (stop) break;
    const snap = await collectStats(o.view, o.endpoints, o.kafkaGroup, o.adminToken);
    answered ||= snap.answered;
    if (o.json) process.stdout.write(JSON.stringify(snap) + '\n');
    else if (tty)
      process.stdout.write('\x1b[2J\x1b[H' + renderWatchFrame(snap, prev, (process.stdout.rows || 24) - 1) + '(Ctrl-C to stop)\n');
    else process.stdout.write('\n' + renderStats(snap, prev));
    prev = snap;
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return answered ? EXIT_OK : EXIT_FAILURE;
}

async function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!stopped() && Date.now() < end) await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())));
}
