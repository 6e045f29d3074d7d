/**
 * Issue 13, items 1-3 and the Odin part of 6, on real sockets, both protocols:
 * recovery larger than the outbound queue completes; recovery work per command, connection and
 * node is bounded with counted refusals; deeply nested JSON is a bad request; an Odin client
 * whose token expired gets a terminal close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import type { GatewayServerOptionsInput } from '../../src/apps/gateway/options.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { TestClient, api, type Json } from '../testkit/ws-client.js';

const KEY = 'hardening-key';
const SECRET = 'hardening-secret-long-enough-for-hs256';
const isType = (t: string) => (m: Json) => m.type === t;
const CHAT = { name: 'chat', pattern: 'chat\\.[a-z]+', publish: true };

async function withGateway(opts: GatewayServerOptionsInput, fn: (gw: RunningGateway, ws: string) => Promise<void>): Promise<void> {
  const gw = await startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey: KEY,
    tokenHmacSecret: SECRET,
    logLevel: 'silent',
    namespaces: [CHAT, ...DEFAULT_NAMESPACES],
    ...opts,
  });
  try {
    await fn(gw, gw.url.replace('http', 'ws'));
  } finally {
    await gw.close();
  }
}

/** Publishes `n` payloads of about `size` bytes into `channel`; returns the epoch. */
async function fill(gw: RunningGateway, channel: string, n: number, size: number): Promise<string> {
  let epoch = '';
  const pad = 'x'.repeat(Math.max(0, size - 20));
  for (let i = 1; i <= n; i++) epoch = (await gw.gateway.api.publish({ channel, data: JSON.stringify({ i, pad }) })).epoch;
  return epoch;
}

function token(sub: string, expSeconds: number): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expSeconds).sign(new TextEncoder().encode(SECRET));
}

const deep = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

