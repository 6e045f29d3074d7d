/**
 * `/emulation` across gateway hosts, over NATS (the JetStream broker's servers): each node
 * answers requests on `odin-ws.emulation.<node id>` by handing them to its own session, and a
 * node that gets an emulation request naming another node forwards it there with a NATS
 * request. So a load balancer needs no affinity for the HTTP-streaming and SSE transports.
 *
 * Its own small connection (not the broker's): the broker's connection belongs to the broker,
 * and routing must not depend on which broker implementation is configured.
 */
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { DeliveryResult, EmulationDelivery, SessionRouter } from '../transport-emulation/emulation.js';

export const EMULATION_SUBJECT_PREFIX = 'odin-ws.emulation';
/** How long a forwarded request waits for the session's node, ms (then 404: the SDK reconnects). */
export const DEFAULT_ROUTE_TIMEOUT_MS = 5_000;
/** Node ids this router can address (ours are 8 hex digits); others are unknown, never a subject. */
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const RESULTS: readonly DeliveryResult[] = ['delivered', 'unknown_session', 'wrong_protocol'];

interface Wire {
  session: string;
  node: string;
  /** base64 */
  data: string;
  protobuf: boolean;
}

function decode(m: Msg): EmulationDelivery | null {
  try {
    const w = m.json<Wire>();
    if (typeof w.session !== 'string' || typeof w.node !== 'string' || typeof w.data !== 'string' || typeof w.protobuf !== 'boolean')
      return null;
    return { session: w.session, node: w.node, data: Buffer.from(w.data, 'base64'), protobuf: w.protobuf };
  } catch {
    return null;
  }
}

export class NatsSessionRouter implements SessionRouter {
  private sub: Subscription | null = null;

  /** Routes over `nc`; `ownsConnection`: close() drains it (else only this router's subscription ends). */
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = DEFAULT_ROUTE_TIMEOUT_MS,
    private readonly ownsConnection = false,
  ) {}

  /** Connects; the router serves nothing until `bind`. */
  static async connect(
    servers: string | readonly string[],
    name: string,
    timeoutMs = DEFAULT_ROUTE_TIMEOUT_MS,
  ): Promise<NatsSessionRouter> {
    const nc = await connect({ servers: typeof servers === 'string' ? servers : [...servers], name, maxReconnectAttempts: -1 });
    return new NatsSessionRouter(nc, timeoutMs, true);
  }

  /** Serves this node's subject with `deliverLocal`; returns the router (itself). Once. */
  bind(nodeId: string, deliverLocal: (d: EmulationDelivery) => DeliveryResult): SessionRouter {
    if (this.sub !== null) throw new Error('NatsSessionRouter: bound twice');
    this.sub = this.nc.subscribe(`${EMULATION_SUBJECT_PREFIX}.${nodeId}`, {
      callback: (err, m) => {
        if (err) return;
        const d = decode(m);
        m.respond(d === null ? 'unknown_session' : deliverLocal(d));
      },
    });
    return this;
  }

  async forward(d: EmulationDelivery): Promise<DeliveryResult> {
    if (!NODE_ID.test(d.node) || this.nc.isClosed()) return 'unknown_session';
    const wire: Wire = { session: d.session, node: d.node, data: d.data.toString('base64'), protobuf: d.protobuf };
    try {
      // No node with that id (no responders), or none in time: the session is not reachable.
      const r = (
        await this.nc.request(`${EMULATION_SUBJECT_PREFIX}.${d.node}`, JSON.stringify(wire), { timeout: this.timeoutMs })
      ).string();
      return RESULTS.includes(r as DeliveryResult) ? (r as DeliveryResult) : 'unknown_session';
    } catch {
      return 'unknown_session';
    }
  }

  /** Stops serving and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (!this.nc.isClosed()) this.sub?.unsubscribe();
    this.sub = null;
    if (this.nc.isClosed() || !this.ownsConnection) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
