import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CENTRIFUGE_PING,
  encodeErrorReply,
  encodeHistoryReply,
  encodePublicationObject,
  encodePublicationPush,
  encodeReply,
  encodeSubscribeReply,
  parseCentrifugeFrame,
} from '../../src/lib/protocol/centrifuge.js';
import { parseCentrifugeParams } from '../../src/lib/protocol/centrifuge-params.js';
import { JSON_CODEC, UNI_JSON_CODEC } from '../../src/lib/protocol/centrifuge-codec.js';
import {
  connectProxyRequest,
  publishProxyRequest,
  readConnectProxyReply,
  readPublishProxyReply,
  readRefreshProxyReply,
  readSubscribeProxyReply,
} from '../../src/lib/protocol/centrifuge-proxy.js';
import { ErrorCode, protocolError, uniDisconnectOf } from '../../src/lib/protocol/codes.js';

const pub = { offset: 7, data: '{"p":1.5}' };
const pubFull = { offset: 8, data: '[1,2]', info: { client: 'c1', user: 'u1' }, tags: { type: 'trade:new' } };

test('frame: several commands split on newlines, empty object is a pong, unknown method keeps its id', () => {
  const items = parseCentrifugeFrame('{"id":1,"connect":{"token":"t"}}\n{}\n\n{"id":2,"bogus":{}}\n{"id":3,"subscribe":{"channel":"a"}}');
  assert.deepEqual(items, [
    { kind: 'command', command: { id: 1, method: 'connect', params: { token: 't' } } },
    { kind: 'pong' },
    { kind: 'unknown', id: 2 },
    { kind: 'command', command: { id: 3, method: 'subscribe', params: { channel: 'a' } } },
  ]);
});

test('frame: malformed lines make one bad item and stop the frame', () => {
  assert.deepEqual(parseCentrifugeFrame('{"id":1,"send":{}}\n{oops\n{"id":2,"send":{}}'), [
    { kind: 'command', command: { id: 1, method: 'send', params: {} } },
    { kind: 'bad', message: 'invalid JSON' },
  ]);
  assert.deepEqual(parseCentrifugeFrame('[1]'), [{ kind: 'bad', message: 'a command is a JSON object' }]);
  assert.deepEqual(parseCentrifugeFrame('{"id":-1,"send":{}}'), [{ kind: 'bad', message: '"id" must be a non-negative integer' }]);
  assert.deepEqual(parseCentrifugeFrame('{"id":1,"publish":[1]}'), [{ kind: 'bad', message: '"publish" must be an object' }]);
});

test('replies and pushes, byte for byte', () => {
  assert.equal(encodeReply(3, 'publish', {}), '{"id":3,"publish":{}}');
  assert.equal(
    encodeReply(4, 'presence_stats', { num_clients: 1, num_users: 0 }),
    '{"id":4,"presence_stats":{"num_clients":1,"num_users":0}}',
  );
  assert.equal(
    encodeErrorReply(5, protocolError(ErrorCode.NotAvailable, undefined, true)),
    '{"id":5,"error":{"code":108,"message":"not available","temporary":true}}',
  );
  assert.equal(encodeErrorReply(6, protocolError(ErrorCode.BadRequest)), '{"id":6,"error":{"code":107,"message":"bad request"}}');
  assert.equal(encodePublicationObject(pub), '{"data":{"p":1.5},"offset":7}');
  assert.equal(
    encodePublicationObject(pubFull),
    '{"data":[1,2],"offset":8,"info":{"client":"c1","user":"u1"},"tags":{"type":"trade:new"}}',
  );
  assert.equal(encodePublicationPush('BTC.trade', pub), '{"push":{"channel":"BTC.trade","pub":{"data":{"p":1.5},"offset":7}}}');
  assert.equal(encodePublicationPush('a"b', pub), '{"push":{"channel":"a\\"b","pub":{"data":{"p":1.5},"offset":7}}}');
  assert.equal(CENTRIFUGE_PING, '{}');
});

test('subscribe reply: plain, positioned, recovering with publications, byte for byte', () => {
  assert.equal(encodeSubscribeReply(2, { publications: [] }), '{"id":2,"subscribe":{}}');
  assert.equal(
    encodeSubscribeReply(2, { position: { offset: 9, epoch: 'e1' }, publications: [] }),
    '{"id":2,"subscribe":{"recoverable":true,"positioned":true,"epoch":"e1","offset":9}}',
  );
  assert.equal(
    encodeSubscribeReply(2, { position: { offset: 9, epoch: 'e1' }, recovered: true, publications: [pub, pubFull] }),
    '{"id":2,"subscribe":{"recoverable":true,"positioned":true,"epoch":"e1","offset":9,"was_recovering":true,"recovered":true,' +
      '"publications":[{"data":{"p":1.5},"offset":7},{"data":[1,2],"offset":8,"info":{"client":"c1","user":"u1"},"tags":{"type":"trade:new"}}]}}',
  );
  // `recovered: false` is a zero value, left out as Centrifugo v6.9.1 does (issue 20's side-by-side run).
  assert.equal(encodeSubscribeReply(2, { recovered: false, publications: [] }), '{"id":2,"subscribe":{"was_recovering":true}}');
  assert.equal(
    encodeSubscribeReply(2, { position: { offset: 0, epoch: 'e1' }, publications: [] }),
    '{"id":2,"subscribe":{"recoverable":true,"positioned":true,"epoch":"e1"}}',
  );
  // The subscribe reply parses as JSON and holds the payloads untouched.
  const text = encodeSubscribeReply(1, { position: { offset: 1, epoch: 'x' }, recovered: true, publications: [pub] });
  assert.deepEqual((JSON.parse(text) as { subscribe: { publications: unknown[] } }).subscribe.publications, [
    { data: { p: 1.5 }, offset: 7 },
  ]);
});

