/** `odin-ws kafka` and `gateway --ingest kafka` refuse bad input with a clear message and a documented exit code (no broker needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../src/lib/kafka-local/local-broker.js';

const BIN = fileURLToPath(new URL('../../../bin/odin-ws.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

test('odin-ws kafka: usage errors exit 2, an unreachable broker exits 1, each with a readable message', async () => {
  const unknown = run(['kafka', 'frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const bad = run(['kafka', 'create-topics', '--partitions', '0']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--partitions: expected a number ≥ 1/);
  const badBrokers = run(['kafka', 'topics', '--kafka-brokers', 'nohost']);
  assert.equal(badBrokers.status, 2);
  assert.match(badBrokers.stderr, /kafka\.brokers\.0: expected host:port/);
  const closed = await freeLoopbackPort();
  const down = run(['kafka', 'topics', '--kafka-brokers', `127.0.0.1:${closed}`]);
  assert.equal(down.status, 1);
  assert.match(down.stderr, /odin-ws kafka topics: .*connect/i);
  assert.doesNotMatch(down.stderr, /\n\s+at /, 'no stack trace');
  const gw = run(['gateway', '--ingest', 'kafka', '--kafka-mode', 'shared']);
  assert.equal(gw.status, 2);
  assert.match(gw.stderr, /kafka\.mode: "shared" .* memory broker/);
});
