/**
 * `maxConnectionsPerUser` across gateway processes on one nats-server (user-connections-kv.ts):
 * the processes together hold at most N connections of a user, the one over it is closed with
 * 3504 on either protocol; a burst of connections of one user spread over both processes
 * admits exactly N (no overshoot); a closed connection frees its slot on the other process; a
 * killed process's connections stop counting after `jetstream.userTtlMs`; with the backbone
 * down, admission falls back to each process's own count (fail open, counted in /metrics).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { TestClient } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const SECRET = 'user-limit-secret-user-limit-secret';
const LIMIT = 2;
const USER_TTL_MS = 2000;

const token = (sub: string): Promise<string> =>
  new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));

describe('maxConnectionsPerUser across gateways on one JetStream', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const gws: GatewayProcess[] = [];
  const open: TestClient[] = [];

  const start = (): Promise<GatewayProcess> =>
    startGatewayProcess({
      natsUrl: nats.url,
      apiKey: 'k',
      env: {
        GATEWAY_TOKEN_SECRET: SECRET,
        GATEWAY_MAX_CONNECTIONS_PER_USER: String(LIMIT),
        NATS_USER_TTL_MS: String(USER_TTL_MS),
        NATS_INGEST: 'false',
      },
    });

  before(async () => {
    nats = await startNatsServer();
    gws.push(...(await Promise.all([start(), start()])));
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    for (const c of open) c.close();
    await nc?.close();
    await Promise.all(gws.map((g) => g.stop()));
    await nats?.stop();
  });

  /** A Centrifugo JSON connection as `user` on `gw`: connected (null), or the close code. */
  async function centrifuge(gw: GatewayProcess, user: string): Promise<{ c: TestClient; closed: number | null }> {
    const c = await TestClient.connect(`${gw.wsUrl}/connection/websocket`);
    open.push(c);
    c.send({ id: 1, connect: { token: await token(user) } });
    const r = await Promise.race([c.next((m) => m.id === 1, 15_000), c.waitClose(15_000).then(() => null)]);
    return { c, closed: r?.connect ? null : (await c.waitClose()).code };
  }

  /** The user's live entries in the bucket (key `<sha256(user)>.<client>`), read by a plain NATS client. */
  async function entries(user: string): Promise<number> {
    const kv = await new Kvm(jetstream(nc)).open('ODIN_WS_users');
    let n = 0;
    for await (const _k of await kv.keys(`${createHash('sha256').update(user).digest('base64url')}.*`)) n++;
    return n;
  }

  const metric = async (gw: GatewayProcess, re: RegExp): Promise<number> => {
    const m = re.exec(await (await fetch(`${gw.url}/metrics`)).text());
    return m ? Number(m[1]) : 0;
  };

  it('two processes hold at most N of a user together; the next is closed with 3504 on either protocol and either process', async () => {
    const [a, b] = [gws[0]!, gws[1]!];
    const user = `ann-${randomBytes(3).toString('hex')}`;
    assert.equal((await centrifuge(a, user)).closed, null);
    const onB = await centrifuge(b, user);
    assert.equal(onB.closed, null);
    assert.equal((await centrifuge(a, user)).closed, 3504);
    assert.equal((await centrifuge(b, user)).closed, 3504);
    const odin = await TestClient.connect(`${a.wsUrl}/ws?token=${await token(user)}`);
    open.push(odin);
    assert.equal((await odin.next((m) => m.type === 'disconnect', 15_000)).code, 3504);
    assert.equal((await odin.waitClose()).code, 3504);
    // Another user is not limited by ann's count.
    assert.equal((await centrifuge(b, `bob-${user}`)).closed, null);
    // A closed connection on B frees its slot for A.
    // The refused connections' entries are deleted once refused.
    await waitFor(async () => (await entries(user)) === LIMIT, 10_000, 'refused entries deleted');
    onB.c.close();
    await waitFor(async () => (await entries(user)) === LIMIT - 1, 10_000, 'entry removed');
    assert.equal((await centrifuge(a, user)).closed, null);
    assert.equal((await centrifuge(b, user)).closed, 3504);
    assert.ok((await metric(a, /ws_capacity_rejections_total\{reason="max_connections_per_user"\} (\d+)/)) >= 2);
    assert.ok((await metric(b, /ws_capacity_rejections_total\{reason="max_connections_per_user"\} (\d+)/)) >= 2);
  });

  it('a burst of 8 connections of one user, alternating between the processes, admits exactly N', async () => {
    const user = `burst-${randomBytes(3).toString('hex')}`;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => centrifuge(gws[i % 2]!, user)));
    const admitted = results.filter((r) => r.closed === null).length;
    assert.equal(admitted, LIMIT, `closes: ${results.map((r) => r.closed).join(',')}`);
    for (const r of results) if (r.closed !== null) assert.equal(r.closed, 3504);
  });

  it("a killed process's connections stop counting after userTtlMs", async () => {
    const [a, b] = [gws[0]!, gws[1]!];
    const user = `crash-${randomBytes(3).toString('hex')}`;
    assert.equal((await centrifuge(b, user)).closed, null);
    assert.equal((await centrifuge(b, user)).closed, null);
    assert.equal((await centrifuge(a, user)).closed, 3504);
    const exited = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (!b.running()) {
          clearInterval(t);
          resolve();
        }
      }, 10);
    });
    process.kill(b.pid, 'SIGKILL'); // the process this test started, by its PID
    await exited;
    // Its entries are not deleted: they expire with the bucket's max_age.
    await waitFor(async () => (await entries(user)) === 0, USER_TTL_MS * 5, "the killed process's entries expire");
    assert.equal((await centrifuge(a, user)).closed, null);
    assert.equal((await centrifuge(a, user)).closed, null);
    assert.equal((await centrifuge(a, user)).closed, 3504);
  });

  it('with NATS down, admission falls back to the process count (fail open), counted', async () => {
    const a = gws[0]!;
    const user = `down-${randomBytes(3).toString('hex')}`;
    const unchecked = await metric(a, /ws_user_limit_unchecked_total (\d+)/);
    await nats.kill();
    await waitFor(async () => (await fetch(`${a.url}/ready`)).status !== 200, 10_000, 'gateway sees NATS down');
    assert.equal((await centrifuge(a, user)).closed, null);
    assert.equal((await centrifuge(a, user)).closed, null);
    // The process's own count still applies.
    assert.equal((await centrifuge(a, user)).closed, 3504);
    assert.equal(await metric(a, /ws_user_limit_unchecked_total (\d+)/), unchecked + 2);
    await nats.restart();
  });
});