test('subscription tokens: subscribe token, sub_refresh params, expires/ttl in the subscribe result and the sub_refresh reply', () => {
  const p = (method: string, params: Record<string, unknown>) => parseCentrifugeParams({ id: 3, method: method as 'subscribe', params });
  assert.deepEqual(p('subscribe', { channel: 'a', token: 't.o.k' }), {
    id: 3,
    method: 'subscribe',
    params: { channel: 'a', since: null, flag: 0, tagsFilter: null, delta: '', token: 't.o.k' },
  });
  // An empty or non-string token is no token.
  assert.equal((p('subscribe', { channel: 'a', token: '' }) as { params: { token: unknown } }).params.token, null);
  assert.equal((p('subscribe', { channel: 'a', token: 7 }) as { params: { token: unknown } }).params.token, null);
  assert.deepEqual(p('sub_refresh', { channel: 'a', token: 'x' }), { id: 3, method: 'sub_refresh', params: { channel: 'a', token: 'x' } });
  assert.deepEqual(p('sub_refresh', {}), { id: 3, method: 'sub_refresh', params: { channel: '', token: '' } });
  assert.equal(
    encodeSubscribeReply(2, { position: { offset: 9, epoch: 'e1' }, publications: [], ttl: 60 }),
    '{"id":2,"subscribe":{"expires":true,"ttl":60,"recoverable":true,"positioned":true,"epoch":"e1","offset":9}}',
  );
  assert.equal(
    Buffer.from(JSON_CODEC.subRefresh(4, { expires: true, ttl: 30 })).toString(),
    '{"id":4,"sub_refresh":{"expires":true,"ttl":30}}',
  );
  assert.equal(Buffer.from(JSON_CODEC.subRefresh(4, { expires: false, ttl: 0 })).toString(), '{"id":4,"sub_refresh":{}}');
});

test('history reply, byte for byte', () => {
  assert.equal(encodeHistoryReply(9, [], { offset: 0, epoch: '' }), '{"id":9,"history":{"publications":[],"epoch":"","offset":0}}');
  assert.equal(
    encodeHistoryReply(9, [pub], { offset: 7, epoch: 'e' }),
    '{"id":9,"history":{"publications":[{"data":{"p":1.5},"offset":7}],"epoch":"e","offset":7}}',
  );
});

test('typed params: subscribe recovery position (zero defaults), history since and limit, publish data', () => {
  const p = (method: string, params: Record<string, unknown>) => parseCentrifugeParams({ id: 1, method: method as 'subscribe', params });
  assert.deepEqual(p('subscribe', { channel: 'a' }), {
    id: 1,
    method: 'subscribe',
    params: { channel: 'a', since: null, flag: 0, tagsFilter: null, delta: '', token: null },
  });
  assert.deepEqual(p('subscribe', { channel: 'a', recover: true }), {
    id: 1,
    method: 'subscribe',
    params: { channel: 'a', since: { offset: 0, epoch: '' }, flag: 0, tagsFilter: null, delta: '', token: null },
  });
  assert.deepEqual(p('subscribe', { channel: 'a', recover: true, offset: 5, epoch: 'e' }), {
    id: 1,
    method: 'subscribe',
    params: { channel: 'a', since: { offset: 5, epoch: 'e' }, flag: 0, tagsFilter: null, delta: '', token: null },
  });
  assert.equal((p('subscribe', { channel: 'a', recover: true, offset: -1 }) as { code: number }).code, 107);
  assert.equal((p('subscribe', { channel: 'a', recover: true, epoch: 5 }) as { code: number }).code, 107);
  assert.equal((p('subscribe', {}) as { message: string }).message, 'channel required');
  // A bad `since` in history is refused, never ignored.
  assert.equal((p('history', { channel: 'a', since: { offset: 'x' } }) as { code: number }).code, 107);
  assert.equal((p('history', { channel: 'a', since: 5 }) as { code: number }).code, 107);
  assert.deepEqual(p('history', { channel: 'a', since: { offset: 3 }, limit: -1, reverse: true }), {
    id: 1,
    method: 'history',
    params: { channel: 'a', limit: -1, since: { offset: 3, epoch: '' }, reverse: true },
  });
  assert.equal((p('history', { channel: 'a', limit: -2 }) as { message: string }).message, 'bad limit');
  assert.deepEqual(p('publish', { channel: 'c', data: { a: [1, 'x'] } }), {
    id: 1,
    method: 'publish',
    params: { channel: 'c', data: '{"a":[1,"x"]}' },
  });
  assert.equal((p('publish', { channel: 'c' }) as { message: string }).message, 'channel and data required');
  let deep: unknown = 1;
  for (let i = 0; i < 5000; i++) deep = [deep];
  assert.deepEqual(p('publish', { channel: 'c', data: deep }), { code: 107, message: 'data nests deeper than 64 levels' });
  assert.deepEqual(p('connect', { token: 5 }), {
    id: 1,
    method: 'connect',
    params: { token: null, subs: {}, requested: Object.create(null), data: null, name: '', version: '' },
  });
  // Every `subs` entry is a requested channel (unidirectional transports), with its token and position.
  const c = p('connect', { subs: { a: {}, b: { token: 't', recover: true, offset: 4, epoch: 'e' }, c: 'x' } }) as {
    params: { subs: object; requested: object };
  };
  assert.deepEqual({ ...c.params.requested }, { a: { since: null, token: null }, b: { since: { offset: 4, epoch: 'e' }, token: 't' } });
  assert.deepEqual(c.params.subs, { b: { offset: 4, epoch: 'e' } });
});

