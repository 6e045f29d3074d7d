import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareDecimal,
  filterKey,
  matchTags,
  MAX_FILTER_DEPTH,
  MAX_FILTER_NODES,
  parseTagsFilter,
  type FilterNode,
} from '../../src/lib/protocol/tags-filter.js';

function parse(v: unknown): FilterNode {
  const f = parseTagsFilter(v, 'tf');
  if ('code' in f) throw new Error(f.message);
  return f;
}

const refused = (v: unknown): string => {
  const f = parseTagsFilter(v, 'tf');
  assert.ok('code' in f, `accepted: ${JSON.stringify(v)}`);
  assert.equal(f.code, 107);
  return f.message;
};

test('tags filter: validation as Centrifugo (107 naming the field)', () => {
  assert.match(refused({ op: 'and', nodes: [] }), /"tf": and needs at least one node/);
  assert.match(refused({ op: 'or' }), /or needs at least one node/);
  assert.match(
    refused({
      op: 'not',
      nodes: [
        { key: 'a', cmp: 'ex' },
        { key: 'b', cmp: 'ex' },
      ],
    }),
    /not needs exactly one node/,
  );
  assert.match(refused({ op: 'xor', nodes: [{ key: 'a', cmp: 'ex' }] }), /unknown op/);
  assert.match(refused({ key: 'a' }), /a leaf needs cmp/);
  assert.match(refused({ key: 'a', cmp: 'like', val: 'x' }), /unknown cmp/);
  assert.match(refused({ key: 'a', cmp: 'eq' }), /eq needs val/);
  assert.match(refused({ key: 'a', cmp: 'eq', val: 'x', vals: ['y'] }), /eq needs val and no vals/);
  assert.match(refused({ key: 'a', cmp: 'in', vals: [] }), /in needs vals/);
  assert.match(refused({ key: 'a', cmp: 'in', val: 'x', vals: ['y'] }), /in needs vals and no val/);
  assert.match(refused({ key: 'a', cmp: 'ex', val: 'x' }), /ex takes neither/);
  assert.match(refused({ cmp: 'eq', val: 'x' }), /a leaf needs key/);
  assert.match(refused({ key: 1, cmp: 'eq', val: 'x' }), /are strings/);
  assert.match(refused({ key: 'a', cmp: 'in', vals: [1] }), /vals is a list of strings/);
  assert.match(refused('a'), /a node is an object/);
  assert.match(refused([]), /a node is an object/);
  // Bounds: a subscription holds its filter.
  const wide = { op: 'or', nodes: Array.from({ length: MAX_FILTER_NODES }, (_, i) => ({ key: 'k', cmp: 'eq', val: String(i) })) };
  assert.match(refused(wide), new RegExp(`more than ${MAX_FILTER_NODES} nodes`));
  let deep: unknown = { key: 'k', cmp: 'ex' };
  for (let i = 0; i < MAX_FILTER_DEPTH; i++) deep = { op: 'not', nodes: [deep] };
  assert.match(refused(deep), new RegExp(`deeper than ${MAX_FILTER_DEPTH}`));
  // `ex`/`nex` need no key; unknown fields (a protobuf message's $typeName) are ignored.
  assert.deepEqual(parse({ cmp: 'ex', $typeName: 'protocol.FilterNode' }), { op: '', key: '', cmp: 'ex', val: '', vals: [], nodes: [] });
});

