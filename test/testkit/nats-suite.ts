/**
 * Test-only: the NATS set-up a suite shares — one nats-server (nats-server.ts) and one client
 * connection to it, started in `before()` and closed in `after()` of the calling `describe`.
 * Hooks registered before the call run their `after()` first (node:test runs them in order), so a
 * gateway that uses the server is stopped before the server is.
 */
import { after, before } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

export interface NatsSuite {
  /** The server; throws before `before()` has run. */
  readonly server: NatsServerHandle;
  /** `server.url` */
  readonly url: string;
  /** A client connection for the tests (publish, subscribe, flush). */
  readonly nc: NatsConnection;
}

/** Call inside `describe`: a nats-server and a connection to it for every test of the suite. */
export function natsSuite(): NatsSuite {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  before(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('natsSuite: used before its before() hook ran');
    return v;
  };
  return {
    get server() {
      return started(server);
    },
    get url() {
      return started(server).url;
    },
    get nc() {
      return started(nc);
    },
  };
}
