/** `odin-ws tail` says when the gateway refuses a channel, and exits when none was subscribed (no silent wait). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../../src/apps/gateway/compose.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function tail(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(process.execPath, [join(root, 'bin/odin-ws.js'), 'tail', ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      res({ code: typeof err?.code === 'number' ? err.code : err ? 1 : 0, stdout, stderr }),
    ),
  );
}

test('tail: a refused channel is reported at once; with none subscribed it exits 1', async () => {
  const gw = await startGateway({ port: 0 });
  try {
    const ws = `${gw.url.replace('http', 'ws')}/ws`;
    const r = await tail(['no such channel!', '--url', ws]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^odin-ws tail: refused: no such channel! \(102 unknown channel\)$/m);
    assert.match(r.stderr, /no channel subscribed/);
    // One good channel among refused ones: it says so and keeps going (here until --timeout).
    const b = await tail(['no such channel!', 'BTC.trade', '--url', ws, '--timeout', '1']);
    assert.match(b.stderr, /refused: no such channel!/);
    assert.match(b.stderr, /nothing received for 1 s/);
    assert.match(b.stdout, /"subscribed":\["BTC\.trade"\]/);
  } finally {
    await gw.close();
  }
});
