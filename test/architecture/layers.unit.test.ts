/**
 * The import rule is part of `npm test` through `npm run lint`; this test proves the rule itself
 * still refuses each wrong-way arrow, so a config edit cannot switch it off unnoticed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../..', import.meta.url));

const cases: Array<{ file: string; code: string; refused: boolean }> = [
  { file: 'src/lib/protocol/x.ts', code: "import * as m from '../core/hub.js';", refused: true },
  { file: 'src/lib/protocol/x.ts', code: "import * as m from 'ws';", refused: true },
  { file: 'src/lib/core/x.ts', code: "import * as m from '../protocol/codes.js';", refused: false },
  { file: 'src/lib/core/x.ts', code: "import * as m from '../transport-ws/ws-transport.js';", refused: true },
  { file: 'src/lib/core/x.ts', code: "import * as m from 'pino';", refused: true },
  { file: 'src/lib/server/x.ts', code: "import * as m from '../core/hub.js';", refused: false },
  { file: 'src/lib/server/x.ts', code: "import * as m from '../../apps/dev/main.js';", refused: true },
  { file: 'src/lib/server/x.ts', code: "import * as m from '../../../test/testkit/wait.js';", refused: true },
  { file: 'src/apps/gateway/x.ts', code: "import * as m from '../../lib/server/run.js';", refused: false },
  { file: 'src/apps/gateway/x.ts', code: "import * as m from '../dev/main.js';", refused: true },
  { file: 'bench/x.ts', code: "import * as m from '../src/apps/dev/main.js';", refused: true },
  { file: 'bench/x.ts', code: "import * as m from '../src/lib/loadtest/runner.js';", refused: false },
];

test('the layering rule refuses every wrong-way import and allows the right ones', async () => {
  const eslint = new ESLint({ cwd: root });
  for (const c of cases) {
    const [result] = await eslint.lintText(`${c.code}\nexport const used = a;\n`.replace('a;', c.code.includes('{ a }') ? 'a;' : '0;'), {
      filePath: `${root}/${c.file}`,
    });
    const restricted = (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports');
    assert.equal(restricted.length > 0, c.refused, `${c.file}: ${c.code} → ${restricted.map((m) => m.message).join('; ') || 'allowed'}`);
  }
});

test('core reads time and sets timers only through its injected Clock; adapters may use them', async () => {
  const eslint = new ESLint({ cwd: root });
  const timeCases: Array<{ file: string; code: string; refused: boolean }> = [
    { file: 'src/lib/core/x.ts', code: 'export const t = Date.now();', refused: true },
    { file: 'src/lib/core/x.ts', code: 'export const t = performance.now();', refused: true },
    { file: 'src/lib/core/x.ts', code: 'setTimeout(() => undefined, 1);', refused: true },
    { file: 'src/lib/core/x.ts', code: 'export const t = (clock: { now(): number }): number => clock.now();', refused: false },
    { file: 'src/lib/runtime/x.ts', code: 'export const t = Date.now() + performance.now();', refused: false },
  ];
  for (const c of timeCases) {
    const [result] = await eslint.lintText(`${c.code}\n`, { filePath: `${root}/${c.file}` });
    const restricted = (result?.messages ?? []).filter(
      (m) => m.ruleId === 'no-restricted-globals' || m.ruleId === 'no-restricted-properties',
    );
    assert.equal(restricted.length > 0, c.refused, `${c.file}: ${c.code} → ${restricted.map((m) => m.message).join('; ') || 'allowed'}`);
  }
});
