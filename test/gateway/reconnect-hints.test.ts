import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { handshake, RawClient } from '../testkit/raw-socket.js';
import { TestClient } from '../testkit/ws-client.js';

const WINDOW = { minDelayMs: 1000, maxDelayMs: 4000 };

/** An upgrade's answer on a raw socket: status and headers. */
async function upgradeAnswer(port: number, path = '/ws'): Promise<RawClient> {
  const c = await RawClient.open(port);
  c.write(handshake(path));
  await c.until(() => c.status !== null, 'an upgrade answer');
  return c;
}

function assertRetryAfter(c: RawClient, status: number): void {
  assert.equal(c.status, status);
  const v = Number(c.headers['retry-after']);
  assert.ok(Number.isInteger(v) && v >= 1 && v <= 4, `Retry-After in whole seconds within the window: ${c.headers['retry-after']}`);
}

describe('reconnect hints', () => {
  test('503 at the connection limit and 429 per address carry a jittered Retry-After', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', maxConnections: 1, reconnect: WINDOW });
    const a = await TestClient.connect(`${g.url.replace('http', 'ws')}/ws`);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const c = await upgradeAnswer(g.port);
      assertRetryAfter(c, 503);
      seen.add(c.headers['retry-after']!);
      c.socket.destroy();
    }
    assert.ok(seen.size > 1, `jittered: ${[...seen].join(',')}`);
    a.close();
    await g.close();
    const p = await startGateway({ port: 0, host: '127.0.0.1', maxConnectionsPerIp: 1, reconnect: WINDOW });
    const b = await TestClient.connect(`${p.url.replace('http', 'ws')}/ws`);
    const c = await upgradeAnswer(p.port);
    assertRetryAfter(c, 429);
    c.socket.destroy();
    b.close();
    await p.close();
  });

  test('while draining, an upgrade gets 503 with Retry-After and Odin clients a reconnect_delay_ms in the window', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', reconnect: WINDOW }, { drainMs: 1500 });
    const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(`${g.url.replace('http', 'ws')}/ws`)));
    const closing = g.close();
    for (const c of clients) {
      const notice = await c.next((m) => m.type === 'disconnect');
      assert.equal(notice.code, 3001);
      const d = notice.reconnect_delay_ms as number;
      assert.ok(d >= 1000 && d <= 4000, `reconnect_delay_ms ${d}`);
    }
    const c = await upgradeAnswer(g.port);
    assertRetryAfter(c, 503);
    c.socket.destroy();
    await closing;
  });
});
