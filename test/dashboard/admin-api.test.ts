/**
 * The dashboard over HTTP on a real socket: the page and its headers, the admin API's
 * authentication (password, token, session cookie, CSRF, same-origin, rate limit), bad input
 * answered with the documented codes, the audit log, the stats channel over the WebSocket, and
 * the publisher's control API proxied to a real publisher.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { resolveDashboardOptions, type DashboardOptionsInput } from '../../src/lib/dashboard/options.js';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';
import { STATS_CHANNEL } from '../../src/lib/protocol/addresses.js';
import { ConfigError } from '../../src/lib/core/options.js';
import { startPublisher, type RunningPublisher } from '../../src/lib/publisher/server.js';
import type { Logger } from '../../src/lib/core/logger.js';
import { MemorySink } from '../../src/lib/publisher/sinks/memory-sink.js';
import { TestClient, type Json } from '../testkit/ws-client.js';
import { ISSUE_20_ROWS } from '../testkit/json-text-arb.js';

const PASSWORD = 'correct-horse-battery';
const TOKEN = 'admin-token-0123456789';
const API_KEY = 'server-api-key-4f2a9c';

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function captureLog(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function start(dash: DashboardOptionsInput, log?: Logger): Promise<RunningGateway> {
  return startGateway(
    { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent' },
    { dashboard: resolveDashboardOptions({ statsIntervalMs: 200, ...dash }), ...(log ? { log } : {}) },
  );
}

async function call(
  gw: RunningGateway,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined = init.raw;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(gw.url + path, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
}

async function login(gw: RunningGateway): Promise<{ cookie: string; csrf: string }> {
  const r = await call(gw, '/dashboard/api/login', { body: { password: PASSWORD } });
  assert.equal(r.status, 200);
  const set = r.headers.get('set-cookie') ?? '';
  return { cookie: set.split(';')[0]!, csrf: r.json.csrf as string };
}

const errCode = (r: { json: Json }): unknown => (r.json.error as Json | undefined)?.code;

describe('dashboard page and static files', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await start({});
  });
  after(() => gw.close());

  it('serves the page with a Content-Security-Policy and no secrets', async () => {
    const res = await fetch(gw.url + '/dashboard');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const html = await res.text();
    assert.ok(!html.includes(API_KEY) && !html.includes(TOKEN), 'no key in the page');
    assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline scripts');
    assert.equal((await fetch(gw.url + '/dashboard/')).status, 200);
  });

  it('serves uPlot from node_modules and refuses unknown paths', async () => {
    const js = await fetch(gw.url + '/dashboard/vendor/uPlot.iife.min.js');
    assert.equal(js.status, 200);
    assert.match(await js.text(), /uPlot/);
    assert.equal((await fetch(gw.url + '/dashboard/vendor/uPlot.min.css')).status, 200);
    assert.equal((await fetch(gw.url + '/dashboard/static/app.js')).status, 200);
    for (const p of ['/dashboard/static/nope.js', '/dashboard/static/..%2F..%2Fpackage.json', '/dashboard/../package.json']) {
      const r = await fetch(gw.url + p);
      assert.ok(r.status === 404, `${p}: ${r.status}`);
    }
    const post = await call(gw, '/dashboard/static/app.js', { method: 'POST', raw: 'x' });
    assert.equal(post.status, 405);
  });

  it('the admin console is off unless configured', async () => {
    const s = await call(gw, '/dashboard/api/session');
    assert.deepEqual(s.json, { admin: false, loggedIn: false, publisher: false, loadtest: false });
    const l = await call(gw, '/dashboard/api/login', { body: { password: 'anything-at-all' } });
    assert.equal(l.status, 404);
    assert.equal(errCode(l), 108);
    const c = await call(gw, '/dashboard/api/channels');
    assert.equal(c.status, 404);
    assert.equal(errCode(c), 108);
  });

  it('publishes stats rows on the reserved channel, readable over /ws', async () => {
    const c = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
    c.send({ type: 'subscribe', data: { channels: [STATS_CHANNEL] } });
    const m = await c.next((x) => x.channel === STATS_CHANNEL);
    const row = m.data as Json;
    assert.equal(row.v, 1);
    assert.equal(row.node, gw.gateway.nodeId);
    assert.equal((row.connections as Json).total, 1);
    for (const k of ['rates', 'latencyMs', 'loop', 'memory', 'rejected', 'health']) assert.ok(k in row, k);
    assert.deepEqual(row.health, { broker: { ok: true } });
    // The fan-out latency of an interval (here the rows' own, fanned out to this client): its
    // histogram is made once the process has clients, so a later row counts them.
    const counted = await c.next((x) => x.channel === STATS_CHANNEL && (((x.data as Json).latencyMs as Json).count as number) > 0);
    const latency = (counted.data as Json).latencyMs as Json;
    assert.ok((latency.p99 as number) >= (latency.p50 as number) && (latency.p50 as number) >= 0, JSON.stringify(latency));
    c.ws.close();
  });
});

describe('admin API', () => {
  let gw: RunningGateway;
  const lines: LogLine[] = [];
  let publisher: RunningPublisher;
  before(async () => {
    publisher = await startPublisher({ port: 0, host: '127.0.0.1', sink: { kind: 'custom', sink: new MemorySink() } });
    gw = await start(
      { adminPassword: PASSWORD, adminToken: TOKEN, publisherUrl: publisher.url, loginAttemptsPerMinute: 3 },
      captureLog(lines),
    );
  });
  after(async () => {
    await gw.close();
    await publisher.close();
  });

  it('refuses a wrong password, then rate-limits the address', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await call(gw, '/dashboard/api/login', { body: { password: 'wrong-password' } });
      assert.equal(r.status, 401);
      assert.equal(errCode(r), 101);
      assert.equal(r.headers.get('set-cookie'), null);
    }
    const limited = await call(gw, '/dashboard/api/login', { body: { password: PASSWORD } });
    assert.equal(limited.status, 429);
    assert.equal(errCode(limited), 111);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.ok(lines.some((l) => l.obj.audit === 'dashboard' && l.obj.action === 'login' && l.level === 'warn'));
  });

  it('logs in with a cookie session (HttpOnly, SameSite=Strict) and a CSRF token', async () => {
    // A fresh gateway: the address above is still rate-limited for a minute.
    const g2 = await start({ adminPassword: PASSWORD });
    try {
      const r = await call(g2, '/dashboard/api/login', { body: { password: PASSWORD } });
      assert.equal(r.status, 200);
      const cookie = r.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^odin_admin=[A-Za-z0-9_-]{43}; /);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.match(cookie, /Path=\/dashboard/);
      assert.equal(typeof r.json.csrf, 'string');
      const s = await call(g2, '/dashboard/api/session', { headers: { cookie: cookie.split(';')[0]! } });
      assert.equal(s.json.loggedIn, true);
      assert.equal(s.json.csrf, r.json.csrf);
      // Logging out is a change: it needs the session's CSRF token, as every other (issue 21).
      const out = await call(g2, '/dashboard/api/logout', {
        body: {},
        headers: { cookie: cookie.split(';')[0]!, 'x-csrf-token': r.json.csrf as string, origin: g2.url },
      });
      assert.equal(out.status, 200);
      const after = await call(g2, '/dashboard/api/channels', { headers: { cookie: cookie.split(';')[0]! } });
      assert.equal(after.status, 401);
    } finally {
      await g2.close();
    }
  });

  it('needs a session or the admin token; changes need the CSRF token and the same origin', async () => {
    const g2 = await start({ adminPassword: PASSWORD, adminToken: TOKEN });
    try {
      const { cookie, csrf } = await login(g2);
      const body = { channel: 'BTC.trade', data: { p: 1 } };
      const none = await call(g2, '/dashboard/api/publish', { body });
      assert.equal(none.status, 401);
      assert.equal(errCode(none), 101);
      const noCsrf = await call(g2, '/dashboard/api/publish', { body, headers: { cookie } });
      assert.equal(noCsrf.status, 403);
      assert.equal(errCode(noCsrf), 103);
      const badCsrf = await call(g2, '/dashboard/api/publish', { body, headers: { cookie, 'x-csrf-token': csrf + 'x' } });
      assert.equal(badCsrf.status, 403);
      const foreign = await call(g2, '/dashboard/api/publish', {
        body,
        headers: { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' },
      });
      assert.equal(foreign.status, 403);
      const crossSite = await call(g2, '/dashboard/api/publish', {
        body,
        headers: { cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' },
      });
      assert.equal(crossSite.status, 403);
      const ok = await call(g2, '/dashboard/api/publish', { body, headers: { cookie, 'x-csrf-token': csrf, origin: g2.url } });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.offset, 1);
      const viaToken = await call(g2, '/dashboard/api/publish', { body, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(viaToken.status, 200);
      assert.equal(viaToken.json.offset, 2);
      const wrongToken = await call(g2, '/dashboard/api/channels', { headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrongToken.status, 401);
      // A form post (text/plain) is not read at all.
      const form = await call(g2, '/dashboard/api/publish', {
        raw: JSON.stringify(body),
        headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'text/plain' },
      });
      assert.equal(form.status, 415);
      assert.equal(errCode(form), 107);
    } finally {
      await g2.close();
    }
  });

  it('answers bad input with documented codes', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cases: [string, Parameters<typeof call>[2], number, number][] = [
      ['/dashboard/api/publish', { raw: '{nope', headers: { ...auth, 'content-type': 'application/json' } }, 400, 107],
      ['/dashboard/api/publish', { body: [1, 2], headers: auth }, 400, 107],
      ['/dashboard/api/publish', { body: { channel: 'BTC.trade' }, headers: auth }, 400, 107],
      ['/dashboard/api/publish', { body: { channel: 'BTC.trade', data: 1, extra: true }, headers: auth }, 400, 107],
      ['/dashboard/api/publish', { body: { channel: 'no such channel', data: 1 }, headers: auth }, 400, 102],
      ['/dashboard/api/publish', { body: { channel: 'BTC.trade', data: 'x'.repeat(70_000) }, headers: auth }, 413, 107],
      ['/dashboard/api/disconnect', { body: {}, headers: auth }, 400, 107],
      ['/dashboard/api/channel?channel=BTC.trade&limit=-1', { headers: auth }, 400, 107],
      ['/dashboard/api/channel?channel=BTC.trade&since_offset=3', { headers: auth }, 400, 107],
      ['/dashboard/api/channel?channel=', { headers: auth }, 400, 107],
      ['/dashboard/api/channel?channel=nope!', { headers: auth }, 400, 102],
      ['/dashboard/api/clients', { headers: auth }, 400, 107],
      ['/dashboard/api/nothing', { headers: auth }, 404, 104],
      ['/dashboard/api/constructor', { headers: auth }, 404, 104],
      ['/dashboard/api/__proto__', { headers: auth }, 404, 104],
      ['/dashboard/api/session', { body: {}, headers: auth }, 405, 107],
      ['/dashboard/api/channels', { method: 'DELETE', headers: auth }, 405, 107],
      ['/dashboard/api/publish', { method: 'GET', headers: auth }, 405, 107],
      ['/dashboard/api/login', { body: { password: '' } }, 400, 107],
      ['/dashboard/api/publisher', { body: { action: 'explode' }, headers: auth }, 400, 107],
    ];
    for (const [path, init, status, code] of cases) {
      const r = await call(gw, path, init);
      assert.equal(r.status, status, `${path} ${JSON.stringify(init?.body ?? init?.raw ?? '')}: ${JSON.stringify(r.json)}`);
      assert.equal(errCode(r), code, path);
    }
  });

  it('publishes the data byte for byte and shows history as published (dataText), issue 20', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const ch = 'DASH.trade';
    for (const row of ISSUE_20_ROWS) {
      const r = await call(gw, '/dashboard/api/publish', { raw: `{"channel":"${ch}","data":${row}}`, headers: auth });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const deep = await call(gw, '/dashboard/api/publish', {
      raw: `{"channel":"${ch}","data":${'['.repeat(65)}${']'.repeat(65)}}`,
      headers: auth,
    });
    assert.deepEqual([deep.status, errCode(deep)], [400, 107]);
    const h = await call(gw, `/dashboard/api/channel?channel=${ch}&limit=10`, { headers: auth });
    assert.deepEqual(
      (h.json.history as { dataText: string }[]).map((p) => p.dataText),
      ISSUE_20_ROWS,
    );
  });

  it('lists channels, inspects one, looks up and disconnects a client, and audits changes', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const c = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
    c.send({ type: 'hello' }); // the Odin greeting is opt-in (docs/protocol.md)
    const hello = await c.next((m) => m.type === 'connected');
    c.send({ type: 'subscribe', data: { channels: ['ETH.trade'] } });
    await c.next((m) => m.type === 'subscription_ack');
    for (let i = 0; i < 3; i++) await call(gw, '/dashboard/api/publish', { body: { channel: 'ETH.trade', data: { i } }, headers: auth });
    await c.next((m) => m.channel === 'ETH.trade' && (m.data as Json).i === 2);
    const list = await call(gw, '/dashboard/api/channels', { headers: auth });
    assert.equal(list.status, 200);
    const row = (list.json.channels as Json[]).find((r) => r.channel === 'ETH.trade');
    assert.ok(row);
    assert.equal(row.subscribers, 1);
    assert.equal(row.offset, 3);
    assert.equal(row.historySize, 1000);
    const insp = await call(gw, `/dashboard/api/channel?channel=ETH.trade&limit=2&since_offset=1&since_epoch=${row.epoch as string}`, {
      headers: auth,
    });
    assert.equal(insp.status, 200);
    assert.deepEqual(
      (insp.json.history as Json[]).map((p) => p.offset),
      [2, 3],
    );
    assert.deepEqual(Object.keys(insp.json.presence as Json), [hello.client]);
    const found = await call(gw, `/dashboard/api/clients?client=${hello.client as string}`, { headers: auth });
    assert.deepEqual(
      (found.json.clients as Json[]).map((x) => [x.client, x.protocol, x.channels]),
      [[hello.client, 'odin', ['ETH.trade']]],
    );
    const d = await call(gw, '/dashboard/api/disconnect', { body: { client: hello.client }, headers: auth });
    assert.deepEqual(d.json, { disconnected: 1 });
    const closed = await c.waitClose();
    assert.equal(closed.code, 3503);
    const again = await call(gw, '/dashboard/api/disconnect', { body: { client: hello.client }, headers: auth });
    assert.deepEqual(again.json, { disconnected: 0 });
    const audits = lines.filter((l) => l.obj.audit === 'dashboard' && l.level === 'info').map((l) => l.obj.action);
    assert.ok(audits.includes('publish') && audits.includes('disconnect'), JSON.stringify(audits));
    const audit = lines.find((l) => l.obj.action === 'disconnect')!.obj;
    assert.equal(audit.actor, 'token');
    assert.equal(audit.client, hello.client);
  });

  it('drives the publisher through its control API', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const s = await call(gw, '/dashboard/api/publisher', { headers: auth });
    assert.equal(s.status, 200);
    assert.equal(s.json.isPublishing, false);
    const startR = await call(gw, '/dashboard/api/publisher', {
      body: { action: 'start', messagesPerSecond: 20, profile: 'ramp', rampSeconds: 1 },
      headers: auth,
    });
    assert.equal(startR.status, 200, JSON.stringify(startR.json));
    assert.equal((await call(gw, '/dashboard/api/publisher', { headers: auth })).json.isPublishing, true);
    const twice = await call(gw, '/dashboard/api/publisher', { body: { action: 'start' }, headers: auth });
    assert.equal(twice.status, 409);
    const bad = await call(gw, '/dashboard/api/publisher', { body: { action: 'configure', profile: 'zigzag' }, headers: auth });
    assert.equal(bad.status, 400);
    const stop = await call(gw, '/dashboard/api/publisher', { body: { action: 'stop' }, headers: auth });
    assert.equal(stop.status, 200);
    assert.ok(lines.some((l) => l.obj.action === 'publisher'));
  });
});

describe('connection token for the page', () => {
  it('is null with anonymous connections, refused without a secret, valid with one', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const open = await start({ adminToken: TOKEN });
    try {
      assert.deepEqual((await call(open, '/dashboard/api/ws-token', { headers: auth })).json, { token: null, expiresIn: 0 });
      assert.equal((await call(open, '/dashboard/api/ws-token')).status, 401);
    } finally {
      await open.close();
    }
    const closedNoSecret = await startGateway(
      { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent', allowAnonymous: false },
      { dashboard: resolveDashboardOptions({ adminToken: TOKEN }) },
    );
    try {
      const r = await call(closedNoSecret, '/dashboard/api/ws-token', { headers: auth });
      assert.equal(r.status, 404);
      assert.equal(errCode(r), 108);
    } finally {
      await closedNoSecret.close();
    }
    const g = await startGateway(
      { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent', allowAnonymous: false, tokenHmacSecret: 'hmac-secret-for-tests' },
      { dashboard: resolveDashboardOptions({ adminToken: TOKEN }) },
    );
    try {
      const r = await call(g, '/dashboard/api/ws-token', { headers: auth });
      assert.equal(r.status, 200);
      assert.equal(r.json.expiresIn, 600);
      const c = await TestClient.connect(`${g.url.replace('http', 'ws')}/ws?token=${r.json.token as string}`);
      c.send({ type: 'hello' }); // the Odin greeting is opt-in (docs/protocol.md)
      const hello = await c.next((m) => m.type === 'connected');
      assert.equal(hello.user, 'odin-ws-dashboard');
      c.ws.close();
    } finally {
      await g.close();
    }
  });
});

/** The `dashboard:` section of a config file and the environment, through the gateway's one option loader. */
function loadDashboardSection(section: unknown, env: NodeJS.ProcessEnv) {
  const file = join(mkdtempSync(join(tmpdir(), 'odin-dash-')), 'c.json');
  writeFileSync(file, JSON.stringify({ dashboard: section }));
  return loadGatewayConfig(['--config', file], env).dashboard;
}

describe('dashboard options', () => {
  it('validates without echoing secrets', () => {
    assert.throws(
      () => loadDashboardSection({ adminPassword: 'short' }, {}),
      (e: unknown) => e instanceof ConfigError && /dashboard\.adminPassword/.test(e.message) && !e.message.includes('short"'),
    );
    assert.throws(() => loadDashboardSection('yes', {}), ConfigError);
    assert.throws(() => loadDashboardSection({}, { GATEWAY_DASHBOARD: 'maybe' }), ConfigError);
    assert.throws(() => loadDashboardSection({ publisherUrl: 'not a url' }, {}), ConfigError);
    const o = loadDashboardSection(
      { adminPassword: 'from-the-file' },
      { GATEWAY_ADMIN_PASSWORD: 'from-the-env', GATEWAY_DASHBOARD: 'off' },
    );
    assert.equal(o.adminPassword, 'from-the-env');
    assert.equal(o.enabled, false);
    assert.ok(Object.isFrozen(o));
  });
});
