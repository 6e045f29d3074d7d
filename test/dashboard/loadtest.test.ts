/**
 * The console's load test over HTTP on a real gateway: POST /dashboard/api/loadtest starts a real
 * `odin-ws loadtest` child against this gateway, its progress rows arrive on `_odin.loadtest`, a
 * second start gets 409/106, stop ends it (by its PID), bad input 400/107 naming the field, no
 * CSRF 403, no session 401, 404/108 where a run cannot work; closing the gateway kills a running child.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { resolveDashboardOptions } from '../../src/lib/dashboard/options.js';
import { LOADTEST_CHANNEL } from '../../src/lib/protocol/addresses.js';
import { TestClient, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

const PASSWORD = 'loadtest-console-password';
const API_KEY = 'loadtest-console-api-key';

async function start(): Promise<RunningGateway> {
  return startGateway(
    { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent' },
    { dashboard: resolveDashboardOptions({ adminPassword: PASSWORD, statsIntervalMs: 500, loadtestMaxConnections: 50 }) },
  );
}

interface Session {
  cookie: string;
  csrf: string;
}

async function login(gw: RunningGateway): Promise<Session> {
  const res = await fetch(gw.url + '/dashboard/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { csrf: string };
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrf };
}

async function post(
  gw: RunningGateway,
  route: string,
  body: unknown,
  s: Session | null,
  csrf = true,
): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', origin: gw.url };
  if (s) {
    headers.cookie = s.cookie;
    if (csrf) headers['x-csrf-token'] = s.csrf;
  }
  const res = await fetch(`${gw.url}/dashboard/api/${route}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json };
}

const errCode = (r: { json: Json }): unknown => (r.json.error as Json | undefined)?.code;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('dashboard: load test from the console', () => {
  let gw: RunningGateway;
  let s: Session;
  let watcher: TestClient;
  before(async () => {
    gw = await start();
    s = await login(gw);
    watcher = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
    watcher.send({ type: 'subscribe', data: { channels: [LOADTEST_CHANNEL] } });
  });
  after(async () => {
    watcher.close();
    await gw.close();
  });

  it('refuses without a session (401), without the CSRF token (403), bad input (400/107 naming the field)', async () => {
    const ok = { connections: 5, durationSeconds: 3 };
    const anon = await post(gw, 'loadtest', ok, null);
    assert.equal(anon.status, 401);
    assert.equal(errCode(anon), 101);
    const noCsrf = await post(gw, 'loadtest', ok, s, false);
    assert.equal(noCsrf.status, 403);
    assert.equal(errCode(noCsrf), 103);
    const stopNoCsrf = await post(gw, 'loadtest/stop', {}, s, false);
    assert.equal(stopNoCsrf.status, 403);
    for (const [body, field] of [
      [{ connections: 51, durationSeconds: 3 }, 'connections'],
      [{ connections: 0, durationSeconds: 3 }, 'connections'],
      [{ connections: 5, durationSeconds: 301 }, 'durationSeconds'],
      [{ connections: 5 }, 'durationSeconds'],
      [{ connections: 5, durationSeconds: 3, rate: 2001 }, 'rate'],
      [{ connections: 5, durationSeconds: 3, protocol: 'mqtt' }, 'protocol'],
      [{ connections: 5, durationSeconds: 3, url: 'ws://elsewhere' }, 'body'],
    ] as const) {
      const r = await post(gw, 'loadtest', body, s);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(errCode(r), 107);
      assert.match(String((r.json.error as Json).message), new RegExp(field === 'body' ? 'url|Unrecognized' : `^${field}`));
    }
    const st = await fetch(gw.url + '/dashboard/api/session', { headers: { cookie: s.cookie } });
    assert.equal(((await st.json()) as Json).loadtest, true);
  });

  it('starts a real run that reports on _odin.loadtest; a second start gets 409; stop ends it by its PID', async () => {
    const started = await post(gw, 'loadtest', { connections: 5, durationSeconds: 30, rate: 20 }, s);
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const pid = started.json.pid as number;
    assert.ok(Number.isInteger(pid) && alive(pid));
    // The API key reaches the child through its environment, never its argv (which `ps` shows).
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('loadtest') && !argv.some((a) => a.includes(API_KEY)), argv.join(' '));
    const status = (await (await fetch(gw.url + '/dashboard/api/loadtest', { headers: { cookie: s.cookie } })).json()) as Json;
    assert.equal(status.running, true);
    assert.equal(status.pid, pid);

    const second = await post(gw, 'loadtest', { connections: 5, durationSeconds: 3 }, s);
    assert.equal(second.status, 409);
    assert.equal(errCode(second), 106);

    // Progress rows arrive from the child (through this gateway's server API).
    const row = await watcher.next((m) => m.channel === LOADTEST_CHANNEL && (m.data as Json).state === 'running', 20_000);
    assert.equal((row.data as Json).target, 5);

    const stop = await post(gw, 'loadtest/stop', {}, s);
    assert.equal(stop.status, 200);
    assert.equal(stop.json.stopped, true);
    assert.equal(alive(pid), false);
    // SIGTERM ends the measured window: the run still reports its end.
    await watcher.next((m) => m.channel === LOADTEST_CHANNEL && (m.data as Json).state === 'done', 5000);
    const again = await post(gw, 'loadtest/stop', {}, s);
    assert.deepEqual(again.json, { stopped: false, exit: null });
  });

  it('a short run (5 connections, 3 s) ends by itself and reports done', async () => {
    const from = watcher.messages.length;
    const started = await post(gw, 'loadtest', { connections: 5, durationSeconds: 3, rate: 20 }, s);
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const done = await watcher.next((m) => m.channel === LOADTEST_CHANNEL && (m.data as Json).state === 'done', 20_000, from);
    assert.equal((done.data as Json).subscribed, 5);
    await waitFor(() => !alive(started.json.pid as number), 5000, 'the child to exit');
    const status = (await (await fetch(gw.url + '/dashboard/api/loadtest', { headers: { cookie: s.cookie } })).json()) as Json;
    assert.equal(status.running, false);
    assert.deepEqual(status.exit, { code: 0, signal: null });
  });

  it('a gateway refusing anonymous connections, or without an API key, answers 404/108 (the CLI connects anonymously)', async () => {
    for (const opts of [{ allowAnonymous: false, tokenHmacSecret: 'hmac-secret-for-tests' }, { apiKey: '' }]) {
      const other = await startGateway(
        { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent', ...opts },
        { dashboard: resolveDashboardOptions({ adminPassword: PASSWORD }) },
      );
      try {
        const o = await login(other);
        const r = await post(other, 'loadtest', { connections: 2, durationSeconds: 3 }, o);
        assert.equal(r.status, 404, JSON.stringify(opts));
        assert.equal(errCode(r), 108);
        const st = await fetch(other.url + '/dashboard/api/session', { headers: { cookie: o.cookie } });
        assert.equal(((await st.json()) as Json).loadtest, false);
      } finally {
        await other.close();
      }
    }
  });

  it('the child dies with the gateway', async () => {
    const other = await start();
    try {
      const o = await login(other);
      const r = await post(other, 'loadtest', { connections: 2, durationSeconds: 60, rate: 0 }, o);
      assert.equal(r.status, 200);
      const pid = r.json.pid as number;
      assert.ok(alive(pid));
      await other.close();
      assert.equal(alive(pid), false);
    } finally {
      await other.close();
    }
  });
});
