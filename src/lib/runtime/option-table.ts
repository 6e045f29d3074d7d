/**
 * Option tables: each option an app takes is one row (its key in the config file, its flag, its
 * environment variable, its unit, its section and one line of help). From a table come the one
 * parser (defaults ← file ← environment ← flags), `--help` and the options table of
 * docs/operations.md, so the three cannot disagree. Validation and defaults stay with the part
 * that owns the option (its zod schema); the table never restates them: `--help` reads each
 * default from the schema's own defaults (`defaults`), or `defaultText` for a derived one.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError } from '../core/options.js';
import { parseFlags, toBool, toList, toNumber } from './flags.js';

/** How a flag or environment string becomes a value. `secret`: a string never shown in help or errors. */
export type OptionKind = 'string' | 'secret' | 'int' | 'number' | 'bool' | 'list';

export interface OptionRow {
  /** Where the value goes in the merged object, dotted (`port`, `kafka.brokers`, `client.writeDelayMs`): also its key in the file. */
  readonly key: string;
  readonly kind: OptionKind;
  /** Long flag without the dashes. */
  readonly flag?: string;
  readonly short?: string;
  /** A flag that takes no value and sets this one (e.g. `--no-anonymous` → allowAnonymous: false). */
  readonly flagSets?: unknown;
  readonly env?: string;
  /** Unit of a number (ms, bytes, connections, …), shown beside its default. */
  readonly unit?: string;
  /** Shown instead of the schema's default when the default is derived (e.g. "cores with --broker nats"). */
  readonly defaultText?: string;
  /** A part of the table (help and docs group rows by it). */
  readonly section: string;
  readonly help: string;
  /**
   * The flag exists only to be refused with this message (a secret on the command line shows in
   * `ps`; a removed option says what replaced it).
   */
  readonly refusedFlag?: string;
}

export interface LoadedOptions {
  /** File ← environment ← flags, merged into one object of the file's shape (not yet validated). */
  readonly values: Record<string, unknown>;
  readonly help: boolean;
  readonly configPath: string | undefined;
}

const CONFIG_ROW = { flag: 'config', short: 'c' } as const;

const requireCjs = createRequire(import.meta.url);
/**
 * `yaml` is loaded by the first YAML config file, not at start: ~8 MiB of RSS (measured alone)
 * that a process configured by flags, environment or JSON never needs (docs/performance.md,
 * "Fixed costs"). Its Node entry point is CommonJS, so it loads synchronously.
 */
