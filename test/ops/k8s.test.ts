/**
 * The GKE manifests against the Kubernetes API schemas (kubeconform, strict: unknown fields are
 * errors), offline: scripts/provision/21-kubeconform.sh installs kubeconform and the schemas of
 * one Kubernetes version from the kubernetes-validate wheel. Plus what the plans ask of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { findTool } from '../testkit/tools.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const k8s = join(root, 'ops/k8s');
/** Keep in step with K8S_VERSION in scripts/provision/21-kubeconform.sh. */
const K8S_VERSION = '1.33.0';
const schemas = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'odin-ws/k8s-schemas', `v${K8S_VERSION}`);
const MANIFESTS = ['gateway.yaml', 'publisher.yaml', 'kafka.yaml'].map((f) => join(k8s, f));

function kubeconform(files: readonly string[]): { status: number | null; out: string } {
  assert.ok(existsSync(join(schemas, 'deployment-apps-v1.json')), `no schemas in ${schemas}: run bash scripts/provision/21-kubeconform.sh`);
  const bin = findTool('kubeconform', 'bash scripts/provision/21-kubeconform.sh');
  const r = spawnSync(
    bin,
    ['-strict', '-summary', '-output', 'text', '-schema-location', `${schemas}/{{.ResourceKind}}{{.KindSuffix}}.json`, ...files],
    { encoding: 'utf8' },
  );
  return { status: r.status, out: r.stdout + r.stderr };
}

test('kubeconform: every manifest in ops/k8s is valid against the Kubernetes schemas', () => {
  const r = kubeconform(MANIFESTS);
  assert.equal(r.status, 0, r.out);
  const m = /(\d+) resources found in \d+ files - Valid: (\d+), Invalid: 0, Errors: 0, Skipped: 0/.exec(r.out);
  assert.ok(m, r.out);
  assert.equal(m[1], m[2]);
  assert.ok(Number(m[2]) >= 8, r.out);
});

test('kubeconform rejects a wrong manifest (the schemas are really used, not skipped)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'odin-k8s-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec: { replicas: "three", selectr: {} }\n');
  const r = kubeconform([bad]);
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /Invalid: 1/);
});

type Doc = { kind: string; metadata: { name: string }; spec?: Record<string, unknown> };
const docs = (f: string): Doc[] => parseAllDocuments(readFileSync(join(k8s, f), 'utf8')).map((d) => d.toJS() as Doc);

test('the gateway: readiness on /ready, preStop before the drain, HPA, PDB', () => {
  const all = docs('gateway.yaml');
  const dep = all.find((d) => d.kind === 'Deployment')!;
  const pod = (dep.spec as { template: { spec: { terminationGracePeriodSeconds: number; containers: Record<string, unknown>[] } } }).template.spec;
  const c = pod.containers[0] as {
    readinessProbe: { httpGet: { path: string } };
    lifecycle: { preStop: { sleep: { seconds: number } } };
  };
  assert.equal(c.readinessProbe.httpGet.path, '/ready');
  const cm = all.find((d) => d.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  const drainMs = (parseYaml(cm.data['odin-ws.yaml']!) as { shutdownTimeoutMs: number }).shutdownTimeoutMs;
  assert.ok(c.lifecycle.preStop.sleep.seconds * 1000 + drainMs < pod.terminationGracePeriodSeconds * 1000, 'preStop + drain fit the grace period');
  const hpa = all.find((d) => d.kind === 'HorizontalPodAutoscaler') as unknown as { spec: { minReplicas: number; scaleTargetRef: { name: string } } };
  assert.equal(hpa.spec.scaleTargetRef.name, dep.metadata.name);
  assert.ok(hpa.spec.minReplicas >= 2);
  assert.ok(all.some((d) => d.kind === 'PodDisruptionBudget'));
});

test('NATS chart values: a 3-server cluster with JetStream on file storage', () => {
  const v = parseYaml(readFileSync(join(k8s, 'nats-values.yaml'), 'utf8')) as {
    config: { cluster: { enabled: boolean; replicas: number }; jetstream: { enabled: boolean; fileStore: { enabled: boolean } } };
  };
  assert.equal(v.config.cluster.enabled, true);
  assert.equal(v.config.cluster.replicas, 3);
  assert.equal(v.config.jetstream.enabled, true);
  assert.equal(v.config.jetstream.fileStore.enabled, true);
  // The stream is R3 only when the gateway's config asks for it.
  const cm = docs('gateway.yaml').find((d) => d.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  assert.equal((parseYaml(cm.data['odin-ws.yaml']!) as { jetstream: { replicas: number } }).jetstream.replicas, 3);
});
