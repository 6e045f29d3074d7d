/**
 * Security defaults, bound addresses: the gateway and the publisher listen on 127.0.0.1 unless told
 * otherwise; the Docker image (where every interface is the container's own) opens them and the
 * publisher then needs its control key; the local stack binds HOST (127.0.0.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_HOST as PUBLISHER_DEFAULT_HOST } from '../../src/lib/publisher/options.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

test('the gateway listens on 127.0.0.1 by default; --host and GATEWAY_HOST open it', async () => {
  assert.equal(loadGatewayConfig([], {}).gateway.host, '127.0.0.1');
  assert.equal(loadGatewayConfig([], { GATEWAY_HOST: '0.0.0.0' }).gateway.host, '0.0.0.0');
  assert.equal(loadGatewayConfig(['--host', '::'], {}).gateway.host, '::');
  const gw = await startGateway({ port: 0 });
  try {
    assert.equal(new URL(gw.url).hostname, '127.0.0.1');
  } finally {
    await gw.close();
  }
  assert.equal(PUBLISHER_DEFAULT_HOST, '127.0.0.1');
});

test('the image opens both in its container; the stack binds HOST, 127.0.0.1', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^ENV GATEWAY_HOST=0\.0\.0\.0 PUBLISHER_HOST=0\.0\.0\.0$/m);
  const stack = readFileSync(join(root, 'scripts/local/stack.sh'), 'utf8');
  assert.match(stack, /^: "\$\{HOST:=127\.0\.0\.1\}"$/m);
  for (const svc of ['gateway', 'publisher']) assert.match(stack, new RegExp(`"\\$\\{CLI\\[@\\]\\}" ${svc} --host "\\$HOST"`));
  const taskfile = readFileSync(join(root, 'Taskfile.yml'), 'utf8');
  assert.match(taskfile, /^ {2}HOST: 127\.0\.0\.1$/m);
});
