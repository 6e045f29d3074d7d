/**
 * Centrifugo's tags filter (centrifuge-js `tagsFilter`, client.proto `FilterNode`, subscribe field
 * `tf`): a tree of comparisons on a publication's tags, evaluated per subscriber. One home for its
 * wire shape, its validation and its evaluation; the Odin protocol's `"filter"` is the same tree.
 *
 * Semantics (Centrifugo's, checked against v6.9.1): a leaf (`op` empty) compares the tag `key`:
 * `eq`/`neq` (a missing tag is not equal), `in`/`nin` (a missing tag is the empty string),
 * `ex`/`nex`, `sw`/`ew`/`ct` (starts with, ends with, contains), `gt`/`gte`/`lt`/`lte` (decimal
 * numbers, compared exactly; a missing or non-numeric tag does not match). `and`/`or` need at
 * least one child, `not` exactly one.
 */
import { ErrorCode, protocolError, type ProtocolError } from './codes.js';

export type FilterOp = '' | 'and' | 'or' | 'not';
export type FilterCmp = 'eq' | 'neq' | 'in' | 'nin' | 'ex' | 'nex' | 'sw' | 'ew' | 'ct' | 'gt' | 'gte' | 'lt' | 'lte';

export interface FilterNode {
  readonly op: FilterOp;
  readonly key: string;
  readonly cmp: FilterCmp | '';
  readonly val: string;
  readonly vals: readonly string[];
  readonly nodes: readonly FilterNode[];
}

/** The refusal (107) of a filter in a namespace without `allowTagsFilter`. */
export const TAGS_FILTER_NOT_ALLOWED = 'tags filter not allowed in this namespace';

/** Most nodes in one filter, and its deepest nesting: a filter is held per subscription. */
export const MAX_FILTER_NODES = 128;
export const MAX_FILTER_DEPTH = 16;

const OPS: ReadonlySet<string> = new Set<FilterOp>(['', 'and', 'or', 'not']);
const VAL_CMPS: ReadonlySet<string> = new Set(['eq', 'neq', 'sw', 'ew', 'ct', 'gt', 'gte', 'lt', 'lte']);
const VALS_CMPS: ReadonlySet<string> = new Set(['in', 'nin']);
const EXISTS_CMPS: ReadonlySet<string> = new Set(['ex', 'nex']);

/** Proto3 JSON: an absent string is "", an absent list is []. */
function str(v: unknown): string | null {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : null;
}

/**
 * Parses and validates a filter tree (a JSON object, or the protobuf message of the same
 * fields). Unknown fields are ignored, as Centrifugo's decoder does. Never throws.
 */
export function parseTagsFilter(value: unknown, field: string): FilterNode | ProtocolError {
  let count = 0;
  const bad = (why: string): ProtocolError => protocolError(ErrorCode.BadRequest, `"${field}": ${why}`);
  const walk = (v: unknown, depth: number): FilterNode | ProtocolError => {
    if (++count > MAX_FILTER_NODES) return bad(`more than ${MAX_FILTER_NODES} nodes`);
    if (depth > MAX_FILTER_DEPTH) return bad(`nested deeper than ${MAX_FILTER_DEPTH} levels`);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('a node is an object');
    const o = v as Record<string, unknown>;
    const op = str(o.op);
    const key = str(o.key);
    const cmp = str(o.cmp);
    const val = str(o.val);
    if (op === null || key === null || cmp === null || val === null) return bad('op, key, cmp and val are strings');
    const rawVals = o.vals ?? [];
    const rawNodes = o.nodes ?? [];
    if (!Array.isArray(rawVals) || !rawVals.every((x) => typeof x === 'string')) return bad('vals is a list of strings');
    if (!Array.isArray(rawNodes)) return bad('nodes is a list');
    if (!OPS.has(op)) return bad(`unknown op "${op.slice(0, 16)}"`);
    const vals = rawVals as string[];
    if (op === '') {
      if (VAL_CMPS.has(cmp)) {
        if (val === '' || vals.length > 0) return bad(`${cmp} needs val and no vals`);
      } else if (VALS_CMPS.has(cmp)) {
        if (vals.length === 0 || val !== '') return bad(`${cmp} needs vals and no val`);
      } else if (EXISTS_CMPS.has(cmp)) {
        if (val !== '' || vals.length > 0) return bad(`${cmp} takes neither val nor vals`);
      } else return bad(cmp === '' ? 'a leaf needs cmp' : `unknown cmp "${cmp.slice(0, 16)}"`);
      if (key === '' && !EXISTS_CMPS.has(cmp)) return bad('a leaf needs key');
      return { op, key, cmp: cmp as FilterCmp, val, vals, nodes: [] };
    }
    if (op === 'not' ? rawNodes.length !== 1 : rawNodes.length === 0) {
      return bad(op === 'not' ? 'not needs exactly one node' : `${op} needs at least one node`);
    }
    const nodes: FilterNode[] = [];
    for (const n of rawNodes) {
      const c = walk(n, depth + 1);
      if ('code' in c) return c;
      nodes.push(c);
    }
    return { op: op as FilterOp, key: '', cmp: '', val: '', vals: [], nodes };
  };
  return walk(value, 1);
}