function parseYaml(text: string): unknown {
  return (requireCjs('yaml') as typeof import('yaml')).parse(text);
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`config: cannot read ${path}: ${(cause as Error).message}`);
  }
  let v: unknown;
  try {
    v = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`config: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(cause as Error).message}`);
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config: ${path} must hold an object of options`);
  return v as Record<string, unknown>;
}

/** Sets `value` at a dotted path, copying the objects on the way (the file's objects are not mutated). */
export function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let o = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const next = o[p] ?? undefined;
    if (next !== undefined && (typeof next !== 'object' || Array.isArray(next)))
      throw new ConfigError(`${parts.slice(0, i + 1).join('.')}: must be an object`);
    o[p] = { ...((next as Record<string, unknown> | undefined) ?? {}) };
    o = o[p] as Record<string, unknown>;
  }
  o[parts[parts.length - 1]!] = value;
}

/** The value at a dotted path, or undefined. */
export function getPath(source: unknown, key: string): unknown {
  let v = source;
  for (const p of key.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function coerce(row: OptionRow, name: string, raw: string): unknown {
  const rule = { error: ConfigError };
  switch (row.kind) {
    case 'int':
      return toNumber(name, raw, { ...rule, integer: true }, 0);
    case 'number':
      return toNumber(name, raw, rule, 0);
    case 'bool':
      return toBool(name, raw, ConfigError);
    case 'list':
      return toList(raw);
    default:
      return raw;
  }
}

type FlagType<R> = R extends { readonly flagSets: unknown } ? 'boolean' : R extends { readonly kind: 'bool' } ? 'boolean' : 'string';
/** parseArgs options of a table's flags, typed from the rows (declare rows `as const satisfies readonly OptionRow[]`). */
export type FlagSpecOf<Rows extends readonly OptionRow[]> = {
  readonly [R in Rows[number] as R extends { readonly flag: infer F extends string } ? F : never]: { readonly type: FlagType<R> };
};

/** The parseArgs options of a table's flags. */
export function flagSpecOf<const Rows extends readonly OptionRow[]>(rows: Rows): FlagSpecOf<Rows> {
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const r of rows) {
    if (r.flag === undefined) continue;
    const boolean = r.flagSets !== undefined || (r.kind === 'bool' && r.refusedFlag === undefined);
    spec[r.flag] = { type: boolean ? 'boolean' : 'string', ...(r.short ? { short: r.short } : {}) };
  }
  return spec as unknown as FlagSpecOf<Rows>;
}

/**
 * The one merge: into `values` (the file's options, copied), each row's environment variable,
 * then each row's flag from parsed `flags`. An empty variable counts as unset. Errors are
 * ConfigErrors naming the flag or variable.
 */
export function mergeSources(
  rows: readonly OptionRow[],
  file: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const values = { ...file };
  for (const r of rows) {
    const raw = r.env !== undefined ? env[r.env] : undefined;
    if (raw !== undefined && raw !== '') setPath(values, r.key, coerce(r, r.env!, raw));
  }
  for (const r of rows) {
    if (r.flag === undefined) continue;
    const v = flags[r.flag];
    if (v === undefined || v === false) continue;
    if (r.refusedFlag !== undefined) throw new ConfigError(`--${r.flag}: ${r.refusedFlag}`);
    setPath(values, r.key, r.flagSets !== undefined ? r.flagSets : typeof v === 'boolean' ? v : coerce(r, `--${r.flag}`, String(v)));
  }
  return values;
}

/**
 * The one parser of an app's options: defaults (left to the schemas) ← the file named by
 * --config or `configEnv` ← each row's environment variable ← each row's flag.
 */
export function loadOptions(
  rows: readonly OptionRow[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  configEnv?: string,
): LoadedOptions {
  const spec = {
    ...flagSpecOf(rows),
    [CONFIG_ROW.flag]: { type: 'string', short: CONFIG_ROW.short },
    help: { type: 'boolean', short: 'h' },
  } as const;
  const flags = parseFlags(argv, spec, { error: ConfigError }).values as Record<string, string | boolean | undefined>;
  const configPath = (flags[CONFIG_ROW.flag] as string | undefined) ?? (configEnv ? env[configEnv] || undefined : undefined);
  const values = mergeSources(rows, configPath ? readConfigFile(configPath) : {}, env, flags);
  return { values, help: flags.help === true, configPath };
}

function defaultOf(row: OptionRow, defaults: unknown): string {
  if (row.defaultText !== undefined) return row.defaultText;
  if (row.kind === 'secret') return '(none)';
  const v = getPath(defaults, row.key);
  if (v === undefined || v === '') return '(none)';
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.join(',');
  return row.unit ? `${String(v)} ${row.unit}` : String(v);
}

function flagText(r: OptionRow): string {
  if (r.flag === undefined) return '';
  const short = r.short ? `-${r.short}, ` : '    ';
  const arg =
    r.flagSets !== undefined || r.kind === 'bool'
      ? ''
      : ` ${r.kind === 'list' ? 'LIST' : r.kind === 'int' || r.kind === 'number' ? 'N' : 'VALUE'}`;
  return `${short}--${r.flag}${arg}`;
}

/** Help lines of rows that have a flag or a variable, grouped by section: flag | environment | what it is [default]. */
export function renderRows(rows: readonly OptionRow[], defaults: unknown): string {
  const lines: string[] = [];
  let section = '';
  for (const r of rows) {
    if (r.flag === undefined && r.env === undefined) continue;
    if (r.refusedFlag !== undefined && r.env === undefined) continue;
    if (r.section !== section) {
      section = r.section;
      lines.push('', `${section}:`);
    }
    lines.push(helpLine(r.refusedFlag !== undefined ? '' : flagText(r), r.env ?? '', `${r.help} [${defaultOf(r, defaults)}]`));
  }
  return lines.join('\n') + '\n';
}

const helpLine = (a: string, b: string, c: string): string => `  ${a.padEnd(30)} ${b.padEnd(32)} ${c}`;

/** An app's `--help` options: --config, the rows, --help. */
export function renderHelp(rows: readonly OptionRow[], defaults: unknown, configEnv?: string): string {
  return (
    helpLine('-c, --config FILE', configEnv ?? '', 'YAML or JSON options file (keys: the dotted names in docs/operations.md)') +
    '\n' +
    renderRows(rows, defaults) +
    '\n' +
    helpLine('-h, --help', '', 'this help') +
    '\n'
  );
}

/** The Markdown table of docs/operations.md: key | flag | environment | default | meaning. */
export function renderMarkdown(rows: readonly OptionRow[], defaults: unknown): string {
  const out = ['| key | flag | environment | default | meaning |', '|---|---|---|---|---|'];
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  for (const r of rows) {
    const flag = r.flag === undefined || r.refusedFlag !== undefined ? '' : `\`--${r.flag}\``;
    out.push(
      `| \`${r.key}\` | ${flag} | ${r.env ? `\`${r.env}\`` : ''} | ${esc(defaultOf(r, defaults))} | ${esc(r.help)}${r.refusedFlag ? ` (${esc(r.refusedFlag)})` : ''} |`,
    );
  }
  return out.join('\n') + '\n';
}
