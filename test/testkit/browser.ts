/**
 * Headless Chromium for browser tests: Debian's `chromium` (scripts/provision/50-chromium.sh)
 * driven by puppeteer-core, which downloads no browser. CHROMIUM_PATH overrides the binary.
 */
import { accessSync, constants } from 'node:fs';
import puppeteer, { type Browser, type ConsoleMessage, type Page } from 'puppeteer-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string {
  const list = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : CANDIDATES;
  for (const p of list) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(`no Chromium found (${list.join(', ')}); run scripts/provision/50-chromium.sh or set CHROMIUM_PATH`);
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // As root (CI containers) Chromium's sandbox cannot start; the tests only load our own pages.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/** Console errors, uncaught page errors, CSP violations and failed requests of a page, collected. */
export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  return problems;
}
