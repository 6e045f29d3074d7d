/**
 * src/lib/http/node-server.ts: an HTTP/2 cleartext upgrade offer (`Upgrade: h2c`, what Java's
 * built-in HTTP client sends by default) is declined by answering over HTTP/1.1 — the server API
 * answers it like any request. Needs http.createServer's shouldUpgradeCallback (Node 24.9+, 22.21+).
 * And the listening socket's accept queue is the kernel's largest, not Node's 511.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * The accept-queue limit of the listening socket on 127.0.0.1:`port`: `ss`'s Send-Q of a LISTEN
 * socket (the kernel's sk_max_ack_backlog, over netlink; /proc/net/tcp shows 0 there).
 */
function listenBacklog(port: number): number | null {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const f = out.trim().split(/\s+/); // State Recv-Q Send-Q Local Peer
  return f[0] === 'LISTEN' ? Number(f[2]) : null;
}

const hasSs = spawnSync('ss', ['-V']).status === 0;

test(
  "the gateway listens with the accept queue the kernel allows (net.core.somaxconn), not Node's 511",
  { skip: existsSync('/proc/sys/net/core/somaxconn') && hasSs ? false : 'Linux only (/proc, iproute2 ss)' },
  async () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: 'k' });
    try {
      assert.equal(listenBacklog(gw.port), Math.min(somaxconn, 65_535));
    } finally {
      await gw.close();
    }
  },
);
