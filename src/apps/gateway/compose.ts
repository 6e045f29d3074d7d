/**
 * The composition root of a gateway process: every part built once, here, in order — the one
 * NATS connection (shared by the JetStream broker, its presence, /emulation routing and the NATS
 * ingest), the broker, the presence store, the transport, core's Gateway, metrics, readiness,
 * the dashboard, the HTTP app, the listener, then the ingests — and `close()` stopping them in
 * the reverse order. `odin-ws gateway` and `odin-ws dev` both run this; tests call
 * `startGateway` (options in, the same root) with parts of their own injected.
 *
 * What only some processes use is imported when it is built (`await import`), not at start: the
 * NATS client and JetStream broker, the NATS and Kafka ingests (the Kafka client alone is ~45 MiB
 * of RSS), the HTTP proxy, jose for a JWKS key set (core loads it at the first token). A gateway on the embedded broker loads none of them
 * (docs/performance.md "Fixed costs").
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Broker } from '../../lib/core/broker.js';
import { isPresenceProvider } from '../../lib/core/broker.js';
import { MemoryBroker } from '../../lib/core/broker-memory.js';
import { Gateway } from '../../lib/core/gateway.js';
import { JwtVerifier } from '../../lib/core/auth.js';
import { MemoryPresence } from '../../lib/core/presence.js';
import type { Ingest, IngestSink } from '../../lib/core/ingest.js';
import { FeedLagWatch } from '../../lib/core/feed-lag.js';
import { silentLogger, type Logger } from '../../lib/core/logger.js';
import { systemClock } from '../../lib/runtime/clock.js';
import type { HttpRequest } from '../../lib/core/transport.js';
import { CodedError, isRetryable } from '../../lib/protocol/codes.js';
import { WsTransport } from '../../lib/transport-ws/ws-transport.js';
import { createGatewayApp } from '../../lib/server/http-app.js';
import { addIngestMetrics, createMetrics } from '../../lib/server/metrics.js';
import { joinProcessGroup } from '../../lib/server/process-group.js';
import type { SessionRouterFactory } from '../../lib/transport-emulation/emulation.js';
import { Dashboard } from '../../lib/dashboard/dashboard.js';
import { ingestHealth } from '../../lib/dashboard/stats-producer.js';
import { resolveDashboardOptions, type DashboardOptions } from '../../lib/dashboard/options.js';
import { withStatsNamespace } from '../../lib/dashboard/stats-channel.js';
import { ConfigError, hasSubscriptionKeys, type GatewayOptions, type SubscriptionTokenKeys } from '../../lib/core/options.js';
import type { KafkaIngest } from '../../lib/kafka/ingest.js';
import { resolveGatewayServerOptions, type GatewayConfig, type GatewayServerOptions, type GatewayServerOptionsInput } from './options.js';
import { DEFAULT_DRAIN_MS, DEFAULT_NATS_URL } from './options-schema.js';

/** How often shutdown checks whether every client has gone, ms. */
const DRAIN_POLL_MS = 20;
/** The CLI (dist/src/cli.js) the console's load tests run as `node <it> loadtest …`. */
const CLI_ENTRY = fileURLToPath(new URL('../../cli.js', import.meta.url));

/** Parts a caller may bring instead of the ones the root would build (tests, benchmarks). */
export interface GatewayParts {
  readonly broker?: Broker;
  readonly log?: Logger;
  /** Time to receive an API request body, ms (408 after). Default 8000. */
  readonly bodyTimeoutMs?: number;
  /** Time to receive a request's headers (a half-sent handshake is cut after it), ms. Default 10000. */
  readonly headersTimeoutMs?: number;
  /** Routes `/emulation` requests to other nodes' sessions; default: over the NATS connection with --broker nats. */
  readonly sessionRouter?: SessionRouterFactory;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly options: GatewayServerOptions;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  readonly registry: Registry;
  readonly dashboard: Dashboard | null;
  readonly ingests: readonly Ingest[];
  /**
   * Adds a readiness condition beside the broker's: `check` returns why the gateway is not
   * ready, or null. /ready answers 503 with the reasons; /health lists them.
   */
  addReadinessCheck(name: string, check: () => string | null): void;
  /** Graceful shutdown, the reverse of the build: ingests, dashboard, clients told to reconnect and drained, broker, listener, NATS. Idempotent. */
  close(): Promise<void>;
}

