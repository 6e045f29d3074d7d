/**
 * What a new user meets first: the README's commands exist and work as written, every link in
 * the README and docs/ resolves, and the rough edges issue 14 listed stay fixed (--version, a
 * clear exit 3 for a port in use, the no-API-key warning, load tester channels that the feed
 * really publishes and a warning for those that receive nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CHANNELS } from '../../src/apps/loadtest/options.js';
import { EventGenerator, DEFAULT_EVENT_WEIGHTS } from '../../src/lib/publisher/generator.js';
import { eventChannel } from '../../src/lib/protocol/events.js';
import { freePort } from '../testkit/free-port.js';
import { startNatsServer } from '../testkit/nats-server.js';
import { findTool } from '../testkit/tools.js';
import { waitFor } from '../testkit/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const CLI = join(root, 'bin/odin-ws.js');

function odin(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeout = 30_000): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

test('every relative link in README.md and docs/ points at a file that exists', () => {
  const broken: string[] = [];
  for (const file of [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      if (!existsSync(resolve(dirname(file), target))) broken.push(`${file.slice(root.length + 1)} → ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});

test('the README names only odin-ws commands and tasks that exist, and the workflow the Taskfile test runs', () => {
  const help = odin(['--help']).out;
  for (const m of readme.matchAll(/node bin\/odin-ws\.js (\w+)/g)) assert.match(help, new RegExp(`^  ${m[1]} `, 'm'), `odin-ws ${m[1]}`);
  for (const c of ['gateway', 'publisher', 'dev', 'health', 'stats', 'tail', 'loadtest', 'bench']) {
    assert.match(readme, new RegExp('`' + c + '`'), `README lists ${c}`);
    assert.match(help, new RegExp(`^  ${c} `, 'm'));
  }
  const task = findTool('task', 'bash scripts/provision/20-task.sh');
  const list = spawnSync(task, ['--list-all', '--json'], { cwd: root, encoding: 'utf8', env: { ...process.env, LOCAL_MODE: 'process' } });
  const names = new Set((JSON.parse(list.stdout) as { tasks: { name: string }[] }).tasks.map((t) => t.name));
  const used = [...readme.matchAll(/^task ([a-z:-]+)/gm)].map((m) => m[1]!);
  assert.deepEqual(used, ['local:deploy:setup', 'local:health:all', 'local:test:sustained', 'local:stats:publisher', 'local:delete:all']);
  for (const n of used) assert.ok(names.has(n), `task ${n}`);
  assert.doesNotMatch(readme, /wscat/, 'wscat is not a dependency');
  // The key comes from the environment: secret flags are refused (issue 21).
  assert.match(readme, /GATEWAY_API_KEY=\$KEY odin-ws gateway [^`]*--workers 2/, 'the scale-out command publishes with an API key');
});

test('a failure at start is one line with its causes, not a stack trace', async () => {
  const r = odin(['gateway', '--host', '127.0.0.1', '--port', '0', '--broker', 'nats', '--nats-url', `nats://127.0.0.1:${await freePort()}`, '--workers', '1']);
  assert.equal(r.status, 1);
  assert.match(r.err, /cannot connect to NATS/);
  assert.doesNotMatch(r.err, /^\s+at /m);
});

test('odin-ws --version prints the package version', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const r = odin(['--version']);
  assert.equal(r.status, 0);
  assert.match(r.out, new RegExp(`^odin-ws ${pkg.version.replace(/\./g, '\\.')} \\(node v\\d+`));
});

test('a port already in use: one clear line and exit 3, no stack trace (gateway, --workers, publisher)', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = String((blocker.address() as { port: number }).port);
  for (const args of [
    ['gateway', '--host', '127.0.0.1', '--port', port],
    ['publisher', '--host', '127.0.0.1', '--port', port],
  ]) {
    const r = odin(args);
    assert.equal(r.status, 3, `${args[0]}: ${r.err}`);
    assert.match(r.err, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
  }
  // With workers, listening happens in the workers; the primary must stop, not restart them forever.
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const r = odin(['gateway', '--host', '127.0.0.1', '--port', port, '--broker', 'nats', '--nats-url', nats.url, '--workers', '2'], {}, 30_000);
  assert.equal(r.status, 3, `the primary stops with 3: ${r.err}`);
  assert.match(r.err, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
  assert.doesNotMatch(r.err, /^\s+at /m);
});

test('the gateway warns at start when no API key is set (publishes would get 401)', async (t) => {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [CLI, 'gateway', '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, GATEWAY_API_KEY: '', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGTERM'));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(() => out.includes('gateway listening'), 20_000, 'gateway listening');
  assert.match(out, /no API key: every POST \/api\/\* .*answers 401/);
});

test('the load tester subscribes by default only to channels the simulated feed publishes on', () => {
  const gen = new EventGenerator({ seed: 7, now: 0 });
  gen.setTokens(['BTC', 'ETH', 'ODIN', 'SOL', 'DOGE'], 0);
  gen.setWeights(DEFAULT_EVENT_WEIGHTS);
  const published = new Set<string>();
  for (let i = 0; i < 5000; i++) published.add(eventChannel(gen.next(i)));
  assert.deepEqual(
    DEFAULT_CHANNELS.filter((c) => !published.has(c)),
    [],
  );
});

test('the README example: tail a channel and publish with the key npm start was given; the load tester warns about a silent channel', async (t) => {
  const gwPort = await freePort();
  const pubPort = await freePort();
  const dev: ChildProcess = spawn(process.execPath, [CLI, 'dev', '--host', '127.0.0.1'], {
    env: { ...process.env, GATEWAY_API_KEY: 'dev-key-0123456789', GATEWAY_PORT: String(gwPort), PUBLISHER_PORT: String(pubPort), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => dev.kill('SIGTERM'));
  let out = '';
  dev.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(() => out.includes('odin-ws dev is running'), 30_000, 'odin-ws dev running');
  // The README's curl line, with the port this test uses.
  const curl = /^curl .*$/m.exec(readme)![0].replace(/\$KEY/g, 'dev-key-0123456789').replace('127.0.0.1:3002', `127.0.0.1:${gwPort}`);
  const tail = spawn(process.execPath, [CLI, 'tail', 'BTC.trade', '--url', `ws://127.0.0.1:${gwPort}/ws`, '--count', '50', '--timeout', '20'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let frames = '';
  tail.stdout.on('data', (b: Buffer) => (frames += b.toString()));
  await waitFor(() => frames.includes('subscription_ack'), 10_000, 'tail subscribed');
  const c = spawnSync('sh', ['-c', curl], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /"result"/);
  await waitFor(() => frames.includes('"price":43250'), 10_000, 'the curl publication reaches tail');
  tail.kill('SIGINT');
  // A channel nothing publishes on is named in a warning.
  const lt = odin([
    'loadtest',
    '--url',
    `ws://127.0.0.1:${gwPort}`,
    '--connections',
    '4',
    '--duration',
    '2',
    '--channels',
    'BTC.trade,BTC.price',
    '--quiet',
  ]);
  assert.equal(lt.status, 0, lt.err);
  assert.match(lt.err, /WARNING: 1 of 2 subscribed channels received nothing: BTC\.price/);
  assert.match(lt.out, /silent channels\s+1: BTC\.price received nothing/);
});
