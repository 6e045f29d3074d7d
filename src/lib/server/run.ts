/** Running a gateway from its app config: the broker chosen by name, signals for an ordered shutdown. Shared by the gateway and dev apps. */
import type { Broker } from '../core/broker.js';
import { ConfigError } from '../core/options.js';
import type { GatewayAppConfig } from './config.js';
import { startGateway, type RunningGateway } from './server.js';
import type { Logger } from '../core/logger.js';
import { natsBrokerFactory } from './workers.js';
import { NatsSessionRouter } from '../emulation-nats/nats-session-router.js';

/** Hook for brokers other than memory (set by the JetStream package when it is wired). */
export type BrokerFactory = (cfg: GatewayAppConfig, log: Logger) => Promise<Broker>;
const brokerFactories = new Map<string, BrokerFactory>([['nats', natsBrokerFactory]]);
export function registerBrokerFactory(kind: string, f: BrokerFactory): void {
  brokerFactories.set(kind, f);
}

/** Stops `stop` on SIGINT/SIGTERM; a second signal forces exit. */
export function onShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export async function runGateway(cfg: GatewayAppConfig, log: Logger): Promise<RunningGateway> {
  let broker: Broker | undefined;
  if (cfg.broker !== 'memory') {
    const factory = brokerFactories.get(cfg.broker);
    if (!factory) throw new ConfigError(`broker: "${cfg.broker}" is not available in this build`);
    broker = await factory(cfg, log);
  }
  // With NATS, /emulation requests reach the node of their session on any host.
  const router = cfg.broker === 'nats' ? await emulationRouter(cfg, log) : null;
  const running = await startGateway(cfg.gateway, {
    log,
    drainMs: cfg.drainMs,
    dashboard: cfg.dashboard,
    ...(broker ? { broker } : {}),
    ...(router ? { sessionRouter: (nodeId, deliver) => router.bind(nodeId, deliver) } : {}),
  });
  if (!router) return running;
  return {
    ...running,
    close: async () => {
      await running.close();
      await router.close();
    },
  };
}

/** The NATS router for /emulation, or null (a warning: only this node's sessions are served). */
async function emulationRouter(cfg: GatewayAppConfig, log: Logger): Promise<NatsSessionRouter | null> {
  try {
    return await NatsSessionRouter.connect(cfg.natsUrl, `odin-ws-emulation-${process.pid}`);
  } catch (err) {
    log.warn({ err, natsUrl: cfg.natsUrl }, 'emulation routing over NATS unavailable: /emulation serves this node only');
    return null;
  }
}
