/**
 * `odin-ws dev` (what `npm start` runs), as a user would: a child process, its printed URLs,
 * live data on both protocols, and a clean exit on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestClient } from '../testkit/ws-client.js';

const bin = fileURLToPath(new URL('../../../bin/odin-ws.js', import.meta.url));

test('odin-ws dev: prints its URLs, serves live simulated data on both protocols, exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [bin, 'dev'], {
    env: { ...process.env, GATEWAY_PORT: '0', PUBLISHER_PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    let out = '';
    const odinUrl = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URLs printed: ${out}`)), 15_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Odin protocol\s+(ws:\/\/\S+)/.exec(out);
        if (m && out.includes('Centrifugo protocol')) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const centUrl = /Centrifugo protocol\s+(ws:\/\/\S+)/.exec(out)![1]!;
    const odin = await TestClient.connect(odinUrl);
    odin.send({ type: 'subscribe', data: { channels: ['BTC.trade', 'ETH.trade', 'ODIN.trade', 'SOL.trade', 'DOGE.trade'] } });
    const push = await odin.next((m) => typeof m.channel === 'string' && typeof m.offset === 'number', 15_000);
    assert.match(push.channel as string, /^[A-Z]+\.trade$/);
    const cent = await TestClient.connect(centUrl);
    cent.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"BTC.trade"}}\n{"id":3,"subscribe":{"channel":"ETH.trade"}}');
    const p = await cent.next((m) => m.push !== undefined, 15_000);
    assert.ok((p.push as { pub: { offset: number } }).pub.offset > 0);
    odin.close();
    cent.close();
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});
