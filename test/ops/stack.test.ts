/**
 * The no-Docker stack (scripts/local/stack.sh through the real go-task) cannot lie, and carries the
 * plans' backbone: `task up` with a port held by another gateway fails naming that process (the
 * health probe would otherwise reach the other gateway and report a dead stack as up), and with
 * WITH_KAFKA=true the publisher writes the Kafka topics and the gateway ingests them, end to end
 * to WebSocket clients. Free ports, a temporary RUN_DIR, everything stopped by pid at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { freePort } from '../testkit/free-port.js';
import { findTool } from '../testkit/tools.js';
import { waitFor } from '../testkit/wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const run = promisify(execFile);
const task = findTool('task', 'bash scripts/provision/20-task.sh');

async function stackEnv(runDir: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', LOCAL_MODE: 'process', RUN_DIR: runDir, WITH_KAFKA: 'false' };
  for (const v of ['GATEWAY_PORT', 'PUBLISHER_PORT', 'NATS_PORT', 'NATS_MONITOR_PORT', 'PROMETHEUS_PORT', 'KAFKA_PORT', 'GRAFANA_PORT', 'LOKI_PORT'])
    env[v] = String(await freePort());
  return { ...env, ...extra };
}

/** Runs task; resolves with its output and exit code (never throws). */
async function taskRun(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(task, args, { cwd: root, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function deleteAll(env: NodeJS.ProcessEnv, runDir: string): Promise<void> {
  await taskRun(env, 'local:delete:all');
  assert.deepEqual(
    readdirSync(runDir).filter((f) => f.endsWith('.pid')),
    [],
    'a pid file is left: a process still runs',
  );
  rmSync(runDir, { recursive: true, force: true });
}

test('task up with the gateway port held by another gateway fails and names that process', { timeout: 180_000 }, async () => {
  const other = await startGateway({ port: 0, host: '127.0.0.1' });
  const runDir = mkdtempSync(join(tmpdir(), 'odin-stack-taken-'));
  const env = await stackEnv(runDir, { GATEWAY_PORT: String(other.port) });
  try {
    const up = await taskRun(env, 'up');
    assert.notEqual(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`cannot start gateway: port ${other.port} \\(GATEWAY_PORT\\) is already taken by pid ${process.pid} \\(`));
    assert.doesNotMatch(up.out, /all required services are up|local stack is up/);
    // The other gateway is untouched, and nothing of ours holds a gateway pid file.
    assert.equal((await fetch(`${other.url}/health`)).status, 200);
    assert.ok(!readdirSync(runDir).includes('gateway.pid'));
  } finally {
    await deleteAll(env, runDir);
    await other.close();
  }
});

test('no Docker, WITH_KAFKA=true: publisher → Kafka topics → gateway → clients, records readable with stats:consume', { timeout: 420_000 }, async () => {
  const runDir = mkdtempSync(join(tmpdir(), 'odin-stack-kafka-'));
  const env = await stackEnv(runDir, { WITH_KAFKA: 'true' });
  const t = async (...args: string[]): Promise<string> => {
    const r = await taskRun(env, ...args);
    assert.equal(r.code, 0, `task ${args.join(' ')} failed:\n${r.out}`);
    return r.out;
  };
  try {
    const up = await t('up');
    assert.match(up, /kafka: the Odin topics exist/);
    assert.match(up, /all required services are up/);
    assert.match(up, /^kafka\s+UP/m);
    // The load test drives the publisher (sink kafka); the gateway ingests the topics (--ingest kafka).
    const lt = await t('local:test:light', 'DURATION=4', 'CONNECTIONS=10', 'RATE=50', 'ASSERT=loss=0');
    const delivered = Number(/messages\s+([\d,]+) delivered/.exec(lt)?.[1]?.replace(/,/g, ''));
    assert.ok(delivered > 0, `nothing delivered through Kafka:\n${lt}`);
    assert.match(lt, /publisher control http:\/\/127\.0\.0\.1:\d+, sustained 50\/s/);
    // The plan's open-ended run: test:sustained runs until test:stop, which ends it (with its summary) and the publisher's run.
    const sustained = spawn(task, ['local:test:sustained', 'CONNECTIONS=5', 'RATE=20'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let sustainedOut = '';
    sustained.stdout.on('data', (d: Buffer) => (sustainedOut += d.toString()));
    sustained.stderr.on('data', (d: Buffer) => (sustainedOut += d.toString()));
    const sustainedExit = new Promise<number | null>((r) => sustained.on('exit', (code) => r(code)));
    await waitFor(() => sustainedOut.includes('running until stopped'), 60_000, 'the sustained run to start');
    const stop = await t('local:test:stop');
    assert.match(stop, /loadtest stopped/);
    assert.match(stop, /"success":true/);
    assert.equal(await sustainedExit, 0, sustainedOut);
    assert.match(sustainedOut, /odin-ws loadtest summary[\s\S]*5 established of 5/);
    assert.match(sustainedOut, /publisher control http:\/\/127\.0\.0\.1:\d+, sustained 20\/s/);
    const publisher = await t('local:stats:publisher');
    assert.match(publisher, /kafka/);
    // The records are on the topic, readable as the plan's stats:consume TOPIC NUM.
    const consumed = await t('local:stats:consume', 'TOPIC=odin.trades', 'NUM=3');
    const records = consumed
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { topic: string; key: string; value: { type: string } });
    assert.equal(records.length, 3, consumed);
    for (const r of records) {
      assert.equal(r.topic, 'odin.trades');
      assert.match(r.key, /^[A-Z0-9]+$/); // the token: the gateway's channel is <key>.trade
      assert.match(r.value.type, /trade/i);
    }
    // Asking for more than there is ends after WAIT seconds, saying so, instead of waiting silently.
    const short = await taskRun(env, 'local:stats:consume', 'TOPIC=odin.trades', 'NUM=1000000', 'WAIT=2');
    assert.notEqual(short.code, 0);
    assert.match(short.out, /odin-ws kafka consume: \d+ of 1000000 records in 2 s: is anything producing to odin\.trades\?/);
    const topics = await t('local:stats:topics');
    const end = /^odin\.trades\s+12\s+([\d,]+)/m.exec(topics);
    assert.ok(end && Number(end[1]!.replace(/,/g, '')) >= 3, topics);
    // publisher:start / stop, the first plan's names, drive the same publisher.
    assert.match(await t('publisher:start', 'RATE=20'), /"success":true/);
    assert.match(await t('publisher:stop'), /"success":true/);
  } finally {
    await deleteAll(env, runDir);
  }
});