/** One canonical text per filter: subscribers whose filters have the same key share one evaluation. */
export function filterKey(f: FilterNode): string {
  return f.op === ''
    ? JSON.stringify([f.key, f.cmp, f.val, f.vals])
    : '[' + JSON.stringify(f.op) + f.nodes.map((n) => ',' + filterKey(n)).join('') + ']';
}

const DECIMAL = /^[+-]?(\d*)(?:\.(\d*))?$/;

/** Compares two decimal numbers given as text, exactly; null when either is not a number. */
export function compareDecimal(a: string, b: string): number | null {
  const x = splitDecimal(a);
  const y = splitDecimal(b);
  if (x === null || y === null) return null;
  if (x.neg !== y.neg) return x.neg ? -1 : 1;
  const sign = x.neg ? -1 : 1;
  if (x.int.length !== y.int.length) return sign * (x.int.length < y.int.length ? -1 : 1);
  if (x.int !== y.int) return sign * (x.int < y.int ? -1 : 1);
  const n = Math.max(x.frac.length, y.frac.length);
  const fx = x.frac.padEnd(n, '0');
  const fy = y.frac.padEnd(n, '0');
  return fx === fy ? 0 : sign * (fx < fy ? -1 : 1);
}

function splitDecimal(s: string): { neg: boolean; int: string; frac: string } | null {
  const m = DECIMAL.exec(s);
  if (m === null || (m[1] === '' && (m[2] ?? '') === '')) return null;
  const int = m[1]!.replace(/^0+/, '');
  const frac = (m[2] ?? '').replace(/0+$/, '');
  // -0 is 0.
  return { neg: s.startsWith('-') && (int !== '' || frac !== ''), int, frac };
}

/** True when a publication with `tags` passes the filter. */
export function matchTags(f: FilterNode, tags: Readonly<Record<string, string>> | undefined): boolean {
  switch (f.op) {
    case 'and':
      return f.nodes.every((n) => matchTags(n, tags));
    case 'or':
      return f.nodes.some((n) => matchTags(n, tags));
    case 'not':
      return !matchTags(f.nodes[0]!, tags);
    default:
      break;
  }
  const has = tags !== undefined && Object.prototype.hasOwnProperty.call(tags, f.key);
  const v = has ? tags[f.key]! : '';
  switch (f.cmp) {
    case 'eq':
      return has && v === f.val;
    case 'neq':
      return !has || v !== f.val;
    case 'in':
      return f.vals.includes(v);
    case 'nin':
      return !f.vals.includes(v);
    case 'ex':
      return has;
    case 'nex':
      return !has;
    case 'sw':
      return has && v.startsWith(f.val);
    case 'ew':
      return has && v.endsWith(f.val);
    case 'ct':
      return has && v.includes(f.val);
    default: {
      if (!has) return false;
      const c = compareDecimal(v, f.val);
      if (c === null) return false;
      return f.cmp === 'gt' ? c > 0 : f.cmp === 'gte' ? c >= 0 : f.cmp === 'lt' ? c < 0 : c <= 0;
    }
  }
}
