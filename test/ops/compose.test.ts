/**
 * ops/docker-compose.yml loaded by a real Compose implementation: compose-spec/compose-go, the
 * library Docker Compose v2 loads files with (tools/compose-check, built by
 * scripts/provision/60-compose-check.sh). It validates the file against the Compose schema,
 * interpolates it, resolves anchors and profiles and checks the model (depends_on targets,
 * volumes); the tests then read the resolved model: the plans' services, health checks,
 * resource limits, ulimits, and the security defaults (ports on loopback, the control API's key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const composeFile = join(root, 'ops/docker-compose.yml');
const checker = join(root, '.tmp/bin/compose-check');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: { host_ip?: string; published?: string; target: number }[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string | null>;
  ulimits?: Record<string, { soft: number; hard: number }>;
  deploy?: { resources?: { limits?: { memory?: string; cpus?: number } } };
  profiles?: string[];
}

function load(file: string, ...profiles: string[]): { status: number | null; stderr: string; services: Record<string, Service> } {
  assert.ok(existsSync(checker), `${checker} is missing: run bash scripts/provision/60-compose-check.sh`);
  const env = { ...process.env };
  // Only the file's own defaults: nothing of the caller's environment may change the model checked.
  for (const k of ['GATEWAY_API_KEY', 'PUBLISHER_CONTROL_KEY', 'COMPOSE_PROFILES', 'COMPOSE_PROJECT_NAME']) delete env[k];
  const r = spawnSync(checker, [...profiles.flatMap((p) => ['-profile', p]), file], { encoding: 'utf8', env, timeout: 30_000 });
  const services = r.status === 0 ? (JSON.parse(r.stdout) as { services: Record<string, Service> }).services : {};
  return { status: r.status, stderr: r.stderr, services };
}

test('compose-go loads and validates the compose file, every profile included', () => {
  const base = load(composeFile);
  assert.equal(base.status, 0, base.stderr);
  const all = load(composeFile, '*');
  assert.equal(all.status, 0, all.stderr);
  // The plans' services (Redpanda, publisher, gateway, Prometheus, Grafana, Loki), and the Kafka feed profile.
  for (const s of ['redpanda', 'publisher', 'gateway', 'prometheus', 'grafana', 'loki', 'nats']) assert.ok(base.services[s], `no ${s} service`);
  for (const s of ['gateway-kafka', 'publisher-kafka']) {
    assert.equal(base.services[s], undefined, `${s} belongs to the kafka profile`);
    assert.ok(all.services[s], `no ${s} in the kafka profile`);
  }
});

test('compose: health checks, resource limits and ulimits where the plans ask for them', () => {
  const { services } = load(composeFile, '*');
  for (const s of ['nats', 'redpanda', 'gateway', 'publisher', 'gateway-kafka', 'publisher-kafka'])
    assert.ok((services[s]?.healthcheck?.test?.length ?? 0) > 0, `${s} has no health check`);
  for (const [name, s] of Object.entries(services)) {
    assert.ok(Number(s.deploy?.resources?.limits?.memory) > 0, `${name} has no memory limit`);
  }
  assert.deepEqual(services.gateway?.ulimits?.nofile, { soft: 65536, hard: 65536 });
  // What waits for what: the gateway for NATS, the publisher for a healthy gateway, the Kafka feed for Redpanda.
  assert.equal(services.gateway?.depends_on?.nats?.condition, 'service_healthy');
  assert.equal(services.publisher?.depends_on?.gateway?.condition, 'service_healthy');
  assert.equal(services['gateway-kafka']?.depends_on?.redpanda?.condition, 'service_healthy');
});

test('compose security defaults: every port is published on 127.0.0.1, the control API has a key', () => {
  const { services } = load(composeFile, '*');
  const open = Object.entries(services).flatMap(([name, s]) =>
    (s.ports ?? []).filter((p) => p.host_ip !== '127.0.0.1').map((p) => `${name}:${p.published}`),
  );
  assert.deepEqual(open, []);
  for (const s of ['publisher', 'publisher-kafka']) assert.ok(services[s]?.environment?.PUBLISHER_CONTROL_KEY, `${s} has no control key`);
  // Redpanda's external listener is the port every client defaults to (odin-ws dev --kafka, the stack).
  assert.ok(services.redpanda?.ports?.some((p) => p.published === '19092' && p.target === 19092));
});

test('compose-check is no rubber stamp: an unknown key or a missing dependency fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'odin-compose-'));
  const text = readFileSync(composeFile, 'utf8');
  const unknownKey = join(dir, 'unknown.yml');
  writeFileSync(unknownKey, text.replace('  gateway:\n    <<: *gateway\n', '  gateway:\n    <<: *gateway\n    restart_policy: always\n'));
  const a = load(unknownKey);
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /restart_policy/);
  const missingDep = join(dir, 'dep.yml');
  writeFileSync(missingDep, text.replace('gateway: { condition: service_healthy }', 'gatewy: { condition: service_healthy }'));
  const b = load(missingDep);
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /gatewy/);
});
