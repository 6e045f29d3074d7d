/**
 * The Taskfile, run with the real go-task binary: it parses, it has the plans' task names,
 * dry runs of every task list only commands that exist here (local tasks) or are the documented
 * cluster tools (gcp tasks), and the no-Docker workflow a new user follows runs end to end on
 * free ports: deploy:setup → health:all → test:light → test:sustained → stats → delete:all.
 * The benchmark tasks each render the reproduction command docs/performance.md gives (never run
 * here, except one whose contenders are all missing: the bench skips them, naming what each lacks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../testkit/free-port.js';
import { findTool, onPath } from '../testkit/tools.js';
import { fakeKubeconfig, GKE_VARS } from './gke-fixture.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const run = promisify(execFile);
const task = findTool('task', 'bash scripts/provision/20-task.sh');

/** The names the plans use (docs/development/taskfile.md lists them all). */
const SERVICES = ['nats', 'kafka', 'gateway', 'publisher', 'monitoring'];
const REQUIRED = [
  ...['start', 'stop', 'delete', 'restart', 'rebuild'].flatMap((a) => [...SERVICES, 'all'].map((s) => `local:${a}:${s}`)),
  ...SERVICES.map((s) => `local:logs:${s}`),
  'local:health:all',
  'local:health:detailed',
  'local:health:gateway',
  'local:health:publisher',
  'local:health:nats',
  'local:deploy:setup',
  'local:deploy:reset',
  'local:deploy:rebuild-code',
  ...['light', 'medium', 'heavy', 'custom', 'sustained', 'burst', 'ramp', 'stop'].map((t) => `local:test:${t}`),
  ...['publisher', 'ws', 'ips', 'topics', 'consume', 'monitor:live'].map((t) => `local:stats:${t}`),
  ...['start', 'delete', 'restart', 'logs'].flatMap((a) => [...SERVICES, 'all'].filter((s) => a !== 'logs' || s !== 'all').map((s) => `gcp:${a}:${s}`)),
  'gcp:health:all',
  'gcp:deploy:setup',
  'gcp:deploy:reset',
  'gcp:deploy:rebuild-code',
  ...['light', 'medium', 'heavy', 'custom', 'sustained', 'burst', 'ramp', 'stop'].map((t) => `gcp:test:${t}`),
  ...['up', 'down', 'health', 'test', 'install', 'build', 'format', 'lint', 'clean'],
];

/** The benchmarks (taskfiles/local/bench.yml): one task per reproduction command, then the aggregates. */
const BENCH_TASKS = [
  'bench:rates:kafka',
  'bench:rates:api',
  'bench:scale',
  'bench:storm',
  'bench:workers',
  'bench:idle',
  'bench:write-window',
  'bench:write-window:core',
  'bench:state-cost',
  'bench:kafka-ingest',
  'bench:fanout',
];
/** bench:all's quiet-machine set, in its order. */
const BENCH_ALL = ['bench:rates:kafka', 'bench:rates:api', 'bench:scale', 'bench:storm', 'bench:workers', 'bench:idle', 'bench:write-window', 'bench:state-cost'];

/** Variables some tasks require, so a dry run can render them (the GKE ones: real-looking keys, an image). */
const DRY_VARS = ['CONNECTIONS=10', 'DURATION=1', 'RATE=5', ...GKE_VARS];
/** The kube context the gcp tasks check for (they name it on every call; nothing connects to it). */
const KUBECONFIG = fakeKubeconfig();
/** Tasks that refuse to run as processes by design (test/ops/plan-names.test.ts checks what they say), and the catch-all. */
const NOT_IN_PROCESS_MODE = new Set(['monitor:grafana', 'local:health:grafana', '*']);

async function taskNames(): Promise<string[]> {
  const { stdout } = await run(task, ['--list-all', '--json'], { cwd: root, env: { ...process.env, LOCAL_MODE: 'process' } });
  return (JSON.parse(stdout) as { tasks: { name: string }[] }).tasks.map((t) => t.name);
}