test(`recovery of 1,000 × 1.5 KB (more than the 1 MiB queue) completes on both protocols, then live; a bystander is served`, () =>
  withGateway({}, async (gw, ws) => {
    const epoch = await fill(gw, 'BIG.trade', 1000, 1500);
    const bystander = await TestClient.connect(`${ws}/ws`);
    bystander.send({ type: 'subscribe', data: { channels: ['ETH.trade'] } });
    await bystander.next(isType('subscription_ack'));

    const odin = await TestClient.connect(`${ws}/ws`);
    odin.send({ type: 'subscribe', data: { channels: ['BIG.trade'], positions: { 'BIG.trade': { offset: 0, epoch } } } });
    const cent = await TestClient.connect(`${ws}/connection/websocket`);
    cent.send('{"id":1,"connect":{}}\n' + JSON.stringify({ id: 2, subscribe: { channel: 'BIG.trade', recover: true, offset: 0, epoch } }));

    const ack = await odin.next(isType('subscription_ack'), 10_000);
    const pos = (ack.positions as Record<string, { recovered: boolean; publications: number }>)['BIG.trade']!;
    assert.deepEqual([pos.recovered, pos.publications], [true, 1000]);
    const reply = await cent.next((m) => m.id === 2, 10_000);
    const sub = reply.subscribe as { recovered: boolean; publications: { offset: number }[] };
    assert.equal(sub.recovered, true);
    assert.deepEqual(
      sub.publications.map((p) => p.offset),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );

    await gw.gateway.api.publish({ channel: 'ETH.trade', data: '{"bystander":1}' });
    await bystander.next((m) => m.channel === 'ETH.trade' && m.type !== 'subscription_ack', 10_000);
    const pushes = await odin.waitCount(
      (m) => m.channel === 'BIG.trade' && typeof m.offset === 'number' && m.type !== 'subscription_ack',
      1000,
      20_000,
    );
    assert.deepEqual(
      pushes.map((m) => m.offset),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    await gw.gateway.api.publish({ channel: 'BIG.trade', data: '{"live":1}' });
    const live = await odin.next((m) => m.offset === 1001, 10_000);
    assert.deepEqual(live.data, { live: 1 });
    const livePush = await cent.next((m) => (m.push as { pub?: { offset: number } } | undefined)?.pub?.offset === 1001, 10_000);
    assert.ok(livePush);
    assert.equal(odin.closed, null);
    assert.equal(cent.closed, null);
    assert.equal(gw.gateway.stats.slowDisconnects, 0);
    for (const c of [odin, cent, bystander]) c.close();
  }));

test(`recovery per command is bounded: channels past the limit get 106 (Odin ack errors, Centrifugo reply), counted`, () =>
  withGateway({ recovery: { maxBytesPerCommand: 256 * 1024 } }, async (gw, ws) => {
    const channels = Array.from({ length: 8 }, (_, i) => `R${i}.trade`);
    const positions: Record<string, { offset: number; epoch: string }> = {};
    for (const ch of channels) positions[ch] = { offset: 0, epoch: await fill(gw, ch, 100, 1000) };
    const odin = await TestClient.connect(`${ws}/ws`);
    odin.send({ type: 'subscribe', data: { channels, positions } });
    const ack = await odin.next(isType('subscription_ack'), 10_000);
    const ok = ack.subscribed as string[];
    const errors = (ack.errors ?? []) as { channel: string; code: number }[];
    assert.ok(ok.length >= 1 && ok.length <= 3, `recovered within 256 KiB: ${ok.length}`);
    assert.equal(ok.length + errors.length, 8);
    for (const e of errors) assert.equal(e.code, 106);
    for (const ch of ok) assert.equal((ack.positions as Record<string, { recovered: boolean }>)[ch]!.recovered, true);
    // A refused channel recovers in a command of its own.
    const again = errors[0]!.channel;
    odin.send({ type: 'subscribe', data: { channels: [again], positions: { [again]: positions[again] } } });
    const ack2 = await odin.next((m) => m.type === 'subscription_ack' && (m.subscribed as string[]).includes(again), 10_000);
    assert.equal((ack2.positions as Record<string, { recovered: boolean }>)[again]!.recovered, true);

    const big = await fill(gw, 'HUGE.trade', 300, 1000);
    const cent = await TestClient.connect(`${ws}/connection/websocket`);
    cent.send(
      '{"id":1,"connect":{}}\n' + JSON.stringify({ id: 2, subscribe: { channel: 'HUGE.trade', recover: true, offset: 0, epoch: big } }),
    );
    const reply = await cent.next((m) => m.id === 2, 10_000);
    assert.equal((reply.error as { code: number }).code, 106);
    assert.equal(gw.gateway.stats.recoveryRefusals.command_limit, errors.length + 1);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`ws_recovery_refusals_total\\{reason="command_limit"\\} ${errors.length + 1}`));
    assert.equal(odin.closed, null);
    assert.equal(cent.closed, null);
    odin.close();
    cent.close();
  }));

test(`node recovery budget: anonymous clients exhaust only their share (111, temporary); an authenticated client still recovers`, () =>
  withGateway({ recovery: { bytesPerSecond: 400 * 1024, anonymousShare: 0.25 } }, async (gw, ws) => {
    // 150 KB per channel: one anonymous recovery overdraws the anonymous 100 KiB/s share.
    const channels = ['A.trade', 'B.trade', 'C.trade'];
    const positions: Record<string, { offset: number; epoch: string }> = {};
    for (const ch of channels) positions[ch] = { offset: 0, epoch: await fill(gw, ch, 150, 1000) };
    const anon = await TestClient.connect(`${ws}/ws`);
    anon.send({ type: 'subscribe', data: { channels: ['A.trade'], positions: { 'A.trade': positions['A.trade'] } } });
    const a1 = await anon.next(isType('subscription_ack'), 10_000);
    assert.deepEqual(a1.subscribed, ['A.trade']);
    const centAnon = await TestClient.connect(`${ws}/connection/websocket`);
    centAnon.send(
      '{"id":1,"connect":{}}\n' + JSON.stringify({ id: 2, subscribe: { channel: 'B.trade', recover: true, ...positions['B.trade'] } }),
    );
    const refused = await centAnon.next((m) => m.id === 2, 10_000);
    assert.deepEqual(refused.error, { code: 111, message: 'recovery budget exhausted, retry later', temporary: true });
    const user = await TestClient.connect(`${ws}/ws?token=${await token('alice', Math.floor(Date.now() / 1000) + 600)}`);
    user.send({ type: 'subscribe', data: { channels: ['C.trade'], positions: { 'C.trade': positions['C.trade'] } } });
    const u = await user.next(isType('subscription_ack'), 10_000);
    assert.deepEqual(u.subscribed, ['C.trade']);
    assert.equal((u.positions as Record<string, { recovered: boolean }>)['C.trade']!.recovered, true);
    assert.ok(gw.gateway.stats.recoveryRefusals.node_budget >= 1);
    for (const c of [anon, centAnon, user]) c.close();
  }));

