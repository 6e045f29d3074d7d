/**
 * The publisher's security defaults: its control API listens on 127.0.0.1 unless told otherwise,
 * refuses to listen beyond loopback without a key, and with a key POST /control needs it (401 before
 * the body is read) while the read-only endpoints stay open. The CLI takes --control-key and
 * PUBLISHER_CONTROL_KEY, and says what is wrong in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPublisher } from '../../src/lib/publisher/server.js';
import { DEFAULT_HOST } from '../../src/lib/publisher/options.js';
import { isLoopback } from '../../src/lib/http/loopback.js';
import { PublisherError } from '../../src/lib/publisher/errors.js';
import { MemorySink } from '../../src/lib/publisher/sinks/memory-sink.js';
import { parsePublisherArgs } from '../../src/apps/publisher/main.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const KEY = 'control-key-for-tests';
const post = (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${url}/control`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('the control API listens on 127.0.0.1 by default', async () => {
  assert.equal(DEFAULT_HOST, '127.0.0.1');
  const pub = await startPublisher({ port: 0, sink: { kind: 'custom', sink: new MemorySink() } });
  try {
    assert.equal(new URL(pub.url).hostname, '127.0.0.1');
    // Reachable on loopback, and without a key there.
    assert.equal((await post(pub.url, { action: 'stop' })).status, 200);
  } finally {
    await pub.close();
  }
});

test('beyond loopback without a key it refuses to start', async () => {
  for (const host of ['0.0.0.0', '::', '10.1.2.3'])
    await assert.rejects(
      startPublisher({ port: 0, host, sink: { kind: 'custom', sink: new MemorySink() } }),
      (e: unknown) => e instanceof PublisherError && e.code === 'invalid_options' && /needs a key/.test(e.message),
    );
  assert.ok(isLoopback('127.0.0.1') && isLoopback('127.5.0.1') && isLoopback('::1') && isLoopback('localhost'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('::') && !isLoopback('192.168.1.2'));
});

test('with a key, POST /control needs it; health, stats and metrics stay open', async () => {
  const pub = await startPublisher({ port: 0, host: '0.0.0.0', controlKey: KEY, sink: { kind: 'custom', sink: new MemorySink() } });
  try {
    const none = await post(pub.url, { action: 'start' });
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { message: string }).message, /needs its key/);
    assert.equal((await post(pub.url, { action: 'start' }, { 'x-api-key': 'wrong-key-wrong' })).status, 401);
    assert.equal(pub.publisher.running, false);
    const ok = await post(pub.url, { action: 'start', messagesPerSecond: 10 }, { 'x-api-key': KEY });
    assert.equal(ok.status, 200);
    assert.equal(pub.publisher.running, true);
    assert.equal((await post(pub.url, { action: 'stop' }, { authorization: `apikey ${KEY}` })).status, 200);
    for (const path of ['/health', '/stats', '/metrics']) assert.equal((await fetch(`${pub.url}${path}`)).status, 200, path);
  } finally {
    await pub.close();
  }
});

test('CLI: --control-key or PUBLISHER_CONTROL_KEY; --host 0.0.0.0 alone fails in one line, exit 2', () => {
  const a = parsePublisherArgs(['--host', '0.0.0.0', '--control-key', KEY], {});
  assert.ok(!a.help && a.options.host === '0.0.0.0' && a.options.controlKey === KEY);
  const b = parsePublisherArgs([], { PUBLISHER_HOST: '127.0.0.2', PUBLISHER_CONTROL_KEY: KEY });
  assert.ok(!b.help && b.options.host === '127.0.0.2' && b.options.controlKey === KEY);
  const r = spawnSync(process.execPath, [join(root, 'bin/odin-ws.js'), 'publisher', '--host', '0.0.0.0', '--port', '0'], {
    encoding: 'utf8',
    env: { ...process.env, PUBLISHER_CONTROL_KEY: '', PUBLISHER_HOST: '' },
    timeout: 30_000,
  });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^odin-ws publisher: .*0\.0\.0\.0 \(beyond loopback\) needs a key/);
});

test('CLI: a sink whose server is down is one line, not a stack trace', () => {
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/odin-ws.js'), 'publisher', '--sink', 'nats', '--nats-url', 'nats://127.0.0.1:1', '--port', '0'],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(r.status, 1);
  assert.equal((r.stdout + r.stderr).trim().split('\n').length, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^odin-ws publisher: cannot connect the nats sink: connection refused/);
});