test('the Taskfile parses and has every task the plans name', async () => {
  const names = await taskNames();
  const missing = [...REQUIRED, ...BENCH_TASKS, 'bench:rates', 'bench:all'].filter((n) => !names.includes(n));
  assert.deepEqual(missing, []);
  assert.ok(names.length >= REQUIRED.length);
});

/** Commands a dry run would execute, as `[task, command]`. */
function dryRun(names: readonly string[], mode: string): [string, string][] {
  const r = spawnSync(task, ['--dry', ...names, ...DRY_VARS], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', LOCAL_MODE: mode, RUN_DIR: join(tmpdir(), 'odin-dry-run'), KUBECONFIG },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `task --dry failed:\n${r.stderr}`);
  return [...r.stderr.matchAll(/^task: \[([^\]]+)\] (.+)$/gm)].map((m) => [m[1]!, m[2]!]);
}

const ODIN_COMMANDS = new Set(['gateway', 'publisher', 'dev', 'health', 'stats', 'tail', 'loadtest', 'bench']);
/** What gcp:* and Docker tasks run on a workstation with the cluster tools; not installed here. */
const CLUSTER_TOOLS = new Set(['kubectl', 'helm', 'gcloud', 'docker']);

function checkCommand(name: string, cmd: string, allowCluster: boolean): string | null {
  const words = cmd.trim().split(/\s+/);
  const first = words[0]!;
  if (first === 'bash' && words[1]?.endsWith('.sh')) return existsSync(join(root, words[1])) ? null : `${name}: ${words[1]} is missing`;
  if (first === 'node' && words[1] === 'bin/odin-ws.js')
    return words[2] === '--version' || ODIN_COMMANDS.has(words[2]!) ? null : `${name}: odin-ws has no command "${words[2]}"`;
  // A compiled script (the benches): its source is in the tree.
  if (first === 'node' && words[1]?.startsWith('dist/')) {
    const source = words[1].replace(/^dist\//, '').replace(/\.js$/, '.ts');
    return existsSync(join(root, source)) ? null : `${name}: ${words[1]} has no source ${source}`;
  }
  if (first === 'npm' && words[1] === 'run') {
    const scripts = (JSON.parse(spawnSync('node', ['-p', 'JSON.stringify(require("./package.json").scripts)'], { cwd: root, encoding: 'utf8' }).stdout) as Record<string, string>);
    return scripts[words[2]!] ? null : `${name}: no npm script "${words[2]}"`;
  }
  if (first === 'rm' || first === 'echo' || first === 'command') return null;
  if (CLUSTER_TOOLS.has(first)) return allowCluster ? null : `${name}: runs ${first}, which a local no-Docker task must not need`;
  return onPath(first) ? null : `${name}: "${first}" is not installed here`;
}

test('dry runs: every local task (no-Docker mode) lists only commands that exist here', async () => {
  const names = (await taskNames()).filter(
    (n) => !n.startsWith('gcp:') && n !== 'loadtest' && n !== 'shared:build:image' && !NOT_IN_PROCESS_MODE.has(n),
  );
  const cmds = dryRun(names, 'process');
  assert.ok(cmds.length >= names.length / 2, `only ${cmds.length} commands for ${names.length} tasks`);
  const problems = cmds.map(([n, c]) => checkCommand(n, c, false)).filter((p): p is string => p !== null);
  assert.deepEqual(problems, []);
  // The aggregate starts every service in dependency order.
  const startAll = dryRun(['local:start:all'], 'process').map(([, c]) => c.replace(/^bash scripts\/local\/stack.sh /, ''));
  const order = ['start nats', 'start gateway', 'start publisher', 'start monitoring'].map((c) => startAll.indexOf(c));
  assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!)), `start:all order: ${startAll.join(' | ')}`);
});

