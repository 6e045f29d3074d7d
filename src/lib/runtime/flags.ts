/**
 * Command-line parsing for every app: node's parseArgs behind one call that turns its errors
 * into a `UsageError`, and the coercions flags and environment variables need (numbers,
 * booleans, lists), each failing with a message that names the flag and the bad value.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command-line usage: the app prints the message and its help, and exits 2. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
  readonly code: string = 'ERR_USAGE';
}

/** An error class a coercion throws: UsageError by default, the gateway's ConfigError for its config. */
export type ErrorClass = new (message: string) => Error;

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs, strict; any error it raises becomes `error` (UsageError by default). */
export function parseFlags<O extends Options>(
  argv: readonly string[],
  options: O,
  { positionals = false, error = UsageError as ErrorClass } = {},
) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: positionals });
  } catch (cause) {
    throw new error((cause as Error).message);
  }
}

export interface NumberRule {
  /** Smallest accepted value. */
  readonly min?: number;
  /** Whole numbers only. */
  readonly integer?: boolean;
  readonly error?: ErrorClass;
}

/** `v` as a number, or `dflt` when absent or empty; otherwise a clear error naming `name`. */
export function toNumber(name: string, v: string | undefined, rule?: NumberRule): number | undefined;
export function toNumber(name: string, v: string | undefined, rule: NumberRule, dflt: number): number;
export function toNumber(name: string, v: string | undefined, rule: NumberRule = {}, dflt?: number): number | undefined {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  const Err = rule.error ?? UsageError;
  if (rule.integer && !Number.isInteger(n)) throw new Err(`${name}: expected an integer (got ${JSON.stringify(v)})`);
  if (!Number.isFinite(n)) throw new Err(`${name}: expected a number (got ${JSON.stringify(v)})`);
  if (rule.min !== undefined && n < rule.min) throw new Err(`${name}: expected a number ≥ ${rule.min} (got ${JSON.stringify(v)})`);
  return n;
}

/** true/false, 1/0, yes/no, on/off. */
export function toBool(name: string, v: string, error: ErrorClass = UsageError): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new error(`${name}: expected true or false (got ${JSON.stringify(v)})`);
}

/** A comma-separated list, trimmed, without empty items. */
export function toList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
