import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeOdinDisconnect,
  encodeOdinError,
  encodeOdinPong,
  encodeOdinPublication,
  encodeOdinWelcome,
  encodeSubscriptionAck,
  encodeUnsubscriptionAck,
  parseOdinCommand,
} from '../../src/lib/protocol/odin.js';

test('commands: subscribe with positions, unsubscribe, heartbeat and ping', () => {
  const s = parseOdinCommand('{"type":"subscribe","data":{"channels":["BTC.trade"]}}');
  assert.ok(s.ok && s.command.type === 'subscribe');
  assert.deepEqual(s.command.channels, ['BTC.trade']);
  assert.deepEqual(Object.keys(s.command.positions), []);
  const r = parseOdinCommand('{"type":"subscribe","data":{"channels":["a"],"positions":{"a":{"offset":3,"epoch":"e"}}}}');
  assert.ok(r.ok && r.command.type === 'subscribe');
  assert.deepEqual({ ...r.command.positions }, { a: { offset: 3, epoch: 'e' } });
  assert.deepEqual(parseOdinCommand('{"type":"unsubscribe","data":{"channels":["a","b"]}}'), {
    ok: true,
    command: { type: 'unsubscribe', channels: ['a', 'b'] },
  });
  assert.deepEqual(parseOdinCommand('{"type":"heartbeat"}'), { ok: true, command: { type: 'heartbeat' } });
  assert.deepEqual(parseOdinCommand('{"type":"ping"}'), { ok: true, command: { type: 'heartbeat' } });
});

test('commands: every bad input gets 104 or 107 with a message', () => {
  const codes = [
    '{bad',
    '[]',
    '{}',
    '{"type":"dance"}',
    '{"type":"subscribe"}',
    '{"type":"subscribe","data":{"channels":[]}}',
    '{"type":"subscribe","data":{"channels":[""]}}',
    '{"type":"subscribe","data":{"channels":["a"],"positions":[]}}',
    '{"type":"subscribe","data":{"channels":["a"],"positions":{"a":{"offset":-1,"epoch":"e"}}}}',
    '{"type":"subscribe","data":{"channels":["a"],"positions":{"a":{"offset":1}}}}',
    '{"type":"subscribe","data":{"channels":["a"],"positions":{"a":null}}}',
  ].map((t) => {
    const r = parseOdinCommand(t);
    assert.equal(r.ok, false, t);
    return r.ok ? 0 : r.code;
  });
  assert.deepEqual(codes, [107, 107, 107, 104, 107, 107, 107, 107, 107, 107, 107]);
  const r = parseOdinCommand('{"type":"subscribe","data":{"channels":["a"],"positions":{"a":{"offset":1.5,"epoch":"e"}}}}');
  assert.ok(!r.ok && /"data\.positions\.a" must be \{offset, epoch\}/.test(r.message));
});

test('a channel named __proto__ is a position key like any other', () => {
  const r = parseOdinCommand('{"type":"subscribe","data":{"channels":["__proto__"],"positions":{"__proto__":{"offset":1,"epoch":"e"}}}}');
  assert.ok(r.ok && r.command.type === 'subscribe');
  assert.deepEqual(r.command.positions['__proto__'], { offset: 1, epoch: 'e' });
  assert.equal(r.command.positions['toString'], undefined);
});

test('subscribe tokens: per channel, strings only; empty means none; an expiry unsubscription says why', () => {
  const r = parseOdinCommand('{"type":"subscribe","data":{"channels":["a","b"],"tokens":{"a":"t.o.k","b":""}}}');
  assert.ok(r.ok && r.command.type === 'subscribe');
  assert.deepEqual({ ...r.command.tokens }, { a: 't.o.k' });
  for (const bad of ['[]', '"x"', '{"a":1}', '{"a":null}']) {
    const b = parseOdinCommand(`{"type":"subscribe","data":{"channels":["a"],"tokens":${bad}}}`);
    assert.ok(!b.ok && b.code === 107, bad);
  }
  assert.equal(encodeUnsubscriptionAck(['a'], 0), '{"type":"unsubscription_ack","unsubscribed":["a"],"count":0}');
  assert.equal(
    encodeUnsubscriptionAck(['a'], 0, { code: 2501, reason: 'subscription expired' }),
    '{"type":"unsubscription_ack","unsubscribed":["a"],"count":0,"code":2501,"reason":"subscription expired"}',
  );
});

test('frames, byte for byte', () => {
  assert.equal(
    encodeOdinPublication({ type: 'trade:new', channel: 'BTC.trade', offset: 4, epoch: 'ep', ts: 1700000000000, data: '{"price":1}' }),
    '{"type":"trade:new","channel":"BTC.trade","offset":4,"epoch":"ep","ts":1700000000000,"data":{"price":1}}',
  );
  assert.equal(
    encodeSubscriptionAck(
      [
        { channel: 'a', offset: 3, epoch: 'e', recoverable: true },
        { channel: 'b', offset: 0, epoch: '', recoverable: false, recovered: true, publications: 2 },
      ],
      2,
      [],
    ),
    '{"type":"subscription_ack","subscribed":["a","b"],"count":2,"positions":{"a":{"offset":3,"epoch":"e","recoverable":true},' +
      '"b":{"offset":0,"epoch":"","recoverable":false,"recovered":true,"publications":2}}}',
  );
  assert.equal(
    encodeSubscriptionAck([], 0, [{ channel: 'x', code: 102, message: 'unknown channel' }]),
    '{"type":"subscription_ack","subscribed":[],"count":0,"positions":{},"errors":[{"channel":"x","code":102,"message":"unknown channel"}]}',
  );
  assert.equal(encodeUnsubscriptionAck(['a'], 1), '{"type":"unsubscription_ack","unsubscribed":["a"],"count":1}');
  assert.equal(encodeOdinPong(12), '{"type":"pong","ts":12}');
  assert.equal(encodeOdinError(107, 'bad', { command: 'subscribe' }), '{"command":"subscribe","type":"error","code":107,"message":"bad"}');
  assert.equal(encodeOdinError(111, 'too many requests'), '{"type":"error","code":111,"message":"too many requests"}');
  assert.equal(encodeOdinWelcome('id1', 'v', 25_000, 'u'), '{"type":"connected","client":"id1","user":"u","version":"v","ping":25}');
  assert.equal(encodeOdinDisconnect(3008, 'slow', true), '{"type":"disconnect","code":3008,"reason":"slow","reconnect":true}');
});