/** Builds a gateway process from its config, listens, starts its ingests. */
export async function composeGateway(cfg: GatewayConfig, parts: GatewayParts = {}): Promise<RunningGateway> {
  const log = parts.log ?? silentLogger;
  const options = cfg.gateway;
  const name = `odin-ws-gateway-${process.pid}`;
  // 1. The one NATS connection, when anything of this process speaks NATS.
  const needsNats = (cfg.broker === 'nats' && parts.broker === undefined) || cfg.ingest.includes('nats');
  const nats: NatsConnection | null = needsNats
    ? await (await import('../../lib/broker-jetstream/connection.js')).connectNats(cfg.natsUrl, name)
    : null;
  const closeNats = async (): Promise<void> => {
    if (nats && !nats.isClosed()) await nats.drain().catch(() => nats.close());
  };
  try {
    // 2. Broker and presence: JetStream with its KV presence shared by every node, or one process's memory.
    let broker: Broker;
    if (parts.broker) broker = parts.broker;
    else if (cfg.broker === 'nats') {
      const js = cfg.jetstream;
      const { JetStreamBroker } = await import('../../lib/broker-jetstream/jetstream-broker.js');
      broker = new JetStreamBroker({
        connection: nats!,
        servers: cfg.natsUrl,
        name,
        historySize: js.historySize,
        historyTtlMs: js.maxAgeMs,
        ...(js.stream !== undefined ? { stream: js.stream } : {}),
        ...(js.replicas !== undefined ? { replicas: js.replicas } : {}),
        ...(js.maxMessages !== undefined ? { maxMessages: js.maxMessages } : {}),
        ...(js.maxBytes !== undefined ? { maxBytes: js.maxBytes } : {}),
        ...(js.duplicateWindowMs !== undefined ? { duplicateWindowMs: js.duplicateWindowMs } : {}),
        ...(js.storage !== undefined ? { storage: js.storage } : {}),
        ...(js.presenceTtlMs !== undefined ? { presenceTtlMs: js.presenceTtlMs } : {}),
        ...(js.userTtlMs !== undefined ? { userTtlMs: js.userTtlMs } : {}),
      });
      log.info({ natsUrl: cfg.natsUrl, historySize: js.historySize, historyTtlMs: js.maxAgeMs }, 'using the JetStream broker');
    } else
      broker = new MemoryBroker({
        clock: systemClock,
        maxChannels: options.limits.maxChannels,
        maxHistoryBytes: options.limits.maxHistoryBytes,
      });
    const presence = isPresenceProvider(broker) ? broker.presence : new MemoryPresence();
    // 3. Session routing for /emulation across nodes (NATS), the transport, core.
    const router =
      cfg.broker === 'nats' && nats ? new (await import('../../lib/emulation-nats/nats-session-router.js')).NatsSessionRouter(nats) : null;
    const sessionRouter: SessionRouterFactory | undefined =
      parts.sessionRouter ?? (router ? (id, deliver) => router.bind(id, deliver) : undefined);
    const transport = new WsTransport({
      maxPayload: options.maxMessageBytes,
      permessageDeflate: options.permessageDeflate,
      ...(parts.headersTimeoutMs !== undefined ? { headersTimeoutMs: parts.headersTimeoutMs } : {}),
    });
    const verifier = await jwtVerifierOf(
      {
        hmacSecret: options.tokenHmacSecret,
        publicKey: options.tokenPublicKey,
        jwksUrl: options.tokenJwksUrl,
        audience: options.tokenAudience,
        audienceRegex: options.tokenAudienceRegex,
        issuer: options.tokenIssuer,
        issuerRegex: options.tokenIssuerRegex,
      },
      options,
    );
    // Subscription-token keys of their own (Centrifugo's client.subscription_token), global and per namespace.
    const byNamespace = new Map<string, JwtVerifier>();
    for (const ns of options.namespaces)
      if (hasSubscriptionKeys(ns.subscriptionToken)) byNamespace.set(ns.name, await jwtVerifierOf(ns.subscriptionToken, options));
    const subscriptionVerifiers = {
      global: hasSubscriptionKeys(options.subscriptionToken) ? await jwtVerifierOf(options.subscriptionToken, options) : null,
      byNamespace,
    };
    // The application's backend: Centrifugo's HTTP proxies, when any URL is set.
    const p = options.proxy;
    const proxy = [p.connect, p.subscribe, p.publish, p.refresh].some((e) => e.url !== '')
      ? new (await import('../../lib/proxy-http/http-proxy.js')).HttpProxy(p)
      : null;
    const gateway = new Gateway(options, {
      broker,
      transport,
      log,
      clock: systemClock,
      presence,
      verifier: verifier.configured ? verifier : null,
      subscriptionVerifiers,
      proxy,
    });
    // 4. Metrics, then the broker (gateway.start), readiness, dashboard, the HTTP app, the listener.
    const registry = createMetrics(gateway);
    await gateway.start();
    const readinessChecks = new Map<string, () => string | null>();
    const dashboard = cfg.dashboard.enabled ? new Dashboard(gateway, cfg.dashboard, log) : null;
    dashboard?.start();
    const app = createGatewayApp(gateway, registry, {
      apiKey: options.apiKey,
      group: joinProcessGroup(gateway, registry),
      log,
      readinessChecks,
      ...(dashboard ? { mounts: [dashboard.mount], isAdmin: (req: HttpRequest) => dashboard.admits(req) } : {}),
      ...(parts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: parts.bodyTimeoutMs } : {}),
      ...(sessionRouter ? { sessionRouter } : {}),
    });
    const port = await transport.listen(options.host, options.port, app);
    const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
    const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    dashboard?.setLoadtestTarget({
      wsUrl: `ws://${hostPort}/ws`,
      httpUrl: `http://${hostPort}`,
      apiKey: options.apiKey,
      command: [process.execPath, CLI_ENTRY],
    });

    let closing: Promise<void> | null = null;
    const ingests: Ingest[] = [];
    let lagWatch: FeedLagWatch | null = null;
    const close = (): Promise<void> => {
      // Not ready at once (503 on /ready and on upgrades), before anything is awaited.
      gateway.drain();
      closing ??= (async () => {
        lagWatch?.stop();
        for (const i of [...ingests].reverse()) await i.stop().catch((err: unknown) => log.warn({ err }, 'ingest stop failed'));
        await dashboard?.close();
        // Not ready and refusing upgrades (503) while the port still answers, clients told to
        // reconnect, the broker closed (gateway.shutdown), the clients' closing handshakes
        // awaited within shutdownTimeoutMs; only then the listener, the router and NATS.
        const start = Date.now();
        const deadline = start + options.shutdownTimeoutMs;
        const drainedAt = start + Math.min(cfg.drainMs, options.shutdownTimeoutMs);
        await gateway.shutdown();
        while ((transport.openConnections > 0 || Date.now() < drainedAt) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
        await transport.close();
        gateway.stats.onBroadcastLatency = null;
        await router?.close();
        await closeNats();
      })();
      return closing;
    };
    const running: RunningGateway = {
      gateway,
      options,
      port,
      url: `http://${host}:${port}`,
      registry,
      dashboard,
      ingests,
      addReadinessCheck: (n, check) => void readinessChecks.set(n, check),
      close,
    };
    // 5. The ingests, each publishing through the gateway (namespaces and the broker's order apply).
    try {
      for (const kind of cfg.ingest) {
        const ingest = await buildIngest(kind, cfg, running, nats, log);
        await ingest.start();
        ingests.push(ingest);
        dashboard?.addHealth(`ingest-${kind}`, ingestHealth(ingest));
        log.info({ ingest: kind, broker: cfg.broker, reading: ingest.health().reading }, 'ingest started');
      }
    } catch (err) {
      await close();
      throw err;
    }
    if (ingests.length > 0) addIngestMetrics(registry, () => ingests.map((i) => i.health()));
    // 6. Feed staleness: an ingest's lag past the threshold makes the channels it feeds stale.
    if (cfg.ingestStaleAfterMs > 0 && ingests.length > 0) {
      const feeds = ingests.map((i) => ({ id: i.kind, lagMs: () => i.health().lagMs }));
      lagWatch = new FeedLagWatch(systemClock, cfg.ingestStaleAfterMs, feeds, gateway.hub);
      lagWatch.start();
    }
    return running;
  } catch (err) {
    await closeNats();
    throw err;
  }
}

