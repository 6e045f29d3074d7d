/**
 * `startGateway`: the gateway node, its HTTP app and the `ws` transport (the one WebSocket
 * transport, RFC 6455-strict: docs/protocol.md, "Transports"), composed and listening on one
 * port. Each piece is built on its own (core's `Gateway`, `createGatewayApp`, the transport),
 * so tests and other apps can compose them differently.
 */
import type { Registry } from 'prom-client';
import type { Broker } from '../core/broker.js';
import { MemoryBroker } from '../core/broker-memory.js';
import { Gateway } from '../core/gateway.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { WsTransport } from '../transport-ws/ws-transport.js';
import { resolveGatewayServerOptions, type GatewayServerOptions, type GatewayServerOptionsInput } from './config.js';
import { createGatewayApp } from './http-app.js';
import { createMetrics } from './metrics.js';
import { joinProcessGroup } from './process-group.js';
import type { SessionRouterFactory } from '../transport-emulation/emulation.js';
import { Dashboard } from '../dashboard/dashboard.js';
import type { DashboardOptions } from '../dashboard/options.js';
import { withStatsNamespace } from '../dashboard/stats-channel.js';

export { MAX_API_BODY_BYTES, WS_PATHS, statsOf } from './http-app.js';

/** How often shutdown checks whether every client has gone, ms. */
const DRAIN_POLL_MS = 20;

export interface StartGatewayDeps {
  readonly broker?: Broker;
  readonly log?: Logger;
  /** Time to receive an API request body, ms (408 after). Default 8000. */
  readonly bodyTimeoutMs?: number;
  /** Time to receive a request's headers (a half-sent handshake is cut after it), ms. Default 10000. */
  readonly headersTimeoutMs?: number;
  /**
   * At shutdown, after clients are told to reconnect, the port keeps answering (503 on /ready
   * and on upgrades, so a load balancer takes the node out) until every connection has closed
   * and at least this long, ms; always within shutdownTimeoutMs. Default 0.
   */
  readonly drainMs?: number;
  /** Serve /dashboard and publish the stats channel (docs/dashboard.md). Default: off. */
  readonly dashboard?: DashboardOptions;
  /** Routes `/emulation` requests to other nodes' sessions (see GatewayAppOptions.sessionRouter). */
  readonly sessionRouter?: SessionRouterFactory;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly options: GatewayServerOptions;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  readonly registry: Registry;
  /**
   * Adds a readiness condition beside the broker's (an ingest's connection): `check` returns
   * why the gateway is not ready, or null. /ready answers 503 with the reasons; /health lists them.
   */
  addReadinessCheck(name: string, check: () => string | null): void;
  readonly dashboard: Dashboard | null;
  /** Graceful shutdown: not ready, clients told to reconnect, broker closed, listener closed. Idempotent. */
  close(): Promise<void>;
}

/** Builds the gateway, its HTTP app and transport, and listens. */
export async function startGateway(
  input: GatewayServerOptionsInput | GatewayServerOptions = {},
  deps: StartGatewayDeps = {},
): Promise<RunningGateway> {
  const options = deps.dashboard?.enabled ? withStatsNamespace(input) : resolveGatewayServerOptions(input);
  const log = deps.log ?? silentLogger;
  const transport = new WsTransport({
    maxPayload: options.maxMessageBytes,
    permessageDeflate: options.permessageDeflate,
    ...(deps.headersTimeoutMs !== undefined ? { headersTimeoutMs: deps.headersTimeoutMs } : {}),
  });
  const broker =
    deps.broker ?? new MemoryBroker({ maxChannels: options.limits.maxChannels, maxHistoryBytes: options.limits.maxHistoryBytes });
  const gateway = new Gateway(options, { broker, transport, log });
  const registry = createMetrics(gateway);
  await gateway.start();
  const readinessChecks = new Map<string, () => string | null>();
  const dashboard = deps.dashboard?.enabled ? new Dashboard(gateway, deps.dashboard, log) : null;
  dashboard?.start();
  const app = createGatewayApp(gateway, registry, {
    apiKey: options.apiKey,
    group: joinProcessGroup(gateway, registry),
    log,
    readinessChecks,
    ...(dashboard ? { dashboard } : {}),
    ...(deps.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: deps.bodyTimeoutMs } : {}),
    ...(deps.sessionRouter ? { sessionRouter: deps.sessionRouter } : {}),
  });
  const port = await transport.listen(options.host, options.port, app);
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  let closing: Promise<void> | null = null;
  return {
    gateway,
    options,
    port,
    url: `http://${host}:${port}`,
    registry,
    addReadinessCheck(name, check) {
      readinessChecks.set(name, check);
    },
    dashboard,
    close() {
      // Ordered: not ready and refusing upgrades (503) while the port still answers, clients
      // told to reconnect, broker closed, the clients' closing handshakes awaited (within
      // shutdownTimeoutMs); only then the listener and what is left.
      closing ??= (async () => {
        dashboard?.close();
        const start = Date.now();
        const deadline = start + options.shutdownTimeoutMs;
        const drainedAt = start + Math.min(deps.drainMs ?? 0, options.shutdownTimeoutMs);
        await gateway.shutdown();
        while ((transport.openConnections > 0 || Date.now() < drainedAt) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
        await transport.close();
        gateway.stats.onBroadcastLatency = null;
      })();
      return closing;
    },
  };
}
