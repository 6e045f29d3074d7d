/**
 * Test-only: the unit tests' gateway — core's Gateway on the fake transport (no sockets) and a
 * memory broker (or one given), started, with `connect()` that returns the connection or throws
 * when the gateway refuses it.
 */
import type { Broker } from '../../src/lib/core/broker.js';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import type { Clock } from '../../src/lib/core/clock.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { resolveGatewayOptions, type GatewayOptionsInput } from '../../src/lib/core/options.js';
import type { ConnectionInfo } from '../../src/lib/core/transport.js';
import { FakeConnection, FakeTransport } from './fake-transport.js';

export interface FakeGateway<B extends Broker> {
  readonly gw: Gateway;
  readonly broker: B;
  readonly transport: FakeTransport;
  /** A protocol name or connection info (default: odin from 127.0.0.1); throws `rejected: <reason>`. */
  connect(info?: ConnectionInfo['protocol'] | Partial<ConnectionInfo>): FakeConnection;
}

export async function startFakeGateway(input: GatewayOptionsInput, clock: Clock): Promise<FakeGateway<MemoryBroker>>;
export async function startFakeGateway<B extends Broker>(input: GatewayOptionsInput, clock: Clock, broker: B): Promise<FakeGateway<B>>;
export async function startFakeGateway(
  input: GatewayOptionsInput,
  clock: Clock,
  broker: Broker = new MemoryBroker({ clock }),
): Promise<FakeGateway<Broker>> {
  const transport = new FakeTransport();
  const gw = new Gateway(resolveGatewayOptions(input), { broker, transport, clock });
  await gw.start();
  const connect = (info: ConnectionInfo['protocol'] | Partial<ConnectionInfo> = {}): FakeConnection => {
    const c = transport.connect(gw, typeof info === 'string' ? { protocol: info } : info);
    if (!(c instanceof FakeConnection)) throw new Error(`rejected: ${c.reason}`);
    return c;
  };
  return { gw, broker, transport, connect };
}
