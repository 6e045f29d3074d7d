/**
 * What a command loads: the static import closure (type-only imports included, dynamic imports
 * not followed) of the CLI and of a command's entry points. `odin-ws loadtest` must load no
 * gateway code, and the CLI itself loads no command until it runs one (src/cli.ts).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ICruiseResult } from 'dependency-cruiser';
import { cruiseTree, root } from './cruise.js';

let graph: ICruiseResult;
before(async () => {
  graph = await cruiseTree(root, ['src', 'bench']);
});

/** Every module reachable from `entries` by static imports (not `import()`). */
function closure(entries: readonly string[]): Set<string> {
  const deps = new Map(graph.modules.map((m) => [m.source, m.dependencies.filter((d) => !d.dynamic).map((d) => d.resolved)]));
  for (const e of entries) assert.ok(deps.has(e), `${e} is in the graph`);
  const seen = new Set<string>();
  const todo = [...entries];
  for (let m = todo.pop(); m !== undefined; m = todo.pop()) {
    if (seen.has(m)) continue;
    seen.add(m);
    todo.push(...(deps.get(m) ?? []));
  }
  return seen;
}

/** The gateway's code: its server, core node, brokers, transports, ingests, dashboard. */
const GATEWAY =
  /^src\/lib\/(server|dashboard|kafka|kafka-local|emulation-nats|broker-[^/]+|transport-[^/]+|ingest-[^/]+)\/|^src\/lib\/core\/gateway\.ts$/;

test('closure: the CLI loads no command until it runs one (each is a dynamic import)', () => {
  const cli = [...closure(['src/cli.ts'])];
  assert.deepEqual(
    cli.filter((m) => /^(src\/apps|bench)\//.test(m)),
    [],
  );
  // The dynamic imports are there: every command, and the benchmark harness for `odin-ws bench`.
  const dynamic = graph.modules.find((m) => m.source === 'src/cli.ts')!.dependencies.filter((d) => d.dynamic);
  assert.ok(
    dynamic.some((d) => d.resolved === 'bench/command.ts'),
    'odin-ws bench loads bench/command.ts',
  );
  assert.ok(
    dynamic.some((d) => d.resolved === 'src/apps/loadtest/main.ts'),
    'odin-ws loadtest loads src/apps/loadtest/main.ts',
  );
});

test('closure: odin-ws loadtest (CLI, command, forked worker) loads no gateway code', () => {
  const loaded = closure(['src/cli.ts', 'src/apps/loadtest/main.ts', 'src/lib/loadtest/worker.ts']);
  assert.ok(loaded.has('src/lib/loadtest/runner.ts'));
  assert.deepEqual(
    [...loaded].filter((m) => GATEWAY.test(m)),
    [],
  );
});

test('closure: odin-ws tail loads no gateway code', () => {
  assert.deepEqual(
    [...closure(['src/cli.ts', 'src/apps/tail/main.ts'])].filter((m) => GATEWAY.test(m)),
    [],
  );
});