test('dry runs: Docker mode uses docker compose and GKE tasks use kubectl, helm, gcloud', async () => {
  const all = await taskNames();
  const docker = dryRun(['local:start:all', 'local:delete:all', 'local:logs:gateway'], 'docker');
  assert.ok(docker.every(([, c]) => c.startsWith('bash scripts/local/compose.sh ')), JSON.stringify(docker));
  const gcp = dryRun(all.filter((n) => n.startsWith('gcp:')), 'process');
  const problems = gcp.map(([n, c]) => checkCommand(n, c, true)).filter((p): p is string => p !== null);
  assert.deepEqual(problems, []);
  for (const f of ['gateway.yaml', 'publisher.yaml', 'kafka.yaml', 'nats-values.yaml', 'prometheus-values.yaml'])
    assert.ok(existsSync(join(root, 'ops/k8s', f)), `ops/k8s/${f} (used by the gcp tasks) is missing`);
});

/** `task --dry NAME [-- ARGS]`: the commands of task NAME itself (not its build dependency). */
function benchDry(name: string, args: readonly string[] = []): [string, string][] {
  const r = spawnSync(task, ['--dry', name, ...(args.length > 0 ? ['--', ...args] : [])], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', LOCAL_MODE: 'process' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `task --dry ${name} failed:\n${r.stderr}`);
  return [...r.stderr.matchAll(/^task: \[(bench:[^\]]+)\] (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]);
}

/** One command as a shell line says it: continuation lines joined, the build step and comments left out. */
const normalize = (cmd: string): string =>
  cmd
    .trim()
    .replace(/^npm run build && /, '')
    .replace(/\s+#.*$/, '')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * What docs/performance.md says each task runs: a line `# task NAME [-- ARGS]` in a shell block,
 * then the command (with `\` continuations); and "`task NAME` alone runs `COMMAND`" notes.
 */
function documentedBenchCommands(): { name: string; args: string[]; command: string }[] {
  const lines = readFileSync(join(root, 'docs/performance.md'), 'utf8').split('\n');
  const found: { name: string; args: string[]; command: string }[] = [];
  lines.forEach((line, i) => {
    const marker = /^# task (bench:[\w:-]+)(?: -- (.+))?$/.exec(line);
    if (marker) {
      let cmd = '';
      for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('#'); j++) {
        cmd += ' ' + lines[j]!.replace(/\\$/, '');
        if (!lines[j]!.endsWith('\\')) break;
      }
      found.push({ name: marker[1]!, args: marker[2]?.split(' ') ?? [], command: normalize(cmd) });
    }
    const alone = /`task (bench:[\w:-]+)` alone runs `([^`]+)`/.exec(line);
    if (alone) found.push({ name: alone[1]!, args: [], command: normalize(alone[2]!) });
  });
  return found;
}

test('the bench tasks: task --list shows each with how long it takes; bench is an alias of bench:fanout', async () => {
  const { stdout } = await run(task, ['--list'], { cwd: root, env: { ...process.env, NO_COLOR: '1', LOCAL_MODE: 'process' } });
  const problems: string[] = [];
  for (const name of [...BENCH_TASKS, 'bench:rates', 'bench:all']) {
    const line = stdout.split('\n').find((l) => l.startsWith(`* ${name}: `));
    if (line === undefined) problems.push(`${name} is not listed`);
    else if (!/about [\d–-]+ min|a few minutes/.test(line)) problems.push(`${name}: the description does not say how long it takes: ${line}`);
  }
  assert.deepEqual(problems, []);
  assert.match(stdout, /^\* bench:fanout:.*aliases:[^)]*\bbench\b/m);
  assert.deepEqual(benchDry('bench'), benchDry('bench:fanout'));
  // The guide names every one.
  const guide = readFileSync(join(root, 'docs/development/taskfile.md'), 'utf8');
  assert.deepEqual(
    [...BENCH_TASKS, 'bench:rates', 'bench:all'].filter((n) => !guide.includes(`\`${n}\``)),
    [],
  );
});

test('dry runs: every bench task renders the command docs/performance.md gives for it, ARGS passed through', () => {
  const documented = documentedBenchCommands();
  assert.deepEqual(
    BENCH_TASKS.filter((n) => !documented.some((d) => d.name === n && d.args.length === 0)),
    [],
    'a bench task without its command in docs/performance.md',
  );
  const problems: string[] = [];
  for (const d of documented) {
    const rendered = benchDry(d.name, d.args).map(([, c]) => normalize(c));
    if (rendered.length !== 1 || rendered[0] !== d.command)
      problems.push(`task --dry ${d.name}${d.args.length ? ` -- ${d.args.join(' ')}` : ''}\n  renders  ${rendered.join(' | ')}\n  docs say ${d.command}`);
  }
  assert.deepEqual(problems, []);
  // odin-ws bench: a flag given again wins, so ARGS after the documented flags shrink a run.
  assert.match(benchDry('bench:rates:api', ['--runs', '1', '--points', '10x1'])[0]![1], / --runs 3 .* --runs 1 --points 10x1$/);
});

test('dry runs: bench:all runs the quiet-machine set in order and passes no ARGS on; bench:rates passes them to both', () => {
  const all = benchDry('bench:all', ['--points', '7x7']);
  assert.deepEqual(
    all.map(([n]) => n),
    BENCH_ALL,
  );
  assert.deepEqual(
    all.filter(([, c]) => c.includes('7x7')),
    [],
  );
  const rates = benchDry('bench:rates', ['--points', '7x7']);
  assert.deepEqual(
    rates.map(([n]) => n),
    ['bench:rates:kafka', 'bench:rates:api'],
  );
  assert.ok(rates.every(([, c]) => c.endsWith('--points 7x7')), JSON.stringify(rates));
});

test('run for real: a Kafka-feed bench whose contenders are missing here skips each, naming what it lacks, and succeeds', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'odin-bench-task-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    LOCAL_MODE: 'process',
    KAFKA_LIBS: dir, // no jars in it
    ODIN_BENCH_GO_GATEWAY_KAFKA: join(dir, 'no-such-ws-single'),
    HOME: dir, // the multi binary's default: $HOME/.cache/odin-ws/ws_poc-kafka/ws-multi
  };
  delete env.ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI;
  try {
    const out = join(dir, 'results.json');
    const r = await run(task, ['bench:rates:kafka', '--', '--runs', '1', '--points', '10x1', '--out', out, '--svg', join(dir, 'chart.svg')], {
      cwd: root,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.match(r.stderr, new RegExp(`^skipping odin-ws-kafka: Kafka's jars are not in ${dir}`, 'm'));
    assert.match(r.stderr, new RegExp(`^skipping go-gateway-kafka: ${dir}/no-such-ws-single not found`, 'm'));
    assert.match(r.stderr, new RegExp(`^skipping go-gateway-kafka-multi: ${dir}/\\.cache/odin-ws/ws_poc-kafka/ws-multi not found`, 'm'));
    const results = JSON.parse(readFileSync(out, 'utf8')) as { skipped: Record<string, string>; records: unknown[] };
    assert.deepEqual(Object.keys(results.skipped).sort(), ['go-gateway-kafka', 'go-gateway-kafka-multi', 'odin-ws-kafka']);
    assert.deepEqual(results.records, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no-Docker workflow end to end on free ports: setup → health → load tests → stats → delete', { timeout: 600_000 }, async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'odin-task-e2e-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1', // CI=true makes task colour its output, which the parsing here does not expect
    LOCAL_MODE: 'process',
    RUN_DIR: runDir,
    GATEWAY_PORT: String(await freePort()),
    PUBLISHER_PORT: String(await freePort()),
    NATS_PORT: String(await freePort()),
    NATS_MONITOR_PORT: String(await freePort()),
    PROMETHEUS_PORT: String(await freePort()),
    // Nothing of the user's machine may answer in their place.
    KAFKA_PORT: String(await freePort()),
    GRAFANA_PORT: String(await freePort()),
    LOKI_PORT: String(await freePort()),
  };
  const t = async (...args: string[]): Promise<string> => {
    try {
      const r = await run(task, args, { cwd: root, env, maxBuffer: 16 * 1024 * 1024 });
      return r.stdout + r.stderr;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`task ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
    }
  };
  try {
    const setup = await t('local:deploy:setup');
    assert.match(setup, /all required services are up/);
    const health = await t('local:health:all');
    for (const s of ['gateway', 'publisher', 'nats', 'prometheus']) assert.match(health, new RegExp(`^${s}\\s+UP`, 'm'));
    const light = await t('local:test:light', 'DURATION=3', 'CONNECTIONS=20', 'ASSERT=loss=0');
    assert.match(light, /odin-ws loadtest summary/);
    const sustained = await t('local:test:sustained', 'DURATION=3', 'CONNECTIONS=20', 'RATE=40', 'ASSERT=loss=0');
    const delivered = Number(/messages\s+([\d,]+) delivered/.exec(sustained)?.[1]?.replace(/,/g, ''));
    assert.ok(delivered > 0, `nothing delivered:\n${sustained}`);
    assert.doesNotMatch(sustained, /received nothing/);
    const stats = await t('local:stats:publisher');
    const published = Number(/messages published\s+([\d,]+)/.exec(stats)?.[1]?.replace(/,/g, ''));
    assert.ok(published > 0, `publisher published nothing:\n${stats}`);
    const ws = await t('local:stats:ws');
    assert.match(ws, /^ready\s+true/m);
    const topics = await t('local:stats:topics');
    assert.match(topics, /NATS JETSTREAM STREAMS/);
  } finally {
    const out = await t('local:delete:all').catch((e: Error) => e.message);
    assert.match(out, /gateway stopped/);
    assert.deepEqual(readdirSync(runDir).filter((f) => f.endsWith('.pid')), [], 'a pid file is left: a process still runs');
    rmSync(runDir, { recursive: true, force: true });
  }
  // Every port is closed again.
  const h = spawnSync('node', ['bin/odin-ws.js', 'health', '--require', 'none', '--json'], { cwd: root, env, encoding: 'utf8' });
  const services = (JSON.parse(h.stdout) as { services: { name: string; status: string }[] }).services;
  assert.deepEqual(services.filter((s) => s.status !== 'down').map((s) => s.name), []);
});

test('no-Docker Kafka: local:start:kafka runs a broker from its jars, health and stats see its topics and the group lag', { timeout: 300_000 }, async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'odin-task-kafka-'));
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', LOCAL_MODE: 'process', RUN_DIR: runDir, KAFKA_PORT: String(await freePort()) };
  const t = (...args: string[]): Promise<{ stdout: string; stderr: string }> => run(task, args, { cwd: root, env, maxBuffer: 16 * 1024 * 1024 });
  try {
    await t('local:start:kafka');
    const health = await t('local:health:kafka');
    assert.match(health.stdout, /^kafka\s+UP\s+.*answers ApiVersions/m);
    const topics = (await t('local:stats:topics')).stdout;
    assert.match(topics, /^odin\.trades\s+12\s+0/m, topics);
    const consume = (await t('local:stats:consume')).stdout;
    assert.match(consume, /KAFKA CONSUMER GROUP odin-ws-gateway/);
    assert.match(consume, /^odin\.trades\s+0\s+0\s+no commits/m, consume);
  } finally {
    await t('local:delete:kafka');
    assert.deepEqual(readdirSync(runDir).filter((f) => f.endsWith('.pid')), []);
    rmSync(runDir, { recursive: true, force: true });
  }
});