/**
 * Publications of a feed go through the gateway's publish. With `ingestStaleAfterMs`, each is
 * first noted as the feed's (`kind`) on the hub: the channels a lagging feed makes stale.
 */
function ingestSink(gw: Gateway, kind: string, watched: boolean): IngestSink {
  return {
    publish: (channel, data, opts) => {
      if (watched) gw.hub.noteFeed(kind, channel);
      return gw.api.publish({
        channel,
        data,
        ...(opts?.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(opts?.tags !== undefined ? { tags: opts.tags } : {}),
        ...(opts?.source !== undefined ? { source: opts.source } : {}),
      });
    },
  };
}

async function buildIngest(
  kind: string,
  cfg: GatewayConfig,
  gw: RunningGateway,
  nats: NatsConnection | null,
  log: Logger,
): Promise<Ingest> {
  const sink = ingestSink(gw.gateway, kind, cfg.ingestStaleAfterMs > 0);
  let failures = 0;
  const onError = (err: unknown, channel: string): void => {
    if (failures++ % 1000 === 0) log.warn({ err, channel, failures, ingest: kind }, 'ingest: publication failed');
  };
  if (kind === 'nats') {
    const ing = cfg.jetstream.ingest;
    const { NatsIngest } = await import('../../lib/ingest-nats/nats-ingest.js');
    return new NatsIngest({
      connection: nats!,
      clock: systemClock,
      ...(ing.rules !== undefined ? { rules: ing.rules } : {}),
      ...(ing.queue !== undefined ? { queue: ing.queue } : {}),
      // Gateways sharing a broker share the feed: one reads it at a time (ingest-nats/lease.ts).
      ...(cfg.broker !== 'memory' && ing.queue === undefined && ing.lease !== false
        ? { lease: { ...(ing.leaseTtlMs !== undefined ? { ttlMs: ing.leaseTtlMs } : {}) } }
        : {}),
      broker: sink,
      onError,
    });
  }
  if (kind === 'kafka') {
    const k = cfg.kafka;
    if (!k) throw new ConfigError('ingest: kafka needs the kafka options');
    const [{ KafkaIngest }, { kafkaConnection }, { registerKafkaMetrics }] = await Promise.all([
      import('../../lib/kafka/ingest.js'),
      import('../../lib/kafka/config.js'),
      import('../../lib/kafka/metrics.js'),
    ]);
    let ingest: KafkaIngest | null = null;
    const onLatency = registerKafkaMetrics(gw.registry, () => ingest);
    ingest = new KafkaIngest(
      {
        connection: kafkaConnection(k, `odin-ws-gateway-${gw.gateway.nodeId}`),
        groupId: k.group,
        mode: k.mode,
        start: k.start,
        ...(k.rules ? { rules: k.rules } : {}),
        maxRecordBytes: k.maxRecordBytes,
        publish: (channel, data, opts) => sink.publish(channel, data, opts),
        // A refusal retrying cannot change (unknown channel, bad request) skips the record; a temporary one or an internal failure is retried.
        isPermanent: (err) => err instanceof CodedError && !isRetryable(err),
        log,
        onLatency,
      },
      `${hostname()}-${gw.port}`,
    );
    gw.addReadinessCheck('kafka', () => ingest?.readiness() ?? null);
    log.info({ brokers: k.brokers, group: ingest.group, mode: k.mode, start: k.start }, 'kafka ingest configured');
    return ingest;
  }
  throw new ConfigError(`ingest: "${kind}" is not available in this build`);
}

/**
 * The same root from options alone (tests and benchmarks): a memory broker unless one is
 * given, no ingest, the dashboard when `dashboard.enabled`, drain `drainMs` (default 0 here).
 */
export async function startGateway(
  input: GatewayServerOptionsInput | GatewayServerOptions = {},
  deps: GatewayParts & { readonly drainMs?: number; readonly dashboard?: DashboardOptions } = {},
): Promise<RunningGateway> {
  const dashboard = deps.dashboard ?? resolveDashboardOptions({ enabled: false });
  const options = resolveGatewayServerOptions(dashboard.enabled ? withStatsNamespace(input) : input);
  const cfg: GatewayConfig = {
    gateway: options,
    broker: 'memory',
    natsUrl: DEFAULT_NATS_URL,
    workers: 1,
    drainMs: deps.drainMs ?? 0,
    ingest: [],
    ingestStaleAfterMs: 0,
    jetstream: { ingest: {}, historySize: 1, maxAgeMs: 1_000 },
    kafka: null,
    dashboard,
    help: false,
  };
  return composeGateway(cfg, deps);
}

export { DEFAULT_DRAIN_MS };

/**
 * A JWT verifier for one key set. An identity provider's keys (JWKS): jose fetches them lazily,
 * caches them, fetches again for an unknown kid at most once per cooldown, and gives up on a
 * fetch after the timeout.
 */
async function jwtVerifierOf(keys: SubscriptionTokenKeys, o: GatewayOptions): Promise<JwtVerifier> {
  // An identity provider's keys (JWKS): jose (loaded only then) fetches them lazily, caches them,
  // fetches again for an unknown kid at most once per cooldown, and gives up on a fetch after the timeout.
  const keySet =
    keys.jwksUrl !== ''
      ? (await import('jose')).createRemoteJWKSet(new URL(keys.jwksUrl), {
          timeoutDuration: o.tokenJwksTimeoutMs,
          cooldownDuration: o.tokenJwksCooldownMs,
        })
      : undefined;
  return new JwtVerifier({
    hmacSecret: keys.hmacSecret,
    publicKeyPem: keys.publicKey,
    ...(keySet ? { keySet } : {}),
    audience: keys.audience,
    audienceRegex: keys.audienceRegex,
    issuer: keys.issuer,
    issuerRegex: keys.issuerRegex,
    now: () => systemClock.now(),
  });
}
