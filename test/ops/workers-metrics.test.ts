/**
 * `--workers 2`: one /metrics scrape and one /stats answer for the whole process group, whichever
 * worker takes the connection; checked with fresh connections (each may land on another worker)
 * and with a real Prometheus scraping the gateway.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../testkit/free-port.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { waitFor } from '../testkit/wait.js';
import { mergeStats } from '../../src/lib/server/process-group.js';

const KEY = 'workers-key';
const PUBLICATIONS = 12;
const ADMIN_TOKEN = 'workers-metrics-admin-token';
let nats: NatsServerHandle;
let gw: GatewayProcess;

/** GET on a new TCP connection (no keep-alive), so the cluster may hand it to any worker. */
function freshGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function publish(i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ channel: 'BTC.trade', data: { i } });
    const req = request(
      `${gw.url}/api/publish`,
      { method: 'POST', agent: false, headers: { 'x-api-key': KEY, 'content-type': 'application/json', connection: 'close' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sample = (text: string, name: string): number[] =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].map((m) => Number(m[1]));

before(async () => {
  nats = await startNatsServer();
  // The admin token unlocks /stats' full view (process ids, client addresses).
  gw = await startGatewayProcess({ natsUrl: nats.url, apiKey: KEY, workers: 2, env: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN } });
  for (let i = 0; i < PUBLICATIONS; i++) assert.equal(await publish(i), 200);
});
after(async () => {
  await gw?.stop();
  await nats?.stop();
});

test('every scrape of /metrics returns the whole group: the same total on every fresh connection', async () => {
  const totals: number[] = [];
  const ready: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await freshGet(`${gw.url}/metrics`);
    assert.equal(r.status, 200, r.body);
    const pubs = sample(r.body, 'ws_publications_total');
    assert.equal(pubs.length, 1, 'one aggregated series, not one per worker');
    totals.push(pubs[0]!);
    ready.push(sample(r.body, 'ws_ready')[0]!);
  }
  assert.deepEqual(totals, Array(8).fill(PUBLICATIONS));
  assert.deepEqual(ready, Array(8).fill(1), 'ws_ready is the minimum over workers, not their sum');
});

test('/stats reports the whole process group', async () => {
  for (let i = 0; i < 4; i++) {
    const r = await freshGet(`${gw.url}/stats`, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(r.status, 200, r.body);
    const s = JSON.parse(r.body) as { workers: number; publications: number; ready: boolean; perWorker: { pid: number }[] };
    assert.equal(s.workers, 2);
    assert.equal(s.publications, PUBLICATIONS);
    assert.equal(s.ready, true);
    assert.equal(new Set(s.perWorker.map((w) => w.pid)).size, 2);
  }
});

test('mergeStats: sums counts, ready only when all are, merges client addresses', () => {
  const m = mergeStats([
    { node: 'a', ready: true, uptime: 9, publications: 2, connections: { total: 1 }, ips: [{ ip: '1.1.1.1', connections: 1 }] },
    { node: 'b', ready: false, uptime: 3, publications: 5, connections: { total: 4 }, ips: [{ ip: '1.1.1.1', connections: 2 }] },
  ]);
  assert.equal(m.publications, 7);
  assert.deepEqual(m.connections, { total: 5 });
  assert.equal(m.ready, false);
  assert.equal(m.uptime, 3);
  assert.deepEqual(m.ips, [{ ip: '1.1.1.1', connections: 3 }]);
});

test('a real Prometheus scraping the 2-worker gateway sees one steady series', async (t) => {
  const bin = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find(existsSync);
  assert.ok(bin, 'prometheus not found: bash scripts/provision.sh (apt-get install prometheus)');
  const dir = mkdtempSync(join(tmpdir(), 'odin-prom-workers-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s' },
      scrape_configs: [{ job_name: 'odin-ws-gateway', static_configs: [{ targets: [`127.0.0.1:${gw.port}`] }] }],
    }),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  t.after(() => {
    child.kill('SIGTERM');
  });
  const query = async (q: string): Promise<{ value: [number, string] }[]> => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => null);
    if (!r?.ok) return [];
    return ((await r.json()) as { data: { result: { value: [number, string] }[] } }).data.result;
  };
  // Five scrapes at least, then the counter never went back over them.
  let scrapes = 0;
  await waitFor(
    () => {
      void query('count_over_time(ws_publications_total[1m])').then((r) => (scrapes = Number(r[0]?.value[1] ?? 0)));
      return scrapes >= 5;
    },
    60_000,
    'five scrapes of the gateway',
  );
  const [min] = await query('min_over_time(ws_publications_total[1m])');
  const [max] = await query('max_over_time(ws_publications_total[1m])');
  const [resets] = await query('resets(ws_publications_total[1m])');
  assert.equal(Number(min!.value[1]), PUBLICATIONS);
  assert.equal(Number(max!.value[1]), PUBLICATIONS);
  assert.equal(Number(resets!.value[1]), 0);
  const series = await query('ws_publications_total');
  assert.equal(series.length, 1);
});
