/**
 * `npm run test:unit`: every unit test (`*.unit.test.js` under dist/test) in this one process.
 * A unit test opens no socket and starts no process, so one process can run them all: the files
 * share the loaded modules instead of booting Node and loading core once per file. A unit test
 * must leave no global state behind (environment, listeners, timers). Arguments keep only the
 * files whose path contains one of them: `node dist/test/run-unit.js core/ protocol/`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.unit.test.js') && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort();
if (files.length === 0) {
  console.error(
    `no unit test file under ${here}${filters.length > 0 ? ` matching ${filters.join(', ')}` : ''} (build first: npm run build:incremental)`,
  );
  process.exitCode = 1;
}
for (const f of files) await import(pathToFileURL(join(here, f)).href);
