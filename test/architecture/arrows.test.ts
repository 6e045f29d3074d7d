/**
 * The import-graph rules (`.dependency-cruiser.mjs`, run by `npm run lint` through `lint:arrows`)
 * applied to planted fixture trees: each kind of violation is refused, the allowed arrows pass,
 * so a config edit cannot switch a rule off unnoticed. Also: lint runs the rules, and the known
 * violations are only the arrows the gateway's composition root removes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruiseTree, root } from './cruise.js';

/** Writes `files` (path → source) into a fresh temp folder and cruises its src/. */
async function violationsOf(files: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'odin-ws-arrows-'));
  try {
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    const result = await cruiseTree(dir, ['src']);
    assert.equal(result.summary.totalCruised, Object.keys(files).length, 'every planted file is in the graph');
    const cycleOf = (v: (typeof result.summary.violations)[number]): string =>
      v.cycle && v.rule.name === 'no-cycle' ? ` (cycle: ${v.cycle.map((m) => m.name.replace(/^.*\//, '')).join(' ')})` : '';
    return result.summary.violations.map((v) => `${v.rule.severity} ${v.rule.name}: ${v.from} → ${v.to}${cycleOf(v)}`).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const leaf = 'export const x = 1;\n';

test('arrows: a tree that keeps the rules passes (own folder, lower layers, allowed adapter arrows)', async () => {
  assert.deepEqual(
    await violationsOf({
      'src/lib/protocol/names.ts': leaf,
      'src/lib/core/seam.ts': "import { x } from '../protocol/names.js';\nexport const y = x;\n",
      'src/lib/http/router.ts': "import { y } from '../core/seam.js';\nexport const r = y;\n",
      'src/lib/transport-ws/ws.ts':
        "import { r } from '../http/router.js';\nimport { y } from '../core/seam.js';\nexport const w = r + y;\n",
      'src/lib/transport-ws/frame.ts': "import { w } from './ws.js';\nexport const f = w;\n",
      'src/lib/publisher/sinks/sink.ts': "import { r } from '../../http/router.js';\nexport const s = r;\n",
      'src/lib/publisher/server.ts': "import { s } from './sinks/sink.js';\nexport const p = s;\n",
      'src/apps/pub/main.ts':
        "import { p } from '../../lib/publisher/server.js';\nimport { w } from '../../lib/transport-ws/ws.js';\nexport const m = p + w;\n",
    }),
    [],
  );
});

test('arrows: a file cycle is refused, a type-only one too', async () => {
  // b → c is the only arrow closing the cycle, and it is type-only. A cycle is reported once.
  assert.deepEqual(
    await violationsOf({
      'src/lib/loadtest/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'src/lib/loadtest/b.ts': "import type { C } from './c.js';\nexport const b: C = 1;\n",
      'src/lib/loadtest/c.ts': "import { a } from './a.js';\nexport type C = typeof a;\n",
    }),
    ['error no-cycle: src/lib/loadtest/a.ts → src/lib/loadtest/b.ts (cycle: b.ts c.ts a.ts)'],
  );
});

test('arrows: a folder cycle with no file cycle is refused, subfolders counted with their folder', async () => {
  // one/sub/a → two/b and two/c → one/d: no file cycle, but the folders import each other.
  assert.deepEqual(
    await violationsOf({
      'src/apps/one/sub/a.ts': "import { x } from '../../two/b.js';\nexport const a = x;\n",
      'src/apps/one/d.ts': leaf,
      'src/apps/two/b.ts': leaf,
      'src/apps/two/c.ts': "import { x } from '../one/d.js';\nexport const c = x;\n",
    }),
    ['error no-folder-cycle: src/apps/one → src/apps/two', 'error no-folder-cycle: src/apps/two → src/apps/one'],
  );
  // The same between two adapters, each arrow allowed on its own (transport-emulation → http is).
  const found = await violationsOf({
    'src/lib/transport-emulation/a.ts': "import { b } from '../http/b.js';\nexport const a = b;\n",
    'src/lib/http/b.ts': leaf,
    'src/lib/http/c.ts': "import { a } from '../transport-emulation/a.js';\nexport const c = a;\n",
  });
  assert.ok(found.includes('error no-folder-cycle: src/lib/http → src/lib/transport-emulation'), found.join('\n'));
  assert.ok(found.includes('error no-folder-cycle: src/lib/transport-emulation → src/lib/http'), found.join('\n'));
});

test('arrows: an adapter → adapter arrow not on the allowed list is refused', async () => {
  assert.deepEqual(
    await violationsOf({
      'src/lib/server/config.ts': leaf,
      'src/lib/dashboard/stats.ts': "import { x } from '../server/config.js';\nexport const s = x;\n",
      'src/lib/loadtest/report.ts': "import { s } from '../dashboard/stats.js';\nexport const r = s;\n",
      'src/lib/newthing/a.ts': "import type { r } from '../loadtest/report.js';\nexport type A = typeof r;\n",
    }),
    [
      'error adapter-arrow-not-allowed: src/lib/dashboard/stats.ts → src/lib/server/config.ts',
      'error adapter-arrow-not-allowed: src/lib/loadtest/report.ts → src/lib/dashboard/stats.ts',
      'error adapter-arrow-not-allowed: src/lib/newthing/a.ts → src/lib/loadtest/report.ts',
    ],
  );
});

test("arrows: reaching into another folder's subfolder is refused (it would hide a folder cycle)", async () => {
  assert.deepEqual(
    await violationsOf({
      'src/lib/publisher/sinks/sink.ts': leaf,
      'src/apps/pub/main.ts': "import { x } from '../../lib/publisher/sinks/sink.js';\nexport const m = x;\n",
      'src/apps/one/sub/d.ts': leaf,
      'src/apps/two/c.ts': "import { x } from '../one/sub/d.js';\nexport const c = x;\n",
    }),
    [
      'error no-reach-into-subfolder: src/apps/pub/main.ts → src/lib/publisher/sinks/sink.ts',
      'error no-reach-into-subfolder: src/apps/two/c.ts → src/apps/one/sub/d.ts',
    ],
  );
});

test('arrows: npm run lint runs the rules with the baseline of known violations', () => {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.lint ?? '', /npm run lint:arrows\b/);
  assert.match(scripts['lint:arrows'] ?? '', /^depcruise src bench test --config \.dependency-cruiser\.mjs --ignore-known\b/);
  assert.match(scripts.pretest ?? '', /npm run lint\b/);
});

test('arrows: no known violations are left (the composition root landed; a new wrong-way arrow is fixed, not baselined)', () => {
  const known = JSON.parse(readFileSync(join(root, '.dependency-cruiser-known-violations.json'), 'utf8')) as Array<{
    from: string;
    to: string;
    rule: { name: string };
  }>;
  assert.deepEqual(
    known.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
    [],
  );
});
