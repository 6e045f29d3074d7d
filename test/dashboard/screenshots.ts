/// <reference lib="dom" />
/**
 * `npm run screenshots`: regenerates docs/dashboard-*.png from a real run on this machine — a
 * gateway with the dashboard, the publisher feeding it through the server API, a few
 * subscribers, and a short `odin-ws loadtest --report-to` — photographed in headless Chromium.
 * Not a test (no assertions beyond the page loading); run by hand when the page changes.
 */
import { freePort } from '../testkit/free-port.js';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { resolveDashboardOptions } from '../../src/lib/dashboard/options.js';
import { startPublisher } from '../../src/lib/publisher/server.js';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { runLoadtest } from '../../src/apps/loadtest/main.js';
import { parseLoadtestArgs } from '../../src/apps/loadtest/options.js';
import { launchBrowser } from '../testkit/browser.js';

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
const PASSWORD = 'screenshot-password';
const API_KEY = 'screenshot-api-key';
const CHANNELS = ['BTC.trade', 'BTC.price', 'ETH.trade', 'ETH.price', 'SOL.trade', 'ODIN.trade', 'market.stats'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const publisherPort = await freePort();
  const gw = await startGateway(
    { port: 0, host: '127.0.0.1', apiKey: API_KEY, logLevel: 'silent' },
    { dashboard: resolveDashboardOptions({ adminPassword: PASSWORD, publisherUrl: `http://127.0.0.1:${publisherPort}` }) },
  );
  const ws = gw.url.replace('http', 'ws') + '/ws';
  const subscribers = CHANNELS.flatMap((ch, i) =>
    Array.from({ length: 3 + i }, () => {
      const s = new WebSocket(ws);
      s.on('open', () => s.send(JSON.stringify({ type: 'subscribe', data: { channels: [ch] } })));
      return s;
    }),
  );
  const feed = await startPublisher({
    port: publisherPort,
    host: '127.0.0.1',
    sink: { kind: 'gateway', url: gw.url, apiKey: API_KEY },
    autostart: true,
    profile: 'ramp',
    messagesPerSecond: 400,
    rampSeconds: 8,
  });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 1000 });
    await page.goto(gw.url + '/dashboard', { waitUntil: 'load' });
    await sleep(12_000);
    await page.screenshot({ path: DOCS + 'dashboard-live.png' });

    await page.goto(gw.url + '/dashboard#console', { waitUntil: 'load' });
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#login-password', PASSWORD);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#admin:not([hidden])');
    await page.waitForFunction(() => (document.querySelector('#channels tbody')?.childElementCount ?? 0) > 3);
    await page.type('#inspect-channel', 'BTC.trade');
    await page.$eval('#inspect-limit', (e) => ((e as HTMLInputElement).value = '5'));
    await page.click('#inspect button[type=submit]');
    await page.click('#tail-toggle');
    await page.type('#publish-channel', 'BTC.trade');
    await page.$eval(
      '#publish-data',
      (e) => ((e as HTMLTextAreaElement).value = '{"type":"trade","price":97000.5,"note":"from the console"}'),
    );
    await page.type('#lookup-user', '');
    await sleep(3000);
    await page.screenshot({ path: DOCS + 'dashboard-console.png', fullPage: true });

    await page.goto(gw.url + '/dashboard#loadtest', { waitUntil: 'load' });
    await sleep(1000);
    const o = parseLoadtestArgs([
      ...['--url', ws, '--connections', '200', '--duration', '10', '--workers', '1', '--channels', 'BTC.trade,ETH.trade'],
      ...['--report-to', gw.url, '--report-key', API_KEY, '--quiet'],
    ]);
    const run = runLoadtest(o);
    await sleep(9000);
    await page.screenshot({ path: DOCS + 'dashboard-loadtest.png' });
    await run;
  } finally {
    await browser.close();
    for (const s of subscribers) s.terminate();
    await feed.close();
    await gw.close();
  }
  process.stdout.write(`screenshots written to ${DOCS}dashboard-{live,console,loadtest}.png\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
