/**
 * The operations files are checked against the real thing: the dashboard and alerts only use
 * metrics the gateway and publisher export, the Kubernetes config is a valid gateway config,
 * the compose file's mounts exist, and a real Prometheus scrapes both services with our
 * scrape config and loads our alert rules.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';
import { startPublisher, type RunningPublisher } from '../../src/lib/publisher/server.js';
import { freePort } from '../testkit/free-port.js';
import { waitFor } from '../testkit/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const ops = join(root, 'ops');
const read = (p: string): string => readFileSync(join(ops, p), 'utf8');

let gw: RunningGateway;
let pub: RunningPublisher;
let exported = '';

before(async () => {
  gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: 'ops-key' });
  pub = await startPublisher({ port: 0, host: '127.0.0.1', sink: { kind: 'gateway', url: gw.url, apiKey: 'ops-key' }, processMetrics: false });
  exported = (await (await fetch(`${gw.url}/metrics`)).text()) + (await (await fetch(`${pub.url}/metrics`)).text());
});
after(async () => {
  await pub?.close();
  await gw?.close();
});

const METRIC = /\b(?:ws|nodejs|process|odin_publisher)_[a-z0-9_]+/g;

function metricNames(text: string): string[] {
  return [...new Set(text.match(METRIC) ?? [])];
}

test('every metric the Grafana dashboard and the alert rules use is exported', () => {
  const dashboard = JSON.parse(read('grafana/dashboards/odin-ws.json')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n') + '\n' + read('prometheus/alerts.yml');
  const names = metricNames(exprs);
  assert.ok(names.length >= 15, `only ${names.length} metrics referenced`);
  // A series line, or the TYPE line of a labelled metric with no series yet.
  const missing = names.filter((n) => !new RegExp(`^(?:${n}(\\{| )|# TYPE ${n.replace(/_bucket$/, '')} )`, 'm').test(exported));
  assert.deepEqual(missing, []);
});

test('the Kubernetes ConfigMap holds a valid gateway config', () => {
  const docs = parseAllDocuments(read('k8s/gateway.yaml')).map((d) => d.toJS() as { kind: string; data?: Record<string, string> });
  const cm = docs.find((d) => d.kind === 'ConfigMap')!;
  const dir = mkdtempSync(join(tmpdir(), 'odin-ops-'));
  const file = join(dir, 'odin-ws.yaml');
  writeFileSync(file, cm.data!['odin-ws.yaml']!);
  const cfg = loadGatewayConfig(['--config', file, '--broker', 'nats'], {});
  assert.equal(cfg.gateway.maxConnections, 19000);
});

test('docker-compose: every mounted file exists and the gateway runs with the nats broker', () => {
  const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { volumes?: string[]; command?: string[] }> };
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const v of svc.volumes ?? []) {
      const src = v.split(':')[0]!;
      if (src.startsWith('./')) assert.ok(existsSync(join(ops, src)), `${name}: ${src} is missing`);
    }
  }
  assert.ok(existsSync(join(root, 'Dockerfile')));
  // The gateway command must parse as the CLI would take it (workers need a shared broker).
  const cmd = compose.services.gateway?.command ?? [];
  assert.equal(cmd[0], 'gateway');
  assert.doesNotThrow(() => loadGatewayConfig(cmd.slice(1), {}));
  // The Kafka profile's gateway too (shared group into JetStream).
  const kafkaCmd = compose.services['gateway-kafka']?.command ?? [];
  assert.deepEqual(loadGatewayConfig(kafkaCmd.slice(1), {}).kafka?.brokers, ['redpanda:29092']);
});

async function promQuery(base: string, q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } };
  return body.data?.result ?? [];
}

test('a real Prometheus scrapes the gateway and the publisher with our config and loads our alerts', async (t) => {
  const bin = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find(existsSync);
  if (!bin) {
    // CI installs it (.ci/run); by hand: apt-get install prometheus.
    assert.fail('prometheus not found: apt-get install prometheus');
  }
  const dir = mkdtempSync(join(tmpdir(), 'odin-prom-'));
  const conf = parseYaml(read('prometheus/prometheus.yml')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  conf.global.scrape_interval = '1s';
  conf.global.evaluation_interval = '1s';
  conf.rule_files = [join(ops, 'prometheus/alerts.yml')];
  const local: Record<string, string> = { 'odin-ws-gateway': `127.0.0.1:${gw.port}`, 'odin-ws-publisher': `127.0.0.1:${pub.port}` };
  // The NATS exporter job needs the exporter's container (compose only); it must be there.
  assert.deepEqual(
    conf.scrape_configs.find((sc) => sc.job_name === 'nats')?.static_configs[0]?.targets,
    ['nats-exporter:7777'],
  );
  conf.scrape_configs = conf.scrape_configs.filter((sc) => local[sc.job_name] !== undefined);
  for (const sc of conf.scrape_configs) sc.static_configs = [{ targets: [local[sc.job_name]!] }];
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(conf));
  const port = await freePort();
  const child: ChildProcess = spawn(bin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGTERM');
  });
  const base = `http://127.0.0.1:${port}`;
  let upJobs: string[] = [];
  await waitFor(() => {
    void promQuery(base, 'up == 1').then(
      (r) => (upJobs = r.map((x) => x.metric.job!).sort()),
      () => {},
    );
    return upJobs.length === 2;
  }, 30_000, 'both targets up in Prometheus');
  assert.deepEqual(upJobs, ['odin-ws-gateway', 'odin-ws-publisher']);
  const ready = await promQuery(base, 'ws_ready');
  assert.equal(ready[0]?.value[1], '1');
  const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: { rules: unknown[] }[] } };
  assert.equal(rules.data.groups.flatMap((g) => g.rules).length, 7);
});
