import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';
import { ConfigError } from '../../src/lib/core/options.js';

test('ingest defaults: nats with the nats broker, none with memory; --ingest, GATEWAY_INGEST, NATS_INGEST and the file choose', () => {
  assert.deepEqual(loadGatewayConfig([], {}).ingest, []);
  assert.deepEqual(loadGatewayConfig(['--broker', 'nats'], {}).ingest, ['nats']);
  assert.deepEqual(loadGatewayConfig(['--ingest', 'nats'], {}).ingest, ['nats']);
  assert.deepEqual(loadGatewayConfig(['--broker', 'nats', '--ingest', 'none'], {}).ingest, []);
  assert.deepEqual(loadGatewayConfig([], { GATEWAY_INGEST: 'nats' }).ingest, ['nats']);
  assert.deepEqual(loadGatewayConfig([], { NATS_INGEST: 'true' }).ingest, ['nats']);
  assert.deepEqual(loadGatewayConfig(['--broker', 'nats'], { NATS_INGEST: 'false' }).ingest, []);
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-ingest-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'ingest: [nats]\n');
  assert.deepEqual(loadGatewayConfig(['--config', file], {}).ingest, ['nats']);
});

test('bad ingest settings fail at start with a clear message', () => {
  assert.throws(
    () => loadGatewayConfig(['--ingest', 'NATS!'], {}),
    (e: unknown) => e instanceof ConfigError && /ingest: unknown feed/.test(e.message),
  );
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-ingest-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'jetstream:\n  ingest:\n    dedupByContent: true\n');
  assert.throws(
    () => loadGatewayConfig(['--config', file], {}),
    /dedupByContent: removed: ingest dedups only by Nats-Msg-Id or the event id/,
  );
  writeFileSync(file, 'ingest: 5\n');
  assert.throws(() => loadGatewayConfig(['--config', file], {}), /ingest: expected a list of feeds/);
});
