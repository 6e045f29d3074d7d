/**
 * Every task name of both plans, verbatim (issue 24's lists; docs/development/taskfile.md maps
 * them), run with the real go-task: each is a task or a listed alias, `task --dry NAME` succeeds
 * for every one (or says in one line what this machine lacks), an unknown name fails in one line
 * without the task list, and the tasks that need Docker or a cluster say so when run for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findTool } from '../testkit/tools.js';
import { fakeKubeconfig, GKE_VARS } from './gke-fixture.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const task = findTool('task', 'bash scripts/provision/20-task.sh');
const run = promisify(execFile);

/** The first plan's names ("go" is our gateway). */
export const FIRST_PLAN = (
  'build:go, build:publisher, build:docker, build:docker:go, build:docker:publisher, docker:up, docker:down, ' +
  'docker:restart, docker:rebuild, docker:logs, docker:logs:go, docker:logs:publisher, docker:logs:nats, docker:ps, ' +
  'docker:clean, dev:go, dev:publisher, dev:nats, test:light, test:medium, test:heavy, test:custom, monitor:health, ' +
  'monitor:health:go, monitor:metrics, monitor:publisher:stats, monitor:grafana, monitor:prometheus, monitor:targets, ' +
  'publisher:start, publisher:stop, publisher:configure, install, install:go, install:publisher, format, lint:go, ' +
  'lint:ts, clean, clean:go, clean:publisher, setup, quick-start, full-test, dev'
).split(', ');

/** The second plan's names, under local: and gcp:, and its quick commands. */
const SECOND_GROUPS: Record<string, string> = {
  delete: 'redpanda|publisher|ws|monitoring|all',
  start: 'redpanda|publisher|ws|monitoring|all',
  restart: 'redpanda|publisher|ws|all',
  rebuild: 'publisher|ws|all',
  logs: 'redpanda|publisher|ws|all',
  health: 'redpanda|publisher|ws|prometheus|grafana|all|detailed',
  deploy: 'setup|reset|rebuild-code',
  test: 'sustained|stop|burst|ramp',
  stats: 'publisher|ws|ips|topics|consume|monitor:live',
};
export const SECOND_PLAN = [
  ...['local', 'gcp'].flatMap((env) =>
    Object.entries(SECOND_GROUPS).flatMap(([group, items]) => items.split('|').map((i) => `${env}:${group}:${i}`)),
  ),
  'up',
  'down',
  'health',
  'test',
];

const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  NO_COLOR: '1',
  LOCAL_MODE: 'process',
  RUN_DIR: join(tmpdir(), 'odin-plan-names'),
  KUBECONFIG: fakeKubeconfig(),
};
/** What the tasks that take variables are given: real-looking secrets, an image in a registry, sizes. */
const VARS = ['CONNECTIONS=10', 'DURATION=1', ...GKE_VARS];

/** Names that cannot run on this machine by design, and the one line each must say instead. */
const NEEDS: Record<string, RegExp> = {
  'monitor:grafana': /Grafana runs in the Docker stack only/,
  'local:health:grafana': /Grafana runs in the Docker stack only/,
};

interface TaskInfo {
  name: string;
  aliases: string[];
}

async function tasks(): Promise<TaskInfo[]> {
  const { stdout } = await run(task, ['--list-all', '--json'], { cwd: root, env: ENV });
  return (JSON.parse(stdout) as { tasks: TaskInfo[] }).tasks;
}

test('the plans: 45 + 86 names, every one a task or an alias, aliases shown by task --list', async () => {
  assert.equal(FIRST_PLAN.length, 45);
  assert.equal(SECOND_PLAN.length, 86);
  const all = await tasks();
  const known = new Set(all.flatMap((t) => [t.name, ...t.aliases]));
  assert.deepEqual(
    [...FIRST_PLAN, ...SECOND_PLAN].filter((n) => !known.has(n)),
    [],
  );
  // An alias is listed beside its task, so a user of the plans finds our name too.
  const { stdout } = await run(task, ['--list'], { cwd: root, env: ENV });
  for (const [alias, target] of [
    ['local:start:redpanda', 'local:start:kafka'],
    ['local:start:ws', 'local:start:gateway'],
    ['build:go', 'build'],
    ['monitor:health', 'health'],
    ['test:light', 'local:test:light'],
  ] as const)
    assert.match(stdout, new RegExp(`^\\* ${target}:.*aliases:[^)]*\\b${alias}\\b`, 'm'), `${alias} is not listed with ${target}`);
});

/** `task --dry NAME VARS`: exit status and output. */
function dry(name: string, mode = 'process'): { name: string; status: number | null; out: string } {
  const r = spawnSync(task, ['--dry', name, ...VARS], { cwd: root, env: { ...ENV, LOCAL_MODE: mode }, encoding: 'utf8', timeout: 60_000 });
  return { name, status: r.status, out: r.stdout + r.stderr };
}

test('task --dry in Docker mode: every local name of the second plan renders, services through compose', { timeout: 300_000 }, () => {
  const failures: string[] = [];
  for (const name of SECOND_PLAN.filter((n) => n.startsWith('local:'))) {
    const r = dry(name, 'docker');
    if (r.status !== 0) failures.push(`${name}: exit ${r.status}\n${r.out}`);
    if (/stack\.sh (start|stop|delete|restart|rebuild|logs) (?!loadtest)/.test(r.out)) failures.push(`${name}: runs the process stack in Docker mode`);
  }
  assert.deepEqual(failures, []);
  assert.match(dry('local:start:redpanda', 'docker').out, /compose\.sh start kafka/);
  assert.match(dry('local:health:grafana', 'docker').out, /odin-ws\.js health grafana/);
});

