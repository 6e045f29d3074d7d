// Rewrites the options table of docs/operations.md from the gateway's option table (src/apps/gateway/options-table.ts).
// Run after `npm run build`: `npm run docs:options`. test/gateway/config.test.ts fails when the docs are stale.
import { readFileSync, writeFileSync } from 'node:fs';
const { gatewayOptionsMarkdown } = await import('../dist/src/apps/gateway/options-table.js');
const path = new URL('../docs/operations.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const re = /(<!-- options:begin[^>]*-->\n)[\s\S]*?(<!-- options:end -->)/;
if (!re.test(doc)) throw new Error('docs/operations.md: no <!-- options:begin --> … <!-- options:end --> markers');
writeFileSync(
  path,
  doc.replace(re, (_, a, b) => a + gatewayOptionsMarkdown() + b),
);
