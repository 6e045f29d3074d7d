/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's headless Chromium via puppeteer-core) against a
 * real gateway on port 0: the page loads with no console errors (CSP included), the charts
 * move while the test publishes, the console needs a login and refuses a wrong password, a
 * publish from the console reaches a WebSocket client, and a disconnect from the console
 * closes that client.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { resolveDashboardOptions } from '../../src/lib/dashboard/options.js';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { runLoadtest } from '../../src/apps/loadtest/main.js';
import { parseLoadtestArgs } from '../../src/apps/loadtest/options.js';
import { startPublisher, type RunningPublisher } from '../../src/lib/publisher/server.js';
import { MemorySink } from '../../src/lib/publisher/sinks/memory-sink.js';
import { collectProblems, launchBrowser } from '../testkit/browser.js';
import { TestClient, type Json } from '../testkit/ws-client.js';

const PASSWORD = 'browser-test-password';
const API_KEY = 'browser-test-api-key';

async function publish(gw: RunningGateway, channel: string, data: unknown): Promise<void> {
  const res = await fetch(gw.url + '/api/publish', {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  assert.equal(res.status, 200);
}

/** Keeps publishing (one at a time, no timers) until stopped. */
function publishLoop(gw: RunningGateway, channel: string): { stop: () => Promise<void> } {
  let running = true;
  const done = (async () => {
    let i = 0;
    while (running) {
      await publish(gw, channel, { i: i++ });
      await new Promise<void>((r) => setImmediate(r));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (e) => e.textContent ?? '');
}

describe('dashboard in Chromium', () => {
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let publisher: RunningPublisher;

  before(async () => {
    publisher = await startPublisher({ port: 0, host: '127.0.0.1', sink: { kind: 'custom', sink: new MemorySink() } });
    gw = await startGateway(
      { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent' },
      { dashboard: resolveDashboardOptions({ adminPassword: PASSWORD, statsIntervalMs: 250, publisherUrl: publisher.url }) },
    );
    browser = await launchBrowser();
    page = await browser.newPage();
    problems = collectProblems(page);
    await page.setViewport({ width: 1400, height: 1000 });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await publisher?.close();
  });

  it('loads with no console errors and the charts move while the test publishes', async () => {
    await page.goto(gw.url + '/dashboard', { waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('feed-status')?.dataset.state === 'live');
    // A subscriber so that publications are delivered (deliveries/s moves too).
    const sub = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
    sub.send({ type: 'subscribe', data: { channels: ['BTC.trade'] } });
    await sub.next((m) => m.type === 'subscription_ack');
    const loop = publishLoop(gw, 'BTC.trade');
    try {
      // Rows arrive over the WebSocket: wait for a point with publications/s and deliveries/s > 0.
      await page.waitForFunction(
        () => {
          const last = (document.getElementById('c-throughput')?.dataset.last ?? '0,0').split(',').map(Number);
          return last[0]! > 0 && last[1]! > 0;
        },
        { timeout: 10_000 },
      );
      const before = Number(await page.$eval('#c-throughput', (e) => (e as HTMLElement).dataset.points));
      await page.waitForFunction(
        (n) => Number(document.getElementById('c-throughput')?.dataset.points) > n + 1,
        { timeout: 10_000 },
        before,
      );
    } finally {
      await loop.stop();
    }
    assert.notEqual(await text(page, '#t-publications'), '–');
    assert.equal(await page.$$eval('#nodes tbody tr', (rows) => rows.length), 1);
    assert.match(await text(page, '#nodes tbody tr'), new RegExp(gw.gateway.nodeId));
    // The stats channel is an ordinary subscription of the page's own connection.
    assert.ok(gw.gateway.hub.members('_odin.stats')?.size === 1);
    sub.ws.close();
    assert.deepEqual(problems, []);
  });

  it('requires a login for the console and refuses a wrong password', async () => {
    await page.goto(gw.url + '/dashboard#console', { waitUntil: 'load' });
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.$eval('#admin', (e) => (e as HTMLElement).hidden), true);
    await page.type('#login-password', 'not-the-password');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('login-error')?.textContent ?? '') !== '');
    assert.match(await text(page, '#login-error'), /wrong password/);
    assert.equal(await page.$eval('#admin', (e) => (e as HTMLElement).hidden), true);
    // The session cookie is HttpOnly: the page's script cannot read it.
    assert.equal(await page.evaluate(() => document.cookie), '');
    await page.$eval('#login-password', (e) => ((e as HTMLInputElement).value = ''));
    await page.type('#login-password', PASSWORD);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#admin:not([hidden])');
    assert.equal(await page.evaluate(() => document.cookie), '');
    assert.deepEqual(
      problems.filter((p) => !/401/.test(p)),
      [],
    );
  });

  it('publishes from the console to a WebSocket client', async () => {
    const c = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
    c.send({ type: 'subscribe', data: { channels: ['ETH.price'] } });
    await c.next((m) => m.type === 'subscription_ack');
    await page.type('#publish-channel', 'ETH.price');
    await page.$eval('#publish-data', (e) => ((e as HTMLTextAreaElement).value = '{"price": 3141.5, "from": "console"}'));
    await page.click('#publish button[type=submit]');
    const m = await c.next((x) => x.channel === 'ETH.price');
    assert.deepEqual(m.data, { price: 3141.5, from: 'console' });
    await page.waitForFunction(() => /published at offset 1/.test(document.getElementById('publish-result')?.textContent ?? ''));
    // The channels table shows it (refreshed every 2 s while the console is open).
    await page.waitForFunction(() => /ETH\.price/.test(document.querySelector('#channels tbody')?.textContent ?? ''), { timeout: 10_000 });
    c.ws.close();
  });

  it('disconnects a client found by its id', async () => {
    const c = await TestClient.connect(gw.url.replace('http', 'ws') + '/ws');
    c.send({ type: 'hello' }); // the Odin greeting is opt-in (docs/protocol.md)
    const hello = (await c.next((m) => m.type === 'connected')) as Json & { client: string };
    await page.type('#lookup-client', hello.client);
    await page.click('#lookup button[type=submit]');
    const button = await page.waitForSelector(`#clients button[data-client="${hello.client}"]`);
    await button!.click();
    const closed = await c.waitClose();
    assert.equal(closed.code, 3503);
    await page.waitForFunction(() => /disconnected 1 connection/.test(document.getElementById('lookup-result')?.textContent ?? ''));
    assert.deepEqual(
      problems.filter((p) => !/401/.test(p)),
      [],
    );
  });

  it('starts and stops the publisher from the console with a profile', async () => {
    await page.waitForFunction(() => /stopped · profile/.test(document.getElementById('publisher-status')?.textContent ?? ''));
    await page.select('#publisher-profile', 'burst');
    await page.$eval('#publisher-rate', (e) => ((e as HTMLInputElement).value = '30'));
    await page.click('#publisher button[data-action=start]');
    await page.waitForFunction(() => /publishing · profile burst/.test(document.getElementById('publisher-status')?.textContent ?? ''));
    assert.equal(publisher.publisher.running, true);
    await page.click('#publisher button[data-action=stop]');
    await page.waitForFunction(() => /stopped · profile burst/.test(document.getElementById('publisher-status')?.textContent ?? ''));
    assert.equal(publisher.publisher.running, false);
  });

  it('shows a running odin-ws loadtest live (--report-to)', async () => {
    await page.goto(gw.url + '/dashboard#loadtest', { waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('feed-status')?.dataset.state === 'live');
    const o = parseLoadtestArgs([
      ...['--url', gw.url.replace('http', 'ws') + '/ws', '--connections', '4', '--duration', '3', '--workers', '1'],
      ...['--channels', 'SOL.trade', '--api-key', API_KEY, '--rate', '20', '--report-to', gw.url, '--quiet'],
    ]);
    const run = runLoadtest(o);
    await page.waitForFunction(() => document.getElementById('lt-state')?.textContent === 'running', { timeout: 20_000 });
    const result = await run;
    await page.waitForFunction(() => document.getElementById('lt-state')?.textContent === 'done', { timeout: 10_000 });
    assert.match(await text(page, '#lt-conns'), /^4 \/ 4$/);
    assert.match(await text(page, '#lt-summary'), /latency/);
    assert.ok(Number(await page.$eval('#c-lt-rate', (e) => (e as HTMLElement).dataset.points)) >= 2);
    assert.ok(result.messages.delivered > 0);
    assert.deepEqual(
      problems.filter((p) => !/401/.test(p)),
      [],
    );
  });

  it('starts and stops a load test from the Load test tab (logged-in admin)', async () => {
    await page.goto(gw.url + '/dashboard#loadtest', { waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('feed-status')?.dataset.state === 'live');
    await page.waitForSelector('#lt-form:not([hidden])');
    for (const [id, v] of [
      ['#lt-in-connections', '3'],
      ['#lt-in-duration', '30'],
      ['#lt-in-rate', '10'],
    ] as const) {
      await page.$eval(id, (e, value) => ((e as HTMLInputElement).value = value), v);
    }
    await page.click('#lt-form button[data-action=start]');
    await page.waitForFunction(() => /^started \(pid \d+\)/.test(document.getElementById('lt-control-result')?.textContent ?? ''));
    await page.waitForFunction(() => document.getElementById('lt-conns')?.textContent === '3 / 3', { timeout: 20_000 });
    await page.click('#lt-form button[data-action=stop]');
    await page.waitForFunction(() => document.getElementById('lt-control-result')?.textContent === 'stopped', { timeout: 10_000 });
    await page.waitForFunction(() => document.getElementById('lt-state')?.textContent === 'done', { timeout: 10_000 });
    assert.equal((await (await fetch(gw.url + '/dashboard/api/session')).json()).loadtest, true);
    assert.deepEqual(
      problems.filter((p) => !/401/.test(p)),
      [],
    );
  });
});

describe('dashboard in Chromium, gateway refusing anonymous connections', () => {
  let gw: RunningGateway;
  let browser: Browser;

  before(async () => {
    gw = await startGateway(
      { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent', allowAnonymous: false, tokenHmacSecret: 'hmac-secret-for-tests' },
      { dashboard: resolveDashboardOptions({ adminPassword: PASSWORD, statsIntervalMs: 250 }) },
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('asks for a login, then feeds the live view over a minted connection token', async () => {
    const page = await browser.newPage();
    const problems = collectProblems(page);
    await page.goto(gw.url + '/dashboard#console', { waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('feed-status')?.textContent === 'log in for the live feed', {
      timeout: 10_000,
    });
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#login-password', PASSWORD);
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.getElementById('feed-status')?.dataset.state === 'live', { timeout: 10_000 });
    await page.goto(gw.url + '/dashboard#live', { waitUntil: 'load' });
    // A fresh load: refused once as anonymous, then the session's token gets it in.
    await page.waitForFunction(() => Number(document.getElementById('c-connections')?.dataset.points) > 0, { timeout: 10_000 });
    assert.equal(gw.gateway.api.findClients({ user: 'odin-ws-dashboard' }).length, 1);
    // The refused anonymous attempts and the 401 before the login are expected; nothing else.
    assert.deepEqual(
      problems.filter((p) => !/401|3500|WebSocket/.test(p)),
      [],
    );
    await page.close();
  });
});
