/**
 * The dashboard's static files: the page from `dashboard/static/` at the package root, and
 * uPlot from its npm package's `dist/` (vendored through npm, no CDN: works offline). All are
 * read once at start into memory, so a request can only ever get one of the known files
 * (no path from the URL touches the file system).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpReply } from '../core/transport.js';

/** From dist/src/lib/dashboard/ (compiled) up to the package root. */
export const STATIC_DIR = fileURLToPath(new URL('../../../../dashboard/static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Only our own scripts and styles; the WebSocket and fetches go to this origin. uPlot styles
 * its elements through the CSSOM (element.style), which CSP does not restrict.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

function uplotDist(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot'));
}

/** URL path (under /dashboard/) → file. */
export function loadStaticFiles(dir = STATIC_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`static/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  if (!files.has('static/index.html')) throw new Error(`dashboard: ${dir}index.html is missing`);
  const vendor = uplotDist();
  files.set('vendor/uPlot.iife.min.js', { body: readFileSync(join(vendor, 'uPlot.iife.min.js')), type: TYPES['.js']! });
  files.set('vendor/uPlot.min.css', { body: readFileSync(join(vendor, 'uPlot.min.css')), type: TYPES['.css']! });
  return files;
}

export function staticReply(f: StaticFile): HttpReply {
  return {
    status: 200,
    // Revalidate each load: files change with the package, and they are small.
    headers: { ...SECURITY_HEADERS, 'content-type': f.type, 'cache-control': 'no-cache' },
    body: f.body,
  };
}
