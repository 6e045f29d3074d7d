/**
 * fast-check arbitraries of JSON *texts* as publishers write them, not as JSON.stringify does:
 * integers past 2^53, `1.10`, exponents (`1e3`, `1E-7`), `-0.0`, `\u` escapes (surrogate pairs,
 * lone surrogates), `\/`, raw non-ASCII (U+2028, U+00A0, emoji), and whitespace between tokens
 * (space, tab, CR, LF). Every text is valid JSON (RFC 8259).
 */
import fc from 'fast-check';

const ws = fc.array(fc.constantFrom(' ', '\t', '\n', '\r', '\r\n'), { maxLength: 2 }).map((a) => a.join(''));

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((a) => a.join(''));

const intPart = fc.oneof(
  fc.constant('0'),
  fc.tuple(fc.constantFrom(...'123456789'), digits(0, 24)).map(([a, b]) => a + b),
);

export const jsonNumberText = fc.oneof(
  fc
    .tuple(
      fc.boolean(),
      intPart,
      fc.option(digits(1, 6), { nil: undefined }),
      fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3)), { nil: undefined }),
    )
    .map(([neg, i, frac, exp]) => (neg ? '-' : '') + i + (frac !== undefined ? '.' + frac : '') + (exp ? exp.join('') : '')),
  fc.constantFrom('-0.0', '-0', '0.0', '1.10', '2.500', '1e3', '1E-7', '1000000000000000001', '-9007199254740993', '1E+400'),
);

const escape = fc.oneof(
  fc.constantFrom('\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t'),
  fc.integer({ min: 0, max: 0xffff }).map((n) => '\\u' + n.toString(16).padStart(4, '0')),
  fc.constantFrom('\\u00e9', '\\ud83d\\ude00', '\\uD83D\\uDE00', '\\ud800'),
);
const rawChar = fc.oneof(
  fc.constantFrom('a', 'Z', ' ', 'é', '€', '😀', '\u2028', '\u2029', '\u00a0', '\u3000', '\ufeff', '<', '&', "'"),
  fc.integer({ min: 0x20, max: 0x7e }).map((n) => (n === 0x22 || n === 0x5c ? 'x' : String.fromCharCode(n))),
);

export const jsonStringText = fc.array(fc.oneof(rawChar, escape), { maxLength: 8 }).map((a) => '"' + a.join('') + '"');

const scalar = fc.oneof(jsonNumberText, jsonStringText, fc.constantFrom('true', 'false', 'null'));

const { value } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('object'), tie('array')),
  object: fc
    .array(
      fc.tuple(ws, jsonStringText, ws, ws, tie('value'), ws).map(([a, k, b, c, v, d]) => a + k + b + ':' + c + v + d),
      { maxLength: 5 },
    )
    .chain((members) => ws.map((inner) => '{' + (members.length === 0 ? inner : members.join(',')) + '}')),
  array: fc
    .array(fc.tuple(ws, tie('value'), ws), { maxLength: 5 })
    .chain((items) => ws.map((inner) => '[' + (items.length === 0 ? inner : items.map((i) => i.join('')).join(',')) + ']')),
}));

/** A JSON value's text: no whitespace before or after it, any inside. */
export const jsonText = value;

/** An object's text (what Odin publishers send), with a `type` member sometimes. */
export const jsonObjectText = fc
  .tuple(fc.option(fc.constantFrom('trade:new', 'price:update', 'caf\\u00e9'), { nil: undefined }), value, ws)
  .map(([type, v, w]) => '{' + w + (type !== undefined ? '"type"' + w + ':"' + type + '",' : '') + '"v":' + w + v + w + '}');

/** The four rows of issue 20's table, published as they are. */
export const ISSUE_20_ROWS: readonly string[] = [
  '{"amountWei":1000000000000000001,"n":-9007199254740993}',
  '{"price":1.10,"qty":2.500,"z":0.0}',
  '{"a":1e3,"b":1E-7,"c":-0.0}',
  '{"s":"\\u00e9\\ud83d\\ude00","q":"a\\/b"}',
];
