/**
 * Bad input to the HTTP-streaming, SSE and emulation endpoints: every case gets its documented
 * status and `{"error":{code,message}}` (or, once a stream is open, a disconnect push that ends
 * it), never a 5xx or a hang. Also the limits a stream counts against (connections per address)
 * and the slow-client rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gatewayForFile } from '../testkit/file-gateway.js';
import { api } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'bad-key';
const gateway = gatewayForFile(
  {
    port: 0,
    host: '127.0.0.1',
    apiKey: KEY,
    allowAnonymous: true,
    maxConnectionsPerIp: 3,
    maxQueueBytes: 64 * 1024,
    allowedOrigins: ['https://app.example'],
  },
  { bodyTimeoutMs: 300 },
);

interface Answer {
  status: number;
  body: string;
  headers: Headers;
}

/**
 * Every open socket counts against maxConnectionsPerIp (3 here), idle keep-alive ones too: each
 * request closes its socket, so one test's requests do not hold the next one's slots.
 */
const CLOSE = { connection: 'close' };

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(url, { ...init, headers: { ...CLOSE, ...(init.headers as Record<string, string> | undefined) } });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

/** A documented error answer: the status, and the code in `{"error":{code,message}}`. */
function assertError(a: Answer, status: number, code: number): void {
  assert.equal(a.status, status, a.body);
  const e = (JSON.parse(a.body) as { error: { code: number; message: string } }).error;
  assert.equal(e.code, code);
  assert.ok(e.message.length > 0);
}

const CONNECT = '{"id":1,"connect":{}}';
const json = { 'content-type': 'application/json' };

test('wrong methods, empty and oversized bodies, missing cf_connect', async () => {
  const gw = gateway();
  assertError(await call(`${gw.url}/connection/http_stream`), 405, 107);
  assertError(await call(`${gw.url}/emulation`), 405, 107);
  assertError(await call(`${gw.url}/connection/sse`, { method: 'PUT', body: 'x' }), 405, 107);
  assertError(await call(`${gw.url}/connection/http_stream`, { method: 'POST', headers: json, body: '' }), 400, 107);
  assertError(await call(`${gw.url}/connection/sse`), 400, 107);
  assertError(await call(`${gw.url}/connection/sse?cf_connect=`), 400, 107);
  const big = 'x'.repeat(64 * 1024 + 1);
  assertError(await call(`${gw.url}/connection/http_stream`, { method: 'POST', headers: json, body: big }), 413, 107);
  assertError(await call(`${gw.url}/connection/sse`, { method: 'POST', headers: json, body: big }), 413, 107);
  assertError(await call(`${gw.url}/emulation`, { method: 'POST', headers: json, body: big }), 413, 107);
  // A cf_connect past the server's header limit: refused by the HTTP server (4xx), not a 5xx.
  const huge = await call(`${gw.url}/connection/sse?cf_connect=${'a'.repeat(100 * 1024)}`).catch(() => null);
  if (huge !== null) assert.ok(huge.status >= 400 && huge.status < 500, `status ${huge.status}`);
});

test('malformed emulation requests get 400, unknown sessions 404', async () => {
  const gw = gateway();
  const emu = (body: string | Buffer, headers: Record<string, string> = json): Promise<Answer> =>
    call(`${gw.url}/emulation`, { method: 'POST', headers, body: body as BodyInit });
  assertError(await emu('not json'), 400, 107);
  assertError(await emu('[1,2]'), 400, 107);
  assertError(await emu('{"session":"s","node":"n"}'), 400, 107);
  assertError(await emu('{"session":"s","node":"n","data":{"id":2}}'), 400, 107);
  assertError(await emu('{"session":"","node":"n","data":"{}"}'), 400, 107);
  assertError(await emu(Buffer.from([0xff, 0xff, 0xff]), { 'content-type': 'application/octet-stream' }), 400, 107);
  const unknown = await emu(JSON.stringify({ session: 'no-such-session', node: 'elsewhere', data: '{"id":2,"presence_stats":{}}' }));
  assertError(unknown, 404, 108);
  assert.match(unknown.body, /node elsewhere/);
});

