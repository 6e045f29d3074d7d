/**
 * src/lib/http/node-server.ts: an HTTP/2 cleartext upgrade offer (`Upgrade: h2c`, what Java's
 * built-in HTTP client sends by default) is declined by answering over HTTP/1.1 — the server API
 * answers it like any request. Needs http.createServer's shouldUpgradeCallback (Node 24.9+, 22.21+).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postText } from '../testkit/http-post.js';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { TestClient } from '../testkit/ws-client.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const supported = major > 24 || (major === 24 && minor >= 9) || (major === 22 && minor >= 21);

function post(port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return postText(`http://127.0.0.1:${port}${path}`, body, headers);
}

test(
  'an h2c upgrade offer on POST /api/publish is answered over HTTP/1.1; WebSocket upgrades still work',
  { skip: supported ? false : `node ${process.version} has no shouldUpgradeCallback (24.9+, 22.21+)` },
  async () => {
    const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: 'k' });
    try {
      const r = await post(gw.port, '/api/publish', '{"channel":"BTC.trade","data":{"p":1}}', {
        'content-type': 'application/json',
        'x-api-key': 'k',
        connection: 'Upgrade, HTTP2-Settings',
        upgrade: 'h2c',
        'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
      });
      assert.equal(r.status, 200, r.body);
      assert.ok((JSON.parse(r.body) as { result?: unknown }).result);
      const c = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
      c.close();
    } finally {
      await gw.close();
    }
  },
);
