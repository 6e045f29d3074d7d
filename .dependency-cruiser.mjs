/**
 * The import graph, checked by a machine (`npm run lint`, part of `npm test`; docs/architecture.md
 * "Layers and seams"). ESLint (`eslint.config.js`) keeps the layers pointing one way
 * (protocol ← core ← adapters ← apps); this file adds what a per-file linter cannot see:
 *
 * - no import cycle between files;
 * - no cycle between folders (a folder counts with its subfolders: `src/lib/<folder>`,
 *   `src/apps/<app>`, `bench`, `test/<dir>`);
 * - an adapter (`src/lib/<folder>` other than protocol/ and core/) imports another adapter only
 *   along an arrow of ALLOWED_ADAPTER_ARROWS below, each with its reason.
 *
 * Type-only imports count, for cycles too: a type-only cycle still ties the two files' changes
 * together, it is one value import away from a runtime cycle (an ES module cycle fails with a
 * TDZ error depending on which file loads first), and a reader follows it just the same.
 *
 * Known violations: `.dependency-cruiser-known-violations.json` (dependency-cruiser's baseline,
 * read with `--ignore-known`) is empty since the gateway's composition root landed (issue 19), and
 * test/architecture/arrows.test.ts keeps it empty: a wrong-way arrow is fixed, not baselined. dependency-cruiser 17 applies a
 * baseline to file-level violations only, so the folder-cycle rule below reads the same file and
 * lets exactly its folder arrows pass.
 * test/architecture/arrows.test.ts proves the rules still refuse each kind of violation.
 */
import { readFileSync } from 'node:fs';

/** The file dependency-cruiser's `--ignore-known` reads by default. */
export const KNOWN_VIOLATIONS_FILE = new URL('./.dependency-cruiser-known-violations.json', import.meta.url);

/**
 * Adapter → adapter arrows that are part of the design: [from, to, why]. Folders are under
 * src/lib/. Any other arrow between two adapters fails the lint.
 */
export const ALLOWED_ADAPTER_ARROWS = [
  ['transport-ws', 'http', 'the WebSocket transport serves the app on the one HTTP layer (NodeHttpServer)'],
  ['transport-emulation', 'http', 'the HTTP-streaming/SSE endpoints read bodies and route with the one HTTP layer'],
  ['emulation-nats', 'transport-emulation', "NatsSessionRouter implements the emulation's SessionRouter seam"],
  ['server', 'http', "the gateway's HTTP app (API, health, metrics) is built on the one HTTP layer"],
  ['server', 'transport-emulation', "the gateway's HTTP app routes Centrifugo's HTTP-streaming, SSE and /emulation endpoints"],
  ['server', 'runtime', 'metrics read at scrape time (runtime/prom-counters.ts), shared with the Kafka ingest'],
  ['dashboard', 'http', "the dashboard's routes and admin API use the one HTTP layer"],
  ['dashboard', 'histogram', "the stats row's delivery-latency percentiles"],
  ['publisher', 'http', "the publisher's control API and listener use the one HTTP layer"],
  ['publisher', 'kafka', 'the Kafka sink produces through the Kafka seam (kafka/client.ts) to the Odin topics'],
  ['publisher', 'runtime', "the process's Clock (runtime/clock.ts) when the publisher is given none (tests give a FakeClock)"],
  ['loadtest', 'histogram', "the load tester's latency and connect-time percentiles"],
  ['ops-probe', 'kafka', 'the Kafka probe reads through the Kafka seam (kafka/client.ts)'],
  [
    'kafka',
    'runtime',
    'the `kafka:` options (gateway, publisher and kafka apps) are rows of the one option table (runtime/option-table.ts)',
  ],
];

/** A folder the folder rules treat as one, with its subfolders (one capture group). */
const UNIT = '(src/lib/[^/]+|src/apps/[^/]+|bench|test/[^/]+)';

/** Layers every adapter may import (ESLint checks the rest of the layering). */
const LOWER_LAYERS = ['protocol', 'core'];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyOf = (names) => `(${names.map(escape).join('|')})`;

function adapterArrowRules() {
  const targetsOf = new Map();
  for (const [from, to] of ALLOWED_ADAPTER_ARROWS) targetsOf.set(from, [...(targetsOf.get(from) ?? []), to]);
  const rule = (fromPath, fromPathNot, mayImport) => ({
    name: 'adapter-arrow-not-allowed',
    severity: 'error',
    comment:
      'An adapter imports protocol/, core/, its own folder and the arrows of ALLOWED_ADAPTER_ARROWS in .dependency-cruiser.mjs ' +
      'only: put a shared name or type in protocol/ or core/, or inject it from the app that composes both.',
    from: { path: fromPath, ...(fromPathNot ? { pathNot: fromPathNot } : {}) },
    to: { path: `^src/lib/(?!${anyOf(mayImport)}/)[^/]+/`, pathNot: '^src/lib/$1/' },
  });
  return [
    // Adapters with allowed arrows: one rule each.
    ...[...targetsOf].map(([from, to]) => rule(`^src/lib/(${escape(from)})/`, null, [...LOWER_LAYERS, ...to])),
    // Every other adapter: none.
    rule('^src/lib/([^/]+)/', `^src/lib/${anyOf([...LOWER_LAYERS, ...targetsOf.keys()])}/`, LOWER_LAYERS),
  ];
}

/** Folder arrows of known folder cycles, from the baseline: [from folder, [to folders]]. */
function knownFolderArrows() {
  const known = JSON.parse(readFileSync(KNOWN_VIOLATIONS_FILE, 'utf8'));
  const byFrom = new Map();
  for (const v of known) if (v.rule?.name === 'no-folder-cycle') byFrom.set(v.from, [...new Set([...(byFrom.get(v.from) ?? []), v.to])]);
  return byFrom;
}

function folderCycleRules() {
  const rule = (from, to) => ({
    name: 'no-folder-cycle',
    severity: 'error',
    comment: 'Folders import one way: move what both sides need to the lower one (or to protocol/), or inject it.',
    scope: 'folder',
    from,
    to: { circular: true, ...to },
  });
  const known = knownFolderArrows();
  if (known.size === 0) return [rule({}, {})];
  return [
    rule({ pathNot: `^${anyOf([...known.keys()])}$` }, {}),
    ...[...known].map(([from, to]) => rule({ path: `^${escape(from)}$` }, { pathNot: `^${anyOf(to)}$` })),
  ];
}

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Files import one way: move what both need to a third file, or let the caller pass it in.',
      from: {},
      to: { circular: true },
    },
    ...folderCycleRules(),
    ...adapterArrowRules(),
    {
      // Keeps the folder-cycle rule exact: dependency-cruiser counts a folder's imports with its
      // subfolders', but an import *into* a subfolder lands on the subfolder, so a cycle through
      // it would not be seen. Only the folder itself (and tests, which nothing imports) may reach
      // into its subfolders.
      name: 'no-reach-into-subfolder',
      severity: 'error',
      comment: 'Import a folder through its top-level files; its subfolders are its own.',
      from: { path: `^${UNIT}/`, pathNot: '^test/' },
      to: { path: `^${UNIT}/[^/]+/`, pathNot: '^$1/' },
    },
    {
      name: 'no-reach-into-subfolder',
      severity: 'error',
      comment: 'Import a folder through its top-level files; its subfolders are its own.',
      from: { pathNot: `^(${UNIT}|test)/` },
      to: { path: `^${UNIT}/[^/]+/` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports are dependencies too (see above).
    tsPreCompilationDeps: true,
    skipAnalysisNotInRules: true,
  },
};
