/**
 * Control messages between nodes (core/control.ts): every command survives encode → decode,
 * and anything malformed is refused whole (never applied in part); a gateway on the memory
 * broker keeps presence and server-side commands in its own process, as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeControl, encodeControl, type UserCommand } from '../../src/lib/core/control.js';
import { MemoryPresence } from '../../src/lib/core/presence.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { isControlPublisher, isJoinLeavePublisher, isPresenceProvider } from '../../src/lib/core/broker.js';
import { resolveGatewayOptions } from '../../src/lib/core/options.js';
import { FakeTransport } from '../testkit/fake-transport.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

const commands: UserCommand[] = [
  { op: 'subscribe', user: 'u', channel: 'room.a' },
  { op: 'subscribe', user: 'u', channel: 'room.a', client: 'c', data: '{"x":1}', since: { offset: 3, epoch: 'e' } },
  { op: 'unsubscribe', user: 'u', channel: 'room.a', client: 'c' },
  { op: 'disconnect', user: 'u', reason: { code: 4000, reason: 'bye' }, whitelist: ['c1'] },
  { op: 'refresh', user: 'u', expired: true },
  { op: 'refresh', user: 'u', client: 'c', expired: false, expireAt: 4102444800 },
];

test('every command survives encode and decode', () => {
  for (const cmd of commands) assert.deepEqual(decodeControl(encodeControl('node1', cmd)), { from: 'node1', cmd });
});

test('malformed control messages decode to null', () => {
  const bad = [
    '',
    'not json',
    'null',
    '[]',
    '{"v":2,"from":"n","cmd":{"op":"refresh","user":"u","expired":true}}',
    '{"v":1,"cmd":{"op":"refresh","user":"u","expired":true}}',
    '{"v":1,"from":"n","cmd":{"op":"nuke","user":"u"}}',
    '{"v":1,"from":"n","cmd":{"op":"refresh","user":1,"expired":true}}',
    '{"v":1,"from":"n","cmd":{"op":"refresh","user":"u","expired":"yes"}}',
    '{"v":1,"from":"n","cmd":{"op":"refresh","user":"u","expired":false,"expireAt":1.5}}',
    '{"v":1,"from":"n","cmd":{"op":"subscribe","user":"u"}}',
    '{"v":1,"from":"n","cmd":{"op":"subscribe","user":"u","channel":"c","since":{"offset":"1","epoch":"e"}}}',
    '{"v":1,"from":"n","cmd":{"op":"subscribe","user":"u","channel":"c","data":{}}}',
    '{"v":1,"from":"n","cmd":{"op":"unsubscribe","user":"u","channel":"c","client":5}}',
    '{"v":1,"from":"n","cmd":{"op":"disconnect","user":"u","reason":{"code":4000},"whitelist":[]}}',
    '{"v":1,"from":"n","cmd":{"op":"disconnect","user":"u","reason":{"code":4000,"reason":"r"},"whitelist":[1]}}',
    '{"v":1,"from":"n","cmd":{"op":"disconnect","user":"u","reason":{"code":4000,"reason":"r"}}}',
  ];
  for (const text of bad) assert.equal(decodeControl(text), null, text);
});

test('the memory broker has no cross-node capabilities: presence stays in the process', () => {
  const broker = new MemoryBroker({ clock: systemClock });
  assert.equal(isControlPublisher(broker), false);
  assert.equal(isJoinLeavePublisher(broker), false);
  assert.equal(isPresenceProvider(broker), false);
  const gw = new Gateway(resolveGatewayOptions({}), { broker, transport: new FakeTransport(), clock: systemClock });
  assert.ok(gw.presence instanceof MemoryPresence);
});

test('MemoryPresence: add, remove, stats by distinct users', async () => {
  const p = new MemoryPresence();
  await p.add('c', { client: '1', user: 'a' });
  await p.add('c', { client: '2', user: 'a' });
  await p.add('c', { client: '3', user: '' });
  assert.deepEqual(await p.stats('c'), { num_clients: 3, num_users: 2 });
  await p.remove('c', '1');
  await p.remove('c', 'none');
  await p.remove('other', '1');
  assert.deepEqual(Object.keys(await p.get('c')), ['2', '3']);
  await p.remove('c', '2');
  await p.remove('c', '3');
  assert.deepEqual(await p.get('c'), {});
});