test('a stalled body gets 408', async () => {
  const gw = gateway();
  const s = connect(gw.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => s.once('close', () => r()));
  s.write('POST /emulation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sess');
  await ended;
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 408/);
});

test('garbage after the stream opens ends it with a disconnect push (3501, no reconnect)', async () => {
  const gw = gateway();
  for (const [path, body, expect] of [
    ['/connection/http_stream', 'not json at all', '{"push":{"disconnect":{"code":3501,"reason":"bad request","reconnect":false}}}\n'],
    ['/connection/sse', 'not json at all', 'data: {"push":{"disconnect":{"code":3501,"reason":"bad request","reconnect":false}}}\n\n'],
    ['/connection/http_stream', '{"id":1,"connect":{"token":"not-a-jwt"}}', '"reconnect":false}}}\n'],
  ] as const) {
    const a = await call(`${gw.url}${path}`, { method: 'POST', headers: json, body });
    assert.equal(a.status, 200);
    assert.ok(a.body.endsWith(expect), a.body);
  }
  // A protobuf stream given garbage: the disconnect push is protobuf.
  const r: Response = await fetch(`${gw.url}/connection/http_stream`, {
    method: 'POST',
    headers: { ...CLOSE, 'content-type': 'application/octet-stream' },
    body: Buffer.from([0x05, 0xff, 0xff, 0xff]),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/octet-stream');
  const bytes = Buffer.from(await r.arrayBuffer());
  assert.ok(bytes.includes(Buffer.from('bad request')));
  await waitFor(() => gw.gateway.connectionCount === 0, 5000, 'streams released');
});

test('a stream counts against the connection limits; origins are checked; CORS for allowed ones', async () => {
  const gw = gateway();
  const streams: AbortController[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const ac = new AbortController();
      streams.push(ac);
      const r: Response = await fetch(`${gw.url}/connection/http_stream`, {
        method: 'POST',
        headers: { ...CLOSE, ...json },
        body: CONNECT,
        signal: ac.signal,
      });
      assert.equal(r.status, 200);
    }
    assertError(await call(`${gw.url}/connection/sse?cf_connect=${encodeURIComponent(CONNECT)}`), 429, 111);
  } finally {
    for (const ac of streams) ac.abort();
  }
  await waitFor(() => gw.gateway.connectionCount === 0, 5000, 'aborted streams released');
  assertError(
    await call(`${gw.url}/connection/http_stream`, {
      method: 'POST',
      headers: { ...json, origin: 'https://evil.example' },
      body: CONNECT,
    }),
    403,
    103,
  );
  const pre = await call(`${gw.url}/emulation`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/);
  const denied = await call(`${gw.url}/emulation`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  assert.equal(denied.headers.get('access-control-allow-origin'), null);
});

test('a stream client that stops reading is disconnected as slow', async () => {
  const gw = gateway();
  const slowBefore = gw.gateway.stats.slowDisconnects;
  const s = connect(gw.port, '127.0.0.1');
  const cmds = `${CONNECT}\n{"id":2,"subscribe":{"channel":"BTC.trade"}}`;
  s.write(
    `POST /connection/http_stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${cmds.length}\r\n\r\n${cmds}`,
  );
  let got = '';
  const onData = (c: Buffer): void => {
    got += c.toString();
  };
  s.on('data', onData);
  await waitFor(() => got.includes('"id":2'), 5000, 'subscribed');
  // Stop reading: the socket buffers fill up, then the gateway's queue.
  s.off('data', onData);
  s.pause();
  const payload = { blob: 'x'.repeat(16 * 1024) };
  for (let i = 0; i < 400 && gw.gateway.stats.slowDisconnects === slowBefore; i++) {
    await api(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: payload });
  }
  assert.ok(gw.gateway.stats.slowDisconnects > slowBefore, 'disconnected as slow');
  s.destroy();
  await waitFor(() => gw.gateway.connectionCount === 0, 5000, 'slow stream released');
});