test('tags filter: every comparison and operator', () => {
  const tags = { ticker: 'BTC', price: '50000.5', side: 'buy', empty: '' };
  const m = (f: unknown, t: Record<string, string> = tags) => matchTags(parse(f), t);
  assert.equal(m({ key: 'ticker', cmp: 'eq', val: 'BTC' }), true);
  assert.equal(m({ key: 'ticker', cmp: 'eq', val: 'ETH' }), false);
  assert.equal(m({ key: 'missing', cmp: 'neq', val: 'x' }), true);
  assert.equal(m({ key: 'ticker', cmp: 'neq', val: 'BTC' }), false);
  assert.equal(m({ key: 'ticker', cmp: 'in', vals: ['ETH', 'BTC'] }), true);
  assert.equal(m({ key: 'ticker', cmp: 'nin', vals: ['ETH', 'BTC'] }), false);
  // A missing tag is the empty string for in/nin (Centrifugo's map lookup).
  assert.equal(m({ key: 'missing', cmp: 'in', vals: ['x'] }), false);
  assert.equal(m({ key: 'missing', cmp: 'nin', vals: ['x'] }), true);
  assert.equal(m({ key: 'empty', cmp: 'ex' }), true);
  assert.equal(m({ key: 'missing', cmp: 'ex' }), false);
  assert.equal(m({ key: 'missing', cmp: 'nex' }), true);
  assert.equal(m({ key: 'ticker', cmp: 'sw', val: 'BT' }), true);
  assert.equal(m({ key: 'ticker', cmp: 'ew', val: 'TC' }), true);
  assert.equal(m({ key: 'ticker', cmp: 'ct', val: 'T' }), true);
  assert.equal(m({ key: 'missing', cmp: 'ct', val: 'T' }), false);
  assert.equal(m({ key: 'price', cmp: 'gt', val: '50000' }), true);
  assert.equal(m({ key: 'price', cmp: 'gte', val: '50000.50' }), true);
  assert.equal(m({ key: 'price', cmp: 'lt', val: '50000.5' }), false);
  assert.equal(m({ key: 'price', cmp: 'lte', val: '50000.5' }), true);
  // Not numbers, or missing: no match either way.
  assert.equal(m({ key: 'ticker', cmp: 'gt', val: '1' }), false);
  assert.equal(m({ key: 'ticker', cmp: 'lte', val: '1' }), false);
  assert.equal(m({ key: 'missing', cmp: 'lt', val: '1' }), false);
  assert.equal(m({ key: 'price', cmp: 'gt', val: 'abc' }), false);
  assert.equal(
    m({
      op: 'and',
      nodes: [
        { key: 'ticker', cmp: 'eq', val: 'BTC' },
        { key: 'price', cmp: 'gt', val: '1' },
      ],
    }),
    true,
  );
  assert.equal(
    m({
      op: 'and',
      nodes: [
        { key: 'ticker', cmp: 'eq', val: 'BTC' },
        { key: 'side', cmp: 'eq', val: 'sell' },
      ],
    }),
    false,
  );
  assert.equal(
    m({
      op: 'or',
      nodes: [
        { key: 'ticker', cmp: 'eq', val: 'ETH' },
        { key: 'side', cmp: 'eq', val: 'buy' },
      ],
    }),
    true,
  );
  assert.equal(m({ op: 'not', nodes: [{ key: 'ticker', cmp: 'eq', val: 'BTC' }] }), false);
  // A publication without tags.
  assert.equal(matchTags(parse({ key: 'ticker', cmp: 'eq', val: 'BTC' }), undefined), false);
  assert.equal(matchTags(parse({ key: 'ticker', cmp: 'nex' }), undefined), true);
  // Inherited properties are not tags.
  assert.equal(m({ key: 'constructor', cmp: 'ex' }, {}), false);
});

test('tags filter: decimals compare exactly (no float rounding)', () => {
  assert.equal(compareDecimal('100000000000000000001', '100000000000000000000'), 1);
  assert.equal(compareDecimal('0.1', '0.10'), 0);
  assert.equal(compareDecimal('-0', '0'), 0);
  assert.equal(compareDecimal('-1.5', '-1.25'), -1);
  assert.equal(compareDecimal('-2', '1'), -1);
  assert.equal(compareDecimal('007', '7.000'), 0);
  assert.equal(compareDecimal('+3', '2.9999999999999999999'), 1);
  assert.equal(compareDecimal('1e3', '1'), null);
  assert.equal(compareDecimal('', '1'), null);
  assert.equal(compareDecimal('.', '1'), null);
  assert.equal(compareDecimal('1.2.3', '1'), null);
});

test('tags filter: one key per filter, whatever the field order or omitted defaults', () => {
  const a = parse({
    op: 'and',
    nodes: [
      { key: 'k', cmp: 'eq', val: 'v' },
      { cmp: 'in', key: 'x', vals: ['1', '2'] },
    ],
  });
  const b = parse({
    nodes: [
      { val: 'v', cmp: 'eq', key: 'k', vals: [] },
      { key: 'x', cmp: 'in', vals: ['1', '2'], val: '' },
    ],
    op: 'and',
  });
  assert.equal(filterKey(a), filterKey(b));
  assert.notEqual(filterKey(a), filterKey(parse({ op: 'or', nodes: a.nodes })));
  // Values that would collide if joined naively stay apart.
  assert.notEqual(filterKey(parse({ key: 'a,b', cmp: 'eq', val: 'c' })), filterKey(parse({ key: 'a', cmp: 'eq', val: 'b,c' })));
});
