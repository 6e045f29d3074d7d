/**
 * The reserved channels the dashboard reads over the gateway's own WebSocket: every gateway
 * process publishes its stats row to `_odin.stats` about once a second, and `odin-ws loadtest
 * --report-to` publishes its progress to `_odin.loadtest`. They go through the broker like any
 * publication, so a page connected to one worker or node sees the rows of all of them. Their
 * names are wire names (protocol/addresses.ts), so the load tester needs nothing from here.
 */
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../core/options.js';
import { RESERVED_NAMESPACE } from '../protocol/addresses.js';

/** Publications kept per reserved channel: a minute of rows for a page that just opened. */
export const STATS_HISTORY_SIZE = 60;
export const STATS_HISTORY_TTL_MS = 120_000;

/**
 * Anyone may read these channels (they hold what /stats shows); no client may publish to them.
 * The loadtest channel is written through the server API, which needs the API key.
 */
/** As config input: options added later get their defaults. */
type NamespaceInput = NonNullable<GatewayOptionsInput['namespaces']>[number];

export const STATS_NAMESPACE: NamespaceInput = Object.freeze({
  name: RESERVED_NAMESPACE,
  pattern: `${RESERVED_NAMESPACE}\\.(stats|loadtest)`,
  subscribe: 'anonymous',
  userChannel: false,
  publish: false,
  historySize: STATS_HISTORY_SIZE,
  historyTtlMs: STATS_HISTORY_TTL_MS,
  recovery: true,
  recoveryMax: STATS_HISTORY_SIZE,
  presence: false,
});

/**
 * Options input with the reserved namespace first (so no user pattern can shadow it); without
 * `namespaces` the defaults get it. Input that is not a list is left for validation to report.
 */
export function withStatsNamespace<T extends { readonly namespaces?: unknown }>(input: T): T {
  const nss = input.namespaces ?? DEFAULT_NAMESPACES;
  if (!Array.isArray(nss) || nss.some((n: { name?: unknown }) => n?.name === STATS_NAMESPACE.name)) return input;
  return { ...input, namespaces: [{ ...STATS_NAMESPACE }, ...nss.map((n: object) => ({ ...n }))] };
}
