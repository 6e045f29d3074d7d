/**
 * Test-only: the servers a namespace feature is tried on side by side (test/compat/cadence, delta,
 * latest-value, tags-filter): an in-process gateway on the memory broker, two gateway processes
 * on JetStream (one nats-server) reading the namespaces from a config file, and optionally
 * Centrifugo v6.9.1 with the same namespace (test/testkit/centrifugo-config.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import type { GatewayOptionsInput } from '../../src/lib/core/options.js';
import { startCentrifugo, type CentrifugoHandle } from './centrifugo.js';
import { centrifugoConfig } from './centrifugo-config.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

export interface NamespaceServers {
  /** In-process, memory broker. */
  readonly memory: RunningGateway;
  /** Two gateway processes sharing one JetStream. */
  readonly nodes: readonly GatewayProcess[];
  /** Only when started with a Centrifugo namespace. */
  readonly centrifugo: CentrifugoHandle | null;
  /** Stops everything (also what a failed start had started). Idempotent. */
  stop(): Promise<void>;
}

export interface NamespaceServersOptions {
  readonly apiKey: string;
  readonly namespaces: GatewayOptionsInput['namespaces'];
  /** Prefix of the temp dir holding the nodes' config file. */
  readonly tmpPrefix: string;
  /** The namespace for Centrifugo (`centrifugoConfig`); omitted: no Centrifugo. */
  readonly centrifugoNamespace?: { name: string } & Record<string, unknown>;
}

export async function startNamespaceServers(o: NamespaceServersOptions): Promise<NamespaceServers> {
  let memory: RunningGateway | undefined;
  let centrifugo: CentrifugoHandle | null = null;
  let nats: NatsServerHandle | undefined;
  let dir: string | undefined;
  const nodes: GatewayProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await memory?.close();
      await centrifugo?.stop();
      await Promise.all(nodes.map((n) => n.stop()));
      await nats?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    })());
  try {
    memory = await startGateway({ port: 0, host: '127.0.0.1', apiKey: o.apiKey, namespaces: o.namespaces });
    if (o.centrifugoNamespace) centrifugo = await startCentrifugo(centrifugoConfig(o.apiKey, o.centrifugoNamespace));
    const natsUrl = (nats = await startNatsServer()).url;
    dir = await mkdtemp(join(tmpdir(), o.tmpPrefix));
    const config = join(dir, 'gateway.json');
    await writeFile(config, JSON.stringify({ namespaces: o.namespaces }));
    nodes.push(
      ...(await Promise.all([0, 1].map(() => startGatewayProcess({ natsUrl, apiKey: o.apiKey, extraArgs: ['--config', config] })))),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { memory, nodes, centrifugo, stop };
}

/** The servers of a test file, read inside tests (they start in `before()`). */
export interface NamespaceServersRef {
  readonly memory: RunningGateway;
  readonly nodes: readonly GatewayProcess[];
  /** Throws when the file started no Centrifugo. */
  readonly centrifugo: CentrifugoHandle;
}

/** Call at a test file's top level: starts the servers in its `before()` and stops them in its `after()`. */
export function namespaceServersForFile(o: NamespaceServersOptions): NamespaceServersRef {
  let servers: NamespaceServers | undefined;
  before(async () => {
    servers = await startNamespaceServers(o);
  });
  after(async () => {
    await servers?.stop();
  });
  const started = (): NamespaceServers => {
    if (!servers) throw new Error('namespaceServersForFile: the servers start in the before hook; read them inside tests');
    return servers;
  };
  return {
    get memory() {
      return started().memory;
    },
    get nodes() {
      return started().nodes;
    },
    get centrifugo() {
      const c = started().centrifugo;
      if (!c) throw new Error('namespaceServersForFile: started without a Centrifugo namespace');
      return c;
    },
  };
}
