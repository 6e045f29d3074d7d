/**
 * A real browser (Chromium, as the dashboard tests use) with WebSocket blocked: the `centrifuge`
 * SDK's own browser build (node_modules/centrifuge/dist/centrifuge.js) is given the usual list
 * of transports, the WebSocket endpoint refuses the upgrade (as a proxy that blocks WebSocket
 * does), and the SDK falls back to HTTP-streaming, or to SSE with the browser's own
 * EventSource; it subscribes and receives what the server API publishes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Browser } from 'puppeteer-core';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { launchBrowser } from '../testkit/browser.js';
import { api } from '../testkit/ws-client.js';

const KEY = 'browser-emu-key';
// The package's exports hide dist/: found beside its main entry (build/index.js).
const SDK = join(dirname(createRequire(import.meta.url).resolve('centrifuge')), '..', 'dist', 'centrifuge.js');
let gw: RunningGateway;
let browser: Browser;

before(async () => {
  gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await gw?.close();
});

for (const fallback of ['http_stream', 'sse'] as const) {
  test(`Chromium, WebSocket blocked: the SDK falls back to ${fallback} and receives publications`, async () => {
    const page = await browser.newPage();
    try {
      // A page of the gateway's origin, so /emulation is same-origin as in a real deployment.
      await page.goto(`${gw.url}/health`);
      await page.addScriptTag({ path: SDK });
      const channel = `SOL.${fallback === 'sse' ? 'liquidity' : 'trade'}`;
      const transport = await page.evaluate(
        async (wsBlocked: string, fallbackName: string, fallbackUrl: string, ch: string) => {
          type Ctx = { transport: string };
          const w = window as unknown as Record<string, unknown>;
          const C = w.Centrifuge as new (
            t: unknown,
            o: unknown,
          ) => {
            connect(): void;
            once(e: string, cb: (c: Ctx) => void): void;
            newSubscription(ch: string): {
              on(e: string, cb: (c: { data: unknown }) => void): void;
              subscribe(): void;
              ready(ms: number): Promise<void>;
            };
          };
          const c = new C(
            [
              { transport: 'websocket', endpoint: wsBlocked },
              { transport: fallbackName, endpoint: fallbackUrl },
            ],
            { minReconnectDelay: 50, maxReconnectDelay: 300 },
          );
          w.received = [] as unknown[];
          const connected = new Promise<Ctx>((r) => c.once('connected', r));
          const sub = c.newSubscription(ch);
          sub.on('publication', (p) => (w.received as unknown[]).push(p.data));
          sub.subscribe();
          c.connect();
          const ctx = await connected;
          await sub.ready(10_000);
          return ctx.transport;
        },
        // A path that refuses the upgrade (404): the browser's WebSocket fails as behind a blocking proxy.
        `${gw.url.replace('http', 'ws')}/blocked-websocket`,
        fallback,
        `${gw.url}/connection/${fallback}`,
        channel,
      );
      assert.equal(transport, fallback);
      for (let i = 0; i < 3; i++) await api(gw.url, KEY, 'publish', { channel, data: { i } });
      await page.waitForFunction(() => ((window as unknown as { received: unknown[] }).received ?? []).length === 3, { timeout: 10_000 });
      const received = await page.evaluate(() => (window as unknown as { received: unknown[] }).received);
      assert.deepEqual(received, [{ i: 0 }, { i: 1 }, { i: 2 }]);
    } finally {
      await page.close();
    }
  });
}
