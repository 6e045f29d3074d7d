import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGatewayConfig, resolveGatewayServerOptions } from '../../src/apps/gateway/options.js';
import { DEFAULT_PORT } from '../../src/apps/gateway/options-schema.js';
import { GATEWAY_OPTIONS, gatewayHelp, gatewayOptionsMarkdown } from '../../src/apps/gateway/options-table.js';
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
  // Keys of at least apiKeyMinLength (16) characters.
  writeFileSync(file, 'port: 4000\napiKey: from-file-0123456789\nmaxConnections: 10\n');
  const cfg = loadGatewayConfig(['--config', file, '--port', '5000'], { GATEWAY_PORT: '4500', GATEWAY_API_KEY: 'from-env-0123456789' });
  assert.equal(cfg.gateway.port, 5000);
  assert.equal(cfg.gateway.apiKey, 'from-env-0123456789');
  assert.equal(cfg.gateway.maxConnections, 10);
  assert.equal(cfg.broker, 'memory');
});

test('issue 21 item 5: secrets are never flags (refused, naming where to put them); a short API key refuses to start, naming the key', () => {
  for (const [flag, where] of [
    ['--api-key', /GATEWAY_API_KEY or apiKey in the --config file/],
    ['--token-secret', /GATEWAY_TOKEN_SECRET or tokenHmacSecret/],
    ['--kafka-password', /KAFKA_PASSWORD or kafka\.sasl\.password/],
  ] as const) {
    assert.throws(
      () => loadGatewayConfig([flag, 'a-secret-of-enough-length'], {}),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${flag}: secrets are never flags`) && where.test(e.message),
    );
  }
  assert.throws(
    () => loadGatewayConfig([], { GATEWAY_API_KEY: 'x' }),
    (e: unknown) => e instanceof ConfigError && /^apiKey: at least 16 characters \(got 1\)/.test(e.message) && !e.message.includes("'x'"),
  );
  assert.equal(loadGatewayConfig([], { GATEWAY_API_KEY: 'x'.repeat(16) }).gateway.apiKey.length, 16);
  assert.equal(loadGatewayConfig([], { GATEWAY_API_KEY: 'short-key', GATEWAY_API_KEY_MIN_LENGTH: '8' }).gateway.apiKey, 'short-key');
  assert.equal(loadGatewayConfig([], {}).gateway.apiKey, '', 'no key: the API is off, the process starts');
  const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin/odin-ws.js');
  const r = spawnSync(process.execPath, [cli, 'gateway', '--port', '0', '--api-key', 'visible-in-ps-0123456789'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--api-key: secrets are never flags/);
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

test('transport: "ws" is accepted from the flag, the environment and the file; "uws" is refused with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-cfg-'));
  const file = (transport: string): string => {
    const f = join(dir, `${transport}.yaml`);
    writeFileSync(f, `transport: ${transport}\n`);
    return f;
  };
  loadGatewayConfig(['--transport', 'ws'], {});
  loadGatewayConfig([], { GATEWAY_TRANSPORT: 'ws' });
  loadGatewayConfig(['--config', file('ws')], {});
  const removed = (e: unknown): boolean =>
    e instanceof ConfigError &&
    /^transport: "uws" \(uWebSockets\.js\) was removed: .*1002\/1007.*Node 24.*docs\/protocol\.md/.test(e.message);
  assert.throws(() => loadGatewayConfig(['--transport', 'uws'], {}), removed);
  assert.throws(() => loadGatewayConfig([], { GATEWAY_TRANSPORT: 'uws' }), removed);
  assert.throws(() => loadGatewayConfig(['--config', file('uws')], {}), removed);
  assert.throws(
    () => loadGatewayConfig(['--transport', 'tcp'], {}),
    (e: unknown) => e instanceof ConfigError && e.message === 'transport: expected "ws" (got "tcp")',
  );
});

test('odin-ws gateway --transport uws exits 2 (bad usage) with the one-line reason, no stack trace', () => {
  const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin/odin-ws.js');
  for (const [args, env] of [
    [['--transport', 'uws'], {}],
    [[], { GATEWAY_TRANSPORT: 'uws' }],
  ] as const) {
    const r = spawnSync(process.execPath, [cli, 'gateway', '--port', '0', ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^odin-ws gateway: transport: "uws" \(uWebSockets\.js\) was removed: [^\n]*docs\/protocol\.md[^\n]*\n/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.equal(r.stdout, '');
  }
});

test('docs/operations.md holds the option table as rendered from the gateway options (npm run docs:options)', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const doc = readFileSync(join(root, 'docs/operations.md'), 'utf8');
  const table = gatewayOptionsMarkdown();
  assert.ok(doc.includes(table), 'docs/operations.md is stale: run npm run build && npm run docs:options');
  // Every row with a flag or variable is in --help, and every flag parses.
  const help = gatewayHelp();
  for (const row of GATEWAY_OPTIONS) {
    if (row.flag && !row.refusedFlag) assert.ok(help.includes(`--${row.flag}`), `--help lacks --${row.flag}`);
    if (row.env) assert.ok(help.includes(row.env), `--help lacks ${row.env}`);
  }
});
