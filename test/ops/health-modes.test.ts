/**
 * `odin-ws health` checks what the current mode runs: `odin-ws dev` (gateway and publisher, no
 * NATS) is healthy; a gateway that ingests from Kafka makes Kafka required, at the port every
 * client defaults to (19092, as `dev --kafka` runs it); a degraded service says why; --detailed
 * stays short; --wait gives up at once when the process it waits for has exited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAll, detailLines, healthTable, parseHealthArgs } from '../../src/apps/health/main.js';
import { DEFAULT_ENDPOINTS } from '../../src/lib/ops-probe/services.js';
import { DEFAULT_KAFKA_BROKERS } from '../../src/lib/kafka/config.js';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { startPublisher } from '../../src/lib/publisher/server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('dev mode (gateway + publisher, no NATS): healthy; NATS and Kafka are optional', async () => {
  const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: 'health-key-123' });
  const pub = await startPublisher({ port: 0, sink: { kind: 'gateway', url: gw.url, apiKey: 'health-key-123' } });
  try {
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    const env = { GATEWAY_URL: gw.url, PUBLISHER_URL: pub.url, NATS_MONITOR_URL: nowhere, KAFKA_BROKERS: `127.0.0.1:${await closedPort()}` };
    const o = parseHealthArgs([], env);
    const results = await checkAll(o);
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    assert.equal(byName.gateway?.status, 'up');
    assert.equal(byName.publisher?.status, 'up');
    assert.equal(byName.nats?.required, false);
    assert.equal(byName.kafka?.required, false);
    assert.match(healthTable(results), /all required services are up/);
  } finally {
    await pub.close();
    await gw.close();
  }
});

test('a gateway ingesting from Kafka makes Kafka required, and its degraded reason is printed', async () => {
  const gw = await startGateway({ port: 0, host: '127.0.0.1' });
  gw.addReadinessCheck('kafka', () => 'no partitions assigned yet');
  const pub = await startPublisher({ port: 0, sink: { kind: 'gateway', url: gw.url } });
  try {
    const env = { GATEWAY_URL: gw.url, PUBLISHER_URL: pub.url, KAFKA_BROKERS: `127.0.0.1:${await closedPort()}` };
    const results = await checkAll(parseHealthArgs([], env));
    const gateway = results.find((r) => r.name === 'gateway')!;
    assert.equal(gateway.status, 'degraded');
    assert.match(gateway.message, /degraded \(kafka: no partitions assigned yet\)/);
    assert.equal(results.find((r) => r.name === 'kafka')?.required, true);
    assert.match(healthTable(results), /required but not up: gateway, kafka/);
    // An explicit --require is taken as it is.
    const explicit = await checkAll(parseHealthArgs(['--require', 'publisher'], env));
    assert.equal(explicit.find((r) => r.name === 'kafka')?.required, false);
  } finally {
    await pub.close();
    await gw.close();
  }
});

test('Kafka is looked for where dev --kafka and the stack run it', () => {
  assert.equal(DEFAULT_ENDPOINTS.kafka, DEFAULT_KAFKA_BROKERS);
  assert.equal(DEFAULT_KAFKA_BROKERS, '127.0.0.1:19092');
});

test('--detailed is a few lines per service, not a JSON dump', async () => {
  const gw = await startGateway({ port: 0, host: '127.0.0.1' });
  try {
    const results = await checkAll(parseHealthArgs(['gateway', '--detailed'], { GATEWAY_URL: gw.url }));
    const lines = healthTable(results).trim().split('\n');
    assert.ok(lines.length <= 32, `${lines.length} lines:\n${lines.join('\n')}`);
    assert.ok(lines.some((l) => /^ {2}stats\.connections\.total {2}0$/.test(l)), lines.join('\n'));
    assert.deepEqual(detailLines({ a: { b: 1 }, list: [{ job: 'x', health: 'up' }] }), ['a.b  1', 'list  job=x health=up']);
  } finally {
    await gw.close();
  }
});

test('--wait --while-pid gives up as soon as that process has exited', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300)']);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/odin-ws.js'), 'health', 'gateway', '--gateway', `http://127.0.0.1:${await closedPort()}`, '--wait', '60', '--while-pid', String(child.pid)],
    { encoding: 'utf8', timeout: 50_000 },
  );
  assert.equal(r.status, 1);
  assert.ok(Date.now() - t0 < 20_000, `waited ${Date.now() - t0} ms`);
});
