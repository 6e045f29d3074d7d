import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The architecture, enforced: protocol ← core ← adapters (the rest of src/lib) ← apps (src/apps/*, bench/),
 * and no app imports another app. Each rule below forbids the arrows that would point the wrong way.
 * Paths are relative import specifiers, so each regex is written for the folder depth it applies to.
 */
const IO_MODULES = [
  'ws',
  'pino',
  'prom-client',
  'node:http',
  'node:https',
  'node:net',
  'node:fs',
  'node:fs/promises',
  'node:child_process',
  'node:cluster',
  'node:worker_threads',
  'kafkajs',
  '@platformatic/kafka',
];
const layer = (files, message, regex, extra = {}) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ regex, message }], ...extra }] },
});
const noIo = (why) => ({ paths: [...IO_MODULES.map((name) => ({ name, message: why }))], patterns: undefined });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'ops/**', '**/vendor/**', '.tmp/**', 'src/lib/protocol/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  layer(
    ['src/lib/**/*.ts'],
    'src/lib never imports an app, the CLI, bench/ or test code.',
    '(^|/)(apps|bench|test|testkit)/|(^|/)cli\\.js$',
  ),
  // protocol/ and core/ narrow the general lib rule (flat config: the last matching rule wins).
  {
    files: ['src/lib/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ regex: '^\\.\\./', message: 'protocol/ is the bottom layer: it imports nothing else of ours.' }],
          paths: noIo('protocol/ does no IO.').paths,
        },
      ],
    },
  },
  {
    files: ['src/lib/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ regex: '^\\.\\./(?!protocol/)', message: 'core/ imports only protocol/ (protocol ← core ← adapters ← apps).' }],
          paths: noIo('core/ does no IO: adapters are injected through its seams.').paths,
        },
      ],
      // Time is a dependency: core reads it and sets timers only through the injected Clock (core/clock.ts).
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'].map((name) => ({
          name,
          message: 'core/ takes time and timers from its injected Clock (core/clock.ts).',
        })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'core/ reads time from its injected Clock (core/clock.ts).' },
      ],
    },
  },
  layer(['src/apps/*/*.ts'], 'an app imports src/lib only, never another app.', '^\\.\\./(?!\\.\\./lib/)'),
  // `odin-ws dev` is the gateway app plus a feed: it runs the gateway's composition root, so the two cannot drift.
  layer(['src/apps/dev/*.ts'], 'dev imports src/lib and the gateway app only.', '^\\.\\./(?!\\.\\./lib/|gateway/)'),
  layer(['src/apps/*/*/*.ts'], 'an app imports src/lib only, never another app.', '^\\.\\./\\.\\./(?!\\.\\./lib/)'),
  layer(['bench/*.ts'], 'bench/ is an app: it imports src/lib only.', '^\\.\\./(?!src/lib/)'),
  layer(
    ['bench/micro/*.ts'],
    "a microbenchmark imports src/lib, test/testkit and the gateway's composition root only.",
    '^\\.\\./\\.\\./(?!src/lib/|test/testkit/|src/apps/gateway/(compose|options)\\.js$)',
  ),
  layer(
    ['bench/chaos/*.ts'],
    "a chaos run imports src/lib and test/testkit only (it shares the tests' harness).",
    '^\\.\\./\\.\\./(?!src/lib/|test/testkit/)',
  ),
  // The dashboard page (dashboard/static): plain browser JavaScript, served as files.
  {
    files: ['dashboard/static/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'fetch', 'WebSocket', 'URLSearchParams', 'ResizeObserver', 'Node'].map((g) => [g, 'readonly']),
      ),
    },
  },
  layer(
    ['test/testkit/**/*.ts'],
    "testkit imports src/lib and the gateway's composition root only (it starts other apps as processes).",
    '(^|/)src/apps/(?!gateway/(compose|options)\\.js$)',
  ),
);