test('task --dry: every plan name renders its commands, or says in one line what it needs here', { timeout: 600_000 }, () => {
  const failures: string[] = [];
  for (const name of [...new Set([...FIRST_PLAN, ...SECOND_PLAN])]) {
    const r = dry(name);
    const need = NEEDS[name];
    if (need) {
      if (r.status === 0 || !need.test(r.out)) failures.push(`${name}: expected to say ${need}, got ${r.status}: ${r.out}`);
      continue;
    }
    if (r.status !== 0) failures.push(`${name}: exit ${r.status}\n${r.out}`);
    else if (!/^task: \[[^\]]+\] /m.test(r.out) && !/up to date/.test(r.out)) failures.push(`${name}: no command rendered\n${r.out}`);
    if (/Available tasks for this project/.test(r.out)) failures.push(`${name}: printed the task list`);
  }
  assert.deepEqual(failures, []);
});

test('task --dry: the plans names run what they say', () => {
  const cmds = (name: string): string => dry(name).out;
  // redpanda and ws are our kafka and gateway; the backbone starts Kafka, the gateway then ingests it.
  assert.match(cmds('local:start:redpanda'), /stack\.sh start kafka/);
  assert.match(cmds('local:restart:ws'), /stack\.sh restart gateway/);
  assert.match(cmds('local:logs:all'), /stack\.sh logs all/);
  // Load tests: the presets carry the plans' defaults (odin-ws loadtest --help).
  assert.match(cmds('local:test:sustained'), /loadtest .*--pid-file \S+ .*\bsustained$/m);
  assert.match(cmds('local:test:burst'), /loadtest .* burst$/m);
  assert.match(cmds('test:custom'), /--connections 10 --duration 1 +sustained$/m);
  assert.match(cmds('local:test:stop'), /stack\.sh stop loadtest[\s\S]*"action":"stop"/);
  // Kafka records, as the plan's stats:consume TOPIC NUM.
  const r = spawnSync(task, ['--dry', 'local:stats:consume', 'TOPIC=odin.trades', 'NUM=10'], { cwd: root, env: ENV, encoding: 'utf8' });
  assert.match(r.stderr, /kafka consume odin\.trades --n 10 --kafka-brokers 127\.0\.0\.1:\d+ --wait 10/);
  // GKE: the cluster's own context on every call (never the current one), and IMAGE deployed.
  const gcp = cmds('gcp:start:all');
  assert.doesNotMatch(gcp, /^task: \[[^\]]+\] kubectl (?!--context gke_p_europe-west1_c )/m);
  assert.doesNotMatch(gcp, /^task: \[[^\]]+\] helm (?!repo add|--kube-context gke_p_europe-west1_c )/m);
  assert.match(gcp, /image: europe-west1-docker\.pkg\.dev\/p\/odin\/odin-ws:1#' ops\/k8s\/gateway\.yaml \| kubectl --context/);
  assert.match(cmds('docker:logs:go'), /compose\.sh logs gateway/);
});

test('an unknown task name fails in one line, without the task list', () => {
  const r = spawnSync(task, ['no:such:task'], { cwd: root, env: ENV, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^task: there is no task "no:such:task"/);
  assert.doesNotMatch(r.stdout + r.stderr, /Available tasks/);
  assert.ok((r.stdout + r.stderr).trim().split('\n').length <= 2, r.stderr);
});

test('run for real here: Docker tasks say what Docker lacks, GKE tasks refuse unsafe or unknown targets, in one line each', () => {
  const real = (args: string[], env: NodeJS.ProcessEnv = ENV): { status: number | null; out: string } => {
    const r = spawnSync(task, args, { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const noDocker = /this needs (Docker|Docker's compose plugin|a running Docker daemon)/;
  for (const name of ['docker:ps', 'docker:up', 'build:docker:go']) {
    const r = real([name]);
    assert.notEqual(r.status, 0, name);
    assert.match(r.out, noDocker, name);
    assert.doesNotMatch(r.out, /Available tasks/);
  }
  // The kube context of the target cluster must exist; the current one (someone else's) is never used.
  const noCtx = real(['gcp:delete:all', 'GCP_PROJECT=p', 'GKE_CLUSTER=other']);
  assert.notEqual(noCtx.status, 0);
  assert.match(noCtx.out, /no kube context "gke_p_europe-west1_other" for the cluster these tasks target/);
  // The publicly known local key is refused as the cluster's secret.
  const weak = real(['gcp:deploy:secrets', ...VARS.filter((v) => !v.startsWith('GATEWAY_API_KEY=')), 'GATEWAY_API_KEY=local-dev-key']);
  assert.notEqual(weak.status, 0);
  assert.match(weak.out, /must be real secrets/);
  // A port-forward that fails (here: the fake cluster at 127.0.0.1:1 refuses) fails the task, naming it.
  const pf = real(['gcp:port-forward', 'GCP_PROJECT=p', 'GKE_CLUSTER=c']);
  assert.notEqual(pf.status, 0);
  assert.match(pf.out, /gcp: port-forward ended for svc\/[\w-]+ \(\d+:\d+\) \(exit 1\)/);
  // An image the cluster cannot pull is refused before anything is applied.
  const img = real(['--dry', 'gcp:start:publisher', ...VARS.filter((v) => !v.startsWith('IMAGE=')), 'IMAGE=odin-ws:latest']);
  assert.notEqual(img.status, 0);
  assert.match(img.out, /is not an image the cluster can pull/);
});