test('unidirectional codec: bare pushes, the connect result as a connect push; refused connects map to disconnects', () => {
  const text = (b: Uint8Array): string => Buffer.from(b).toString();
  const connect = text(
    UNI_JSON_CODEC.connect(1, { client: 'c', version: 'v', ping: 25, pong: true, node: 'n', expires: false, ttl: 0, subs: new Map() }),
  );
  assert.equal(connect, '{"connect":{"client":"c","version":"v","ping":25,"pong":true,"node":"n"}}');
  assert.equal(text(UNI_JSON_CODEC.publicationPush('a', pub)), '{"channel":"a","pub":{"data":{"p":1.5},"offset":7}}');
  assert.equal(
    text(UNI_JSON_CODEC.unsubscribePush('a', 2501, 'subscription expired')),
    '{"channel":"a","unsubscribe":{"code":2501,"reason":"subscription expired"}}',
  );
  assert.equal(
    text(UNI_JSON_CODEC.disconnectPush(3005, 'connection expired', true)),
    '{"disconnect":{"code":3005,"reason":"connection expired","reconnect":true}}',
  );
  assert.equal(text(UNI_JSON_CODEC.ping), '{}');
  assert.deepEqual(
    [103, 109, 110, 111, 101, 102, 107].map((code) => uniDisconnectOf(protocolError(code as ErrorCode)).code),
    [3507, 3005, 3005, 3013, 3500, 3501, 3501],
  );
  assert.equal(uniDisconnectOf(protocolError(ErrorCode.NotAvailable, undefined, true)).code, 3013);
});

test("proxy protocol: requests carry the client's data unparsed; replies read as result, error or disconnect, else unreadable", () => {
  const who = { client: 'c1', transport: 'websocket', protocol: 'json' as const, user: 'u' };
  assert.equal(
    connectProxyRequest(who, '{"a":1}', 'bot', '1'),
    '{"client":"c1","transport":"websocket","protocol":"json","encoding":"json","user":"u","name":"bot","version":"1","data":{"a":1}}',
  );
  assert.equal(
    publishProxyRequest(who, 'chat.x', '[1]'),
    '{"client":"c1","transport":"websocket","protocol":"json","encoding":"json","user":"u","channel":"chat.x","data":[1]}',
  );
  assert.deepEqual(readConnectProxyReply('{"result":{"user":"u","expire_at":5,"channels":["a",1]}}'), {
    result: { user: 'u', expireAt: 5, info: undefined, channels: ['a'] },
  });
  assert.deepEqual(readPublishProxyReply('{"result":{"data":{"x":1},"skip_history":true}}'), {
    result: { data: '{"x":1}', skipHistory: true },
  });
  assert.deepEqual(readSubscribeProxyReply('{"error":{"code":103,"message":"no","temporary":true}}'), {
    error: { code: 103, message: 'no', temporary: true },
  });
  assert.deepEqual(readRefreshProxyReply('{"disconnect":{"code":4501,"reason":"banned"}}'), {
    disconnect: { code: 4501, reason: 'banned' },
  });
  for (const bad of ['<html>', '[]', '{"disconnect":{"code":1000}}', '{"error":{"message":"x"}}', '{"result":[]}', '{"result":{}}']) {
    assert.ok('unreadable' in readConnectProxyReply(bad), bad);
  }
});
