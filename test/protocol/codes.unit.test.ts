import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodedError, Disconnect, ErrorCode, isProtocolError, protocolError, shouldReconnect } from '../../src/lib/protocol/codes.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../src/lib/protocol/limits.js';
import { parseStreamPosition } from '../../src/lib/protocol/position.js';
import { encodePush, odinEventType, PROTO_CENTRIFUGE, PROTO_ODIN } from '../../src/lib/protocol/push.js';

test('reconnect policy: 3000-3499 and 4000-4499 reconnect; 3500-3999 and 4500-4999 are terminal', () => {
  for (const d of Object.values(Disconnect)) assert.equal(shouldReconnect(d.code), d.code < 3500, `${d.code} ${d.reason}`);
  assert.equal(shouldReconnect(4000), true);
  assert.equal(shouldReconnect(4499), true);
  assert.equal(shouldReconnect(4500), false);
  assert.equal(shouldReconnect(Disconnect.TokenExpired.code), false);
  assert.equal(shouldReconnect(Disconnect.Slow.code), true);
});

test('error codes are the catalogue numbers; protocolError gives the default message; CodedError is a ProtocolError', () => {
  assert.equal(ErrorCode.BadRequest, 107);
  assert.deepEqual(protocolError(ErrorCode.TooManyRequests), { code: 111, message: 'too many requests' });
  const e = new CodedError(ErrorCode.NotAvailable, undefined, { temporary: true });
  assert.ok(isProtocolError(e));
  assert.equal(e.message, 'not available');
  assert.equal(e.temporary, true);
  assert.equal(isProtocolError({ code: 'x', message: 'm' }), false);
});

test('the one stream position parser', () => {
  assert.deepEqual(parseStreamPosition({ offset: 0, epoch: '' }, 'p'), { offset: 0, epoch: '' });
  assert.deepEqual(parseStreamPosition({}, 'p', { zeroDefaults: true }), { offset: 0, epoch: '' });
  for (const bad of [
    null,
    5,
    'x',
    [],
    {},
    { offset: 1 },
    { epoch: 'e' },
    { offset: -1, epoch: 'e' },
    { offset: 2 ** 53, epoch: 'e' },
    { offset: 1, epoch: 'x'.repeat(257) },
  ]) {
    const r = parseStreamPosition(bad, 'since');
    assert.ok(isProtocolError(r) && r.code === 107 && r.message.startsWith('"since" must be {offset, epoch}'), JSON.stringify(bad));
  }
});

test('JSON depth: iterative, exact at the limit', () => {
  let v: unknown = 0;
  for (let i = 0; i < MAX_JSON_DEPTH; i++) v = i % 2 ? [v] : { a: v };
  assert.equal(jsonTooDeep(v), false);
  assert.equal(jsonTooDeep([v]), true);
  let deep: unknown = null;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(jsonTooDeep(deep), true);
  assert.equal(jsonTooDeep('x'), false);
});

test('pushes of both protocols from one publication, byte for byte', () => {
  const pub = { channel: 'BTC.trade', offset: 2, epoch: 'e', data: '{"x":1}', time: 5 };
  assert.equal(encodePush(PROTO_ODIN, pub), '{"type":"trade","channel":"BTC.trade","offset":2,"epoch":"e","ts":5,"data":{"x":1}}');
  assert.equal(encodePush(PROTO_ODIN, { ...pub, tags: { type: 'trade:new' } }).slice(0, 22), '{"type":"trade:new","c');
  assert.equal(encodePush(PROTO_CENTRIFUGE, pub), '{"push":{"channel":"BTC.trade","pub":{"data":{"x":1},"offset":2}}}');
  assert.deepEqual(
    ['BTC.trade', 'BTC.balances.u1', 'market.stats', 'plain', 'a..b', 'a.'].map((channel) => odinEventType({ ...pub, channel })),
    ['trade', 'balances', 'stats', 'plain', '', ''],
  );
});
