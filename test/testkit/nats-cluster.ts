/**
 * Test-only: routed nats-servers with clustered JetStream (R3 streams need n >= 3), each one the
 * fixture of test/testkit/nats-server.ts: ports picked by the servers, temp store dirs, stopped
 * by PID. The first server is the seed; the others route to it and learn the rest from it.
 */
import { connect } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { waitFor } from './wait.js';

export interface NatsClusterHandle {
  readonly servers: readonly NatsServerHandle[];
  /** All client URLs, as NATS clients accept them. */
  readonly urls: string[];
  stop(): Promise<void>;
}

/** Starts `n` routed nats-servers (JetStream clustered, so R3 streams work with n >= 3). */
export async function startNatsCluster(n: number, name = 'odin-test'): Promise<NatsClusterHandle> {
  const seed = await startNatsServer({ name: `${name}-0`, cluster: { name, routes: [] } });
  const starts: Promise<NatsServerHandle>[] = [];
  for (let i = 1; i < n; i++) starts.push(startNatsServer({ name: `${name}-${i}`, cluster: { name, routes: [seed.clusterPort!] } }));
  const settled = await Promise.allSettled(starts);
  const servers = [seed, ...settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))];
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    throw failed.reason;
  }
  try {
    await waitJetStreamReady(servers.map((s) => s.url));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/**
 * Resolves once JetStream answers API requests through `urls` (a cluster needs a meta leader
 * first, which takes a few seconds after the routes connect).
 */
export async function waitJetStreamReady(urls: readonly string[], timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers: [...urls], reconnect: false });
  const answers = async (): Promise<boolean> => {
    try {
      const r = await nc.request('$JS.API.INFO', undefined, { timeout: 1_000 });
      return r.json<{ error?: unknown }>().error === undefined;
    } catch {
      return false; // not ready yet: no responders or timeout while the meta leader is elected
    }
  };
  try {
    await waitFor(answers, timeoutMs, 'JetStream to answer', { everyMs: 100 });
  } finally {
    await nc.close();
  }
}
