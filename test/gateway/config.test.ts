import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig, resolveGatewayServerOptions, DEFAULT_PORT } from '../../src/lib/server/config.js';
import { ConfigError } from '../../src/lib/core/options.js';

test('defaults: port 3002, anonymous allowed, Odin namespaces with history 1000 / 5 min and recovery', () => {
  const o = resolveGatewayServerOptions({});
  assert.equal(o.port, DEFAULT_PORT);
  assert.equal(o.allowAnonymous, true);
  const pub = o.namespaces.find((n) => n.name === 'public')!;
  assert.equal(pub.historySize, 1000);
  assert.equal(pub.historyTtlMs, 300_000);
  assert.equal(pub.recovery, true);
  assert.ok(Object.isFrozen(o));
});

test('validation names the bad key and value', () => {
  assert.throws(
    () => resolveGatewayServerOptions({ maxConnections: -5 }),
    (e: unknown) => e instanceof ConfigError && /maxConnections: .*got -5/.test(e.message),
  );
  assert.throws(
    () => resolveGatewayServerOptions({ pingIntervalMs: 1000, pongTimeoutMs: 2000 }),
    /pongTimeoutMs: must be less than pingIntervalMs/,
  );
  assert.throws(() => resolveGatewayServerOptions({ nope: 1 }), /nope/);
  assert.throws(
    () => resolveGatewayServerOptions({ namespaces: [{ name: 'x', pattern: '(' }] }),
    /namespaces\.0\.pattern: invalid regular expression/,
  );
});

test('precedence: defaults ← file ← env ← flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-cfg-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'port: 4000\napiKey: from-file\nmaxConnections: 10\n');
  const cfg = loadGatewayConfig(['--config', file, '--port', '5000'], { GATEWAY_PORT: '4500', GATEWAY_API_KEY: 'from-env' });
  assert.equal(cfg.gateway.port, 5000);
  assert.equal(cfg.gateway.apiKey, 'from-env');
  assert.equal(cfg.gateway.maxConnections, 10);
  assert.equal(cfg.broker, 'memory');
});

test('bad flags, env, files and combinations fail at start with a clear message', () => {
  assert.throws(() => loadGatewayConfig(['--port', 'abc'], {}), /--port: expected an integer \(got "abc"\)/);
  assert.throws(() => loadGatewayConfig(['--bogus'], {}), ConfigError);
  assert.throws(() => loadGatewayConfig([], { GATEWAY_ALLOW_ANONYMOUS: 'maybe' }), /GATEWAY_ALLOW_ANONYMOUS/);
  assert.throws(() => loadGatewayConfig(['--workers', '2'], {}), /use --broker nats/);
  assert.throws(() => loadGatewayConfig(['--config', '/nonexistent/x.yaml'], {}), /cannot read/);
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-cfg-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"port": ');
  assert.throws(() => loadGatewayConfig(['--config', bad], {}), /not valid JSON/);
});

test('shutdown drain window: default, env, flag; a bad value names the key', () => {
  assert.equal(loadGatewayConfig([], {}).drainMs, 1000);
  assert.equal(loadGatewayConfig([], { GATEWAY_DRAIN_MS: '5000' }).drainMs, 5000);
  assert.equal(loadGatewayConfig(['--drain-ms', '0'], { GATEWAY_DRAIN_MS: '5000' }).drainMs, 0);
  assert.throws(
    () => loadGatewayConfig(['--drain-ms=-1'], {}),
    (e: unknown) => e instanceof ConfigError && /drainMs/.test(e.message),
  );
});
