/**
 * The page must work from the published package too: its static files are in package.json
 * "files" and uPlot is a runtime dependency (served from node_modules/uplot/dist).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

it('ships dashboard/static and depends on uplot at run time', () => {
  const pkg = JSON.parse(readFileSync(ROOT + 'package.json', 'utf8')) as { dependencies: Record<string, string> };
  assert.ok(pkg.dependencies.uplot, 'uplot is a runtime dependency');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const files = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  for (const name of readdirSync(ROOT + 'dashboard/static')) assert.ok(files.has(`dashboard/static/${name}`), name);
  assert.ok(files.has('dist/src/lib/dashboard/static-files.js'));
});
