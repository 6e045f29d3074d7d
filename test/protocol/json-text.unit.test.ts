/**
 * The JSON span scanner (protocol/json-text.ts): it accepts exactly what JSON.parse accepts,
 * builds the same values, and keeps the named members' text verbatim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkJsonText,
  JsonTextError,
  withoutLineFeeds,
  parseJsonKeeping,
  payloadText,
  RawJson,
  stringifyKeeping,
  topLevelString,
  utf8Text,
} from '../../src/lib/protocol/json-text.js';
import { ISSUE_20_ROWS, jsonObjectText, jsonText } from '../testkit/json-text-arb.js';

function accepts(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    assert.ok(e instanceof JsonTextError || e instanceof SyntaxError, String(e));
    return false;
  }
}

test('generated JSON texts: valid for JSON.parse and for the scanner, same values, depth measured', () => {
  fc.assert(
    fc.property(jsonText, (t) => {
      const v = JSON.parse(t) as unknown;
      assert.deepEqual(parseJsonKeeping(t), v);
      assert.ok(checkJsonText(t, Number.MAX_SAFE_INTEGER) >= 0);
    }),
    { numRuns: 500 },
  );
});

test('any text: the scanner accepts it exactly when JSON.parse does (mutated JSON, random strings)', () => {
  const mutated = fc
    .tuple(jsonText, fc.nat(), fc.constantFrom('', ',', '}', ']', '"', '\\', '\u0001', '0', '-', '.', 'e', ' ', 'x', '{', '['))
    .map(([t, i, c]) => {
      const at = i % (t.length + 1);
      return t.slice(0, at) + c + t.slice(at + (i % 2));
    });
  const texts = fc.oneof(
    mutated,
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('01', '1.', '.5', '-', '1e', '+1', '[1,]', '{"a":1,}', 'tru', 'nul', '"\\x"', '"\\u12G4"', '\ufeff{}', '1 2', ''),
  );
  fc.assert(
    fc.property(texts, (t) => {
      const native = accepts(() => JSON.parse(t));
      assert.equal(
        accepts(() => parseJsonKeeping(t)),
        native,
        JSON.stringify(t),
      );
      assert.equal(
        accepts(() => checkJsonText(t, Number.MAX_SAFE_INTEGER)),
        native,
        JSON.stringify(t),
      );
      if (native) assert.deepEqual(parseJsonKeeping(t), JSON.parse(t));
    }),
    { numRuns: 2000 },
  );
});

test('kept members: the exact text of the value, wherever it sits and however it is spaced', () => {
  fc.assert(
    fc.property(jsonText, fc.constantFrom(' ', '\n', '\t', ''), (t, w) => {
      const body = `{${w}"channel"${w}:${w}"c",${w}"data"${w}:${w}${t}${w},"x":[{"data":${t}}]}`;
      const v = parseJsonKeeping(body, (k) => k === 'data') as { channel: string; data: RawJson; x: [{ data: RawJson }] };
      assert.equal(v.channel, 'c');
      assert.ok(v.data instanceof RawJson);
      assert.equal(v.data.text, t);
      assert.equal(v.x[0].data.text, t);
      assert.equal(v.data.depth, checkJsonText(t, Number.MAX_SAFE_INTEGER));
      // And out again, byte for byte.
      assert.equal(stringifyKeeping({ result: { data: v.data, n: 1, u: undefined } }), `{"result":{"data":${t},"n":1}}`);
    }),
    { numRuns: 300 },
  );
});

test("issue 20's rows are kept byte for byte", () => {
  for (const row of ISSUE_20_ROWS) {
    const v = parseJsonKeeping(`{"channel":"c","data":${row}}`, (k) => k === 'data') as { data: RawJson };
    assert.equal(v.data.text, row);
    assert.equal(payloadText(v.data), row);
  }
});

test('depth: measured for kept values, limited for checked texts; nesting never overflows the stack', () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  assert.equal(checkJsonText(deep(64), 64), 64);
  assert.throws(() => checkJsonText(deep(65), 64), JsonTextError);
  assert.equal(checkJsonText('1', 0), 0);
  const v = parseJsonKeeping(`{"data":${deep(100_000)}}`, (k) => k === 'data') as { data: RawJson };
  assert.equal(v.data.depth, 100_000);
  assert.equal(payloadText(v.data), null);
  // Built (not kept) nesting is bounded instead.
  assert.throws(() => parseJsonKeeping(deep(200)), JsonTextError);
  assert.equal(payloadText({ a: [1] }), '{"a":[1]}');
});

test('as JSON.parse: "__proto__" is an own member, the last repeated key wins', () => {
  const v = parseJsonKeeping('{"__proto__":{"x":1},"a":1,"a":2}') as Record<string, unknown>;
  assert.deepEqual(Object.keys(v), ['__proto__', 'a']);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(v.a, 2);
});

test('topLevelString reads a member without building the object', () => {
  fc.assert(
    fc.property(jsonObjectText, (t) => {
      const v = JSON.parse(t) as { type?: unknown };
      assert.equal(topLevelString(t, 'type'), typeof v.type === 'string' ? v.type : undefined);
    }),
    { numRuns: 300 },
  );
  assert.equal(topLevelString('{"type":1,"type":"b"}', 'type'), 'b');
  assert.equal(topLevelString('{"type":"a","type":1}', 'type'), undefined);
  assert.equal(topLevelString('{"x":{"type":"inner"}}', 'type'), undefined);
  assert.equal(topLevelString('["type"]', 'type'), undefined);
  assert.equal(topLevelString('not json', 'type'), undefined);
});

test('withoutLineFeeds: raw LF (whitespace) left out, CR kept, the value unchanged; other texts returned as they are', () => {
  fc.assert(
    fc.property(jsonText, (t) => {
      const l = withoutLineFeeds(t);
      assert.equal(l.length, t.length - (t.match(/\n/g)?.length ?? 0));
      assert.ok(!l.includes('\n'));
      assert.equal((l.match(/\r/g) ?? []).length, (t.match(/\r/g) ?? []).length);
      assert.deepEqual(JSON.parse(l), JSON.parse(t));
      if (!t.includes('\n')) assert.equal(l, t);
    }),
  );
});

test('utf8Text: strict, no replacement characters, a BOM kept', () => {
  assert.equal(utf8Text(Buffer.from('{"é":"😀"}')), '{"é":"😀"}');
  assert.equal(utf8Text(Buffer.from([0x7b, 0xff, 0x7d])), null);
  assert.equal(utf8Text(Buffer.from([0xed, 0xa0, 0x80])), null); // an encoded surrogate
  assert.equal(utf8Text(Buffer.from([0xef, 0xbb, 0xbf, 0x31])), '\ufeff1');
});
