/**
 * Core's side of a cluster-wide `maxConnectionsPerUser` (core/broker.ts UserConnectionRegistry),
 * through the fake transport and a memory broker that answers claims as the test says: 'over'
 * closes with 3504 and releases the entry; 'unavailable' admits (fail open) and counts; a
 * connection closed while its claim is in flight releases its entry and is never started; an
 * admitted connection releases its entry when it closes; anonymous ones never claim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import type { UserClaim, UserConnectionRegistry } from '../../src/lib/core/broker.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { JwtVerifier } from '../../src/lib/core/auth.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { resolveGatewayOptions } from '../../src/lib/core/options.js';
import { FakeConnection, FakeTransport } from '../testkit/fake-transport.js';
import type { ConnectionInfo } from '../../src/lib/core/transport.js';
import { waitFor } from '../testkit/wait.js';

const SECRET = 'registry-secret-registry-secret-registry';

class RegistryBroker extends MemoryBroker implements UserConnectionRegistry {
  readonly claims: { user: string; client: string; limit: number; answer: (c: UserClaim) => void }[] = [];
  readonly released: string[] = [];
  claimUserConnection(user: string, client: string, limit: number): Promise<UserClaim> {
    return new Promise((answer) => this.claims.push({ user, client, limit, answer }));
  }
  releaseUserConnection(user: string, client: string): void {
    this.released.push(`${user}/${client}`);
  }
}

const token = (sub: string): Promise<string> =>
  new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));

/** Core's Gateway on the fake transport with a real JWT verifier and the registry broker. */
async function setup() {
  const broker = new RegistryBroker({ clock: systemClock });
  const transport = new FakeTransport();
  const gw = new Gateway(resolveGatewayOptions({ tokenHmacSecret: SECRET, maxConnectionsPerUser: 2 }), {
    broker,
    transport,
    clock: systemClock,
    verifier: new JwtVerifier({ hmacSecret: SECRET, now: () => systemClock.now() }),
  });
  await gw.start();
  const connect = (info: ConnectionInfo['protocol'] | Partial<ConnectionInfo>): FakeConnection => {
    const c = transport.connect(gw, typeof info === 'string' ? { protocol: info } : info);
    if (!(c instanceof FakeConnection)) throw new Error(`rejected: ${c.reason}`);
    return c;
  };
  return { gw, broker, connect };
}

test("registry 'over': closed with 3504, its entry released, counted", async () => {
  const { gw, broker, connect } = await setup();
  const c = connect('centrifuge');
  c.send({ id: 1, connect: { token: await token('ann') } });
  await waitFor(() => broker.claims.length === 1, 2000, 'claim');
  const claim = broker.claims[0]!;
  assert.deepEqual([claim.user, claim.limit], ['ann', 2]);
  claim.answer('over');
  await waitFor(() => c.closed !== null, 2000, 'close');
  assert.equal(c.closed!.code, 3504);
  assert.deepEqual(broker.released, [`ann/${claim.client}`]);
  assert.equal(gw.stats.rejected.max_connections_per_user, 1);
  await gw.shutdown();
});

test("registry 'unavailable': admitted on the process count (fail open), counted; released at close", async () => {
  const { gw, broker, connect } = await setup();
  const c = connect('centrifuge');
  c.send({ id: 1, connect: { token: await token('bob') } });
  await waitFor(() => broker.claims.length === 1, 2000, 'claim');
  broker.claims[0]!.answer('unavailable');
  await waitFor(() => c.messages().some((m) => m.id === 1), 2000, 'connect reply');
  assert.ok(c.messages().find((m) => m.id === 1)!.connect);
  assert.equal(gw.stats.userLimitUnchecked, 1);
  c.terminate();
  assert.deepEqual(broker.released, [`bob/${broker.claims[0]!.client}`]);
  await gw.shutdown();
});

test('claims in flight hold their slot on this process: the third is refused without asking the registry', async () => {
  const { gw, broker, connect } = await setup();
  const cs = [connect('centrifuge'), connect('centrifuge')];
  for (const c of cs) c.send({ id: 1, connect: { token: await token('cat') } });
  await waitFor(() => broker.claims.length === 2, 2000, 'two claims');
  const odin = connect({ protocol: 'odin', token: await token('cat') });
  await waitFor(() => odin.closed !== null, 2000, 'odin closed');
  assert.equal(odin.closed!.code, 3504);
  assert.equal(broker.claims.length, 2);
  await gw.shutdown();
});

test('closed while its claim is in flight: never started, its entry released; anonymous never claims', async () => {
  const { gw, broker, connect } = await setup();
  const c = connect({ protocol: 'odin', token: await token('dan') });
  await waitFor(() => broker.claims.length === 1, 2000, 'claim');
  c.terminate();
  broker.claims[0]!.answer('admitted');
  await waitFor(() => broker.released.length === 1, 2000, 'released');
  assert.deepEqual(broker.released, [`dan/${broker.claims[0]!.client}`]);
  assert.equal(gw.stats.rejected.max_connections_per_user, 0);
  const anon = connect('centrifuge');
  anon.send({ id: 1, connect: {} });
  await waitFor(() => anon.messages().some((m) => m.id === 1), 2000, 'anonymous reply');
  assert.equal(broker.claims.length, 1);
  await gw.shutdown();
});
