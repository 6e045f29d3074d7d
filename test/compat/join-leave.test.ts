/**
 * Join and leave pushes where a namespace enables them (`joinLeave: true`), to JSON and
 * protobuf clients alike (the official JS SDK, both builds); none where it does not.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge, type JoinContext, type LeaveContext } from 'centrifuge';
import { Centrifuge as CentrifugePb } from 'centrifuge/build/protobuf';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions } from '../../src/lib/core/options.js';
import { waitFor } from '../testkit/wait.js';

const SECRET = 'jl-secret-jl-secret-jl-secret-jl-secret';
let gw: RunningGateway;
let endpoint: string;

const token = (sub: string): Promise<string> =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

before(async () => {
  gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey: 'k',
    tokenHmacSecret: SECRET,
    namespaces: [...DEFAULT_NAMESPACES, { name: 'room', pattern: 'room\\.[a-z]+', presence: true, joinLeave: true }],
  });
  endpoint = `${gw.url.replace('http', 'ws')}/connection/websocket`;
});
after(async () => {
  await gw.close();
});

test('a JSON and a protobuf subscriber see each other join and leave; market channels send none', async () => {
  const a = new Centrifuge(endpoint, { websocket: WebSocket, token: await token('ann') });
  const b = new CentrifugePb(endpoint, { websocket: WebSocket, token: await token('ben') });
  try {
    const seenByA: string[] = [];
    const seenByB: string[] = [];
    const subA = a.newSubscription('room.lobby');
    subA.on('join', (ctx: JoinContext) => seenByA.push(`join ${ctx.info.user}`));
    subA.on('leave', (ctx: LeaveContext) => seenByA.push(`leave ${ctx.info.user}`));
    const market = a.newSubscription('BTC.trade');
    market.on('join', () => seenByA.push('market join'));
    subA.subscribe();
    market.subscribe();
    a.connect();
    await Promise.all([subA.ready(5000), market.ready(5000)]);
    await waitFor(() => seenByA.includes('join ann'), 5000, 'own join');
    const subB = b.newSubscription('room.lobby');
    subB.on('join', (ctx: JoinContext) => seenByB.push(`join ${ctx.info.user}`));
    subB.subscribe();
    const marketB = b.newSubscription('BTC.trade');
    marketB.subscribe();
    b.connect();
    await Promise.all([subB.ready(5000), marketB.ready(5000)]);
    await waitFor(() => seenByA.includes('join ben') && seenByB.includes('join ben'), 5000, 'ben joins');
    b.disconnect();
    await waitFor(() => seenByA.includes('leave ben'), 5000, 'ben leaves');
    assert.deepEqual(seenByA, ['join ann', 'join ben', 'leave ben']);
  } finally {
    a.disconnect();
    b.disconnect();
  }
});

test('joinLeave without presence is refused at start, naming the key', () => {
  assert.throws(
    () => resolveGatewayOptions({ namespaces: [{ name: 'x', pattern: 'x', joinLeave: true }] }),
    (e: Error) => e.name === 'ConfigError' && /joinLeave needs presence/.test(e.message),
  );
});
