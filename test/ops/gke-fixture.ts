/** What the GKE tasks need to render on a machine without a cluster: a kubeconfig and real-looking variables. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A kubeconfig holding the context the gcp tasks derive from GCP_PROJECT=p GKE_CLUSTER=c
 * (gke_p_europe-west1_c) and, current, another cluster's: the tasks must never use the current one.
 * Nothing connects to it (its server is 127.0.0.1:1).
 */
export function fakeKubeconfig(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'odin-kube-')), 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: gke_p_europe-west1_c, context: {cluster: c, user: u}}, {name: someone-elses-prod, context: {cluster: c, user: u}}]',
      'current-context: someone-elses-prod',
    ].join('\n'),
  );
  return file;
}

/** The variables of that cluster: real-looking secrets (24+ characters), an image in a registry, a Kafka. */
export const GKE_VARS = [
  'GCP_PROJECT=p',
  'GKE_CLUSTER=c',
  'IMAGE=europe-west1-docker.pkg.dev/p/odin/odin-ws:1',
  'GATEWAY_API_KEY=k1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
  'TOKEN_SECRET=s1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
  'PUBLISHER_CONTROL_KEY=c1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
  'GCP_KAFKA_BROKERS=kafka.example:9092',
];