test(`JSON nested 5,000 levels: API publish and broadcast 107 (HTTP 200; 400 in transport mode), Centrifugo publish 107 (not temporary), Odin 107; all stay up`, () =>
  withGateway({}, async (gw, ws) => {
    const body = `{"channel":"BTC.trade","data":${deep(5000)}}`;
    // Centrifugo's semantics: HTTP 200 with the error in the body; 400 in transport error mode.
    const p = await api(gw.url, KEY, 'publish', body);
    assert.equal(p.status, 200);
    assert.equal((p.body.error as { code: number }).code, 107);
    assert.match((p.body.error as { message: string }).message, /deeper than 64 levels/);
    const pt = await api(gw.url, KEY, 'publish', body, { 'x-centrifugo-error-mode': 'transport' });
    assert.equal(pt.status, 400);
    assert.equal(pt.body.code, 107);
    const b = await api(gw.url, KEY, 'broadcast', `{"channels":["BTC.trade","ETH.trade"],"data":${deep(5000)}}`);
    assert.equal(b.status, 200);
    assert.equal((b.body.error as { code: number }).code, 107);
    // 64 levels is accepted.
    const ok = await api(gw.url, KEY, 'publish', `{"channel":"BTC.trade","data":${deep(64)}}`);
    assert.equal(ok.status, 200);
    assert.ok(ok.body.result, JSON.stringify(ok.body));

    const cent = await TestClient.connect(`${ws}/connection/websocket`);
    cent.send(`{"id":1,"connect":{}}\n{"id":2,"publish":{"channel":"chat.room","data":${deep(5000)}}}`);
    const reply = await cent.next((m) => m.id === 2);
    assert.deepEqual(reply.error, { code: 107, message: 'data nests deeper than 64 levels' });
    cent.send('{"id":3,"publish":{"channel":"chat.room","data":{"ok":true}}}');
    assert.deepEqual((await cent.next((m) => m.id === 3)).publish, {});

    const odin = await TestClient.connect(`${ws}/ws`, { maxPayload: 1 << 20 });
    odin.send(`{"type":"subscribe","data":{"channels":["BTC.trade"],"positions":{"BTC.trade":${deep(3000)}}}}`);
    const err = await odin.next(isType('error'));
    assert.equal(err.code, 107);
    assert.equal(odin.closed, null);
    assert.equal(cent.closed, null);
    cent.close();
    odin.close();
  }));

test(`Odin: an expired token is a terminal close (3500, reconnect false), not 3005`, () =>
  withGateway({}, async (_gw, ws) => {
    const c = await TestClient.connect(`${ws}/ws?token=${await token('bob', Math.floor(Date.now() / 1000) - 60)}`);
    const notice = await c.next(isType('disconnect'));
    assert.deepEqual(notice, { type: 'disconnect', code: 3500, reason: 'token expired', reconnect: false });
    assert.equal((await c.waitClose()).code, 3500);
  }));
