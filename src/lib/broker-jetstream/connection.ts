/**
 * The NATS connection and its watching: connects (or adopts the caller's connection), tracks
 * whether it is up, and tells the broker when it comes back (heads may be stale, the stream
 * may need re-creating, channels must re-read their heads).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BrokerError } from '../core/broker.js';
import type { ResolvedJetStreamOptions } from './options.js';

/**
 * A gateway process's NATS connection, shared by the broker, presence, session routing and
 * ingest (the composition root opens one): reconnects forever with jitter, pings every 5 s.
 * Refused: a BrokerError `unavailable` naming the servers.
 */
export async function connectNats(servers: string | readonly string[], name: string, reconnectWaitMs = 250): Promise<NatsConnection> {
  const list = typeof servers === 'string' ? servers.split(',').map((s) => s.trim()) : [...servers];
  return connect({
    servers: list,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: reconnectWaitMs,
    reconnectJitter: reconnectWaitMs,
    pingInterval: 5_000,
    maxPingOut: 2,
    // Every append is a request; with async traces nats.js builds two Errors (stack
    // captured) per request in case it fails. Failures become BrokerErrors anyway.
    noAsyncTraces: true,
  }).catch((err: unknown) => {
    throw new BrokerError('unavailable', `cannot connect to NATS at ${list.join(',')}`, { cause: err });
  });
}

export class ConnectionWatch {
  nc: NatsConnection | null = null;
  connected = false;

  constructor(
    private readonly o: ResolvedJetStreamOptions,
    private readonly onReconnect: () => void,
    private readonly isClosed: () => boolean,
  ) {}

  async open(): Promise<NatsConnection> {
    const nc = this.o.connection ?? (await connectNats(this.o.servers, this.o.name, this.o.reconnectWaitMs));
    this.nc = nc;
    this.connected = !nc.isClosed();
    void this.watch(nc);
    return nc;
  }

  /** Releases the connection (drained) unless it is the caller's. */
  async close(): Promise<void> {
    this.connected = false;
    const nc = this.nc;
    this.nc = null;
    if (nc && !this.o.connection) await nc.drain().catch(() => nc.close());
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.isClosed()) return;
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          break;
        case 'reconnect':
          this.connected = true;
          this.onReconnect();
          break;
        case 'close':
          this.connected = false;
          return;
        default:
          break;
      }
    }
  }
}
