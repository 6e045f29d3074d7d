#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli.js');
if (!existsSync(entry)) {
  console.error('odin-ws: dist/ is missing; run `npm run build` first (npm start and npm test do it for you).');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
