/**
 * JSON text kept as text: a publication's `data` is validated as JSON and then carried as the
 * exact characters that arrived (so the exact bytes: every input is strict UTF-8), never parsed
 * into JavaScript values and serialized again. `JSON.parse` + `JSON.stringify` would round
 * integers past 2^53, drop `1.10`'s zero, rewrite `1e3`, `-0.0` and `\u00e9` escapes.
 *
 * Why a scanner of our own: the built-ins cannot say where a member's value starts and ends in
 * the text (Node's `JSON.parse` reviver source access covers primitives only, `JSON.rawJSON`
 * refuses objects and arrays), and the npm parsers that report spans (`jsonc-parser`) accept
 * more than RFC 8259 (comments, trailing commas) or parse into values. This one is small: it
 * validates RFC 8259 exactly (what `JSON.parse` accepts), measures nesting, and for the members
 * the caller names keeps the value's text (`RawJson`) instead of building it. Leaves of the
 * values it does build are converted by `JSON.parse` itself, so they mean what they always did.
 */

import { jsonTooDeep, MAX_JSON_DEPTH } from './limits.js';

/** A JSON value kept as the text that arrived (already validated). */
export class RawJson {
  constructor(
    /**
     * The value's text as it arrived: a member's value from its first character to its last
     * (as Go's json.RawMessage); a whole payload (protobuf `data`, an ingested message) whole.
     */
    readonly text: string,
    /** Nesting depth: objects and arrays count one level each (0 for a scalar). */
    readonly depth: number,
  ) {}
}

export class JsonTextError extends Error {
  override readonly name = 'JsonTextError';
  constructor(
    message: string,
    /** Character index where the text stopped being JSON. */
    readonly position: number,
  ) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Deepest envelope (the values built, not the kept spans) before the text is refused. */
const MAX_BUILT_DEPTH = 128;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    const at = this.pos;
    throw new JsonTextError(at >= this.s.length ? `${what} (unexpected end)` : `${what} at ${at}`, at);
  }

  ws(): void {
    const s = this.s;
    let p = this.pos;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  /** Past one string; `pos` is at its opening quote. Returns whether it holds an escape. */
  string(): boolean {
    const s = this.s;
    let p = this.pos + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === QUOTE) break;
      if (Number.isNaN(c)) {
        this.pos = p;
        this.fail('unterminated string');
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c === BACKSLASH) {
        escaped = true;
        const e = s.charCodeAt(p + 1);
        if (e === 0x75 /* u */) {
          if (!(isHex(s.charCodeAt(p + 2)) && isHex(s.charCodeAt(p + 3)) && isHex(s.charCodeAt(p + 4)) && isHex(s.charCodeAt(p + 5)))) {
            this.pos = p;
            this.fail('bad \\u escape');
          }
          p += 6;
          continue;
        }
        // " \ / b f n r t
        if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
          this.pos = p;
          this.fail('bad escape');
        }
        p += 2;
        continue;
      }
      p++;
    }
    this.pos = p + 1;
    return escaped;
  }

  number(): void {
    const s = this.s;
    let p = this.pos;
    if (s.charCodeAt(p) === MINUS) p++;
    const first = s.charCodeAt(p);
    if (first === ZERO) p++;
    else if (isDigit(first)) while (isDigit(s.charCodeAt(p))) p++;
    else {
      this.pos = p;
      this.fail('bad number');
    }
    if (s.charCodeAt(p) === DOT) {
      p++;
      if (!isDigit(s.charCodeAt(p))) {
        this.pos = p;
        this.fail('bad number');
      }
      while (isDigit(s.charCodeAt(p))) p++;
    }
    const e = s.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      p++;
      const sign = s.charCodeAt(p);
      if (sign === PLUS || sign === MINUS) p++;
      if (!isDigit(s.charCodeAt(p))) {
        this.pos = p;
        this.fail('bad number');
      }
      while (isDigit(s.charCodeAt(p))) p++;
    }
    this.pos = p;
  }

  literal(word: string): void {
    if (!this.s.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
  }

  /** Past one scalar (string, number, true, false, null); `pos` is at its first character. */
  scalar(): void {
    const c = this.s.charCodeAt(this.pos);
    if (c === QUOTE) this.string();
    else if (c === MINUS || isDigit(c)) this.number();
    else if (c === 0x74) this.literal('true');
    else if (c === 0x66) this.literal('false');
    else if (c === 0x6e) this.literal('null');
    else this.fail('unexpected character');
  }

  /** `"key"` then `:`; `pos` is at the key's quote. Leaves `pos` before the value's whitespace. */
  key(): void {
    if (this.s.charCodeAt(this.pos) !== QUOTE) this.fail('expected a string key');
    this.string();
    this.ws();
    if (this.s.charCodeAt(this.pos) !== COLON) this.fail("expected ':'");
    this.pos++;
  }

  /**
   * Past one value (`pos` at its first character), validating it; returns its depth.
   * Iterative, so no nesting overflows the stack; past `maxDepth` it stops with an error.
   */
  skip(maxDepth: number): number {
    const s = this.s;
    // 1 = object, 0 = array, per open container.
    const open: number[] = [];
    let deepest = 0;
    for (;;) {
      // A value starts here.
      const c = s.charCodeAt(this.pos);
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const isObject = c === OPEN_BRACE;
        this.pos++;
        this.ws();
        const close = s.charCodeAt(this.pos);
        if (open.length + 1 > deepest) {
          deepest = open.length + 1;
          if (deepest > maxDepth) this.fail('nested too deep');
        }
        if (close === (isObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
          this.pos++;
        } else {
          open.push(isObject ? 1 : 0);
          if (isObject) this.key();
          this.ws();
          continue;
        }
      } else this.scalar();
      // After a value: close containers or go on to the next element.
      for (;;) {
        if (open.length === 0) return deepest;
        this.ws();
        const n = s.charCodeAt(this.pos);
        const inObject = open[open.length - 1] === 1;
        if (n === COMMA) {
          this.pos++;
          this.ws();
          if (inObject) {
            this.key();
            this.ws();
          }
          break;
        }
        if (n === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
          this.pos++;
          open.pop();
          continue;
        }
        this.fail(inObject ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
  }

  /** Builds the value at `pos`; members named by `keep` become RawJson. */
  build(keep: ((key: string) => boolean) | undefined, depth: number): unknown {
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c === OPEN_BRACE) {
      if (depth >= MAX_BUILT_DEPTH) this.fail('nested too deep');
      this.pos++;
      this.ws();
      const o: Record<string, unknown> = {};
      if (s.charCodeAt(this.pos) === CLOSE_BRACE) {
        this.pos++;
        return o;
      }
      for (;;) {
        if (s.charCodeAt(this.pos) !== QUOTE) this.fail('expected a string key');
        const k = this.stringValue();
        this.ws();
        if (s.charCodeAt(this.pos) !== COLON) this.fail("expected ':'");
        this.pos++;
        this.ws();
        let v: unknown;
        if (keep !== undefined && keep(k)) {
          const start = this.pos;
          const d = this.skip(Number.MAX_SAFE_INTEGER);
          v = new RawJson(s.slice(start, this.pos), d);
        } else v = this.build(keep, depth + 1);
        // As JSON.parse: an own property even for "__proto__"; the last of repeated keys wins.
        if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
        else o[k] = v;
        if (this.next(CLOSE_BRACE)) return o;
      }
    }
    if (c === OPEN_BRACKET) {
      if (depth >= MAX_BUILT_DEPTH) this.fail('nested too deep');
      this.pos++;
      this.ws();
      const a: unknown[] = [];
      if (s.charCodeAt(this.pos) === CLOSE_BRACKET) {
        this.pos++;
        return a;
      }
      for (;;) {
        a.push(this.build(keep, depth + 1));
        if (this.next(CLOSE_BRACKET)) return a;
      }
    }
    if (c === QUOTE) return this.stringValue();
    const start = this.pos;
    this.scalar();
    return JSON.parse(s.slice(start, this.pos)) as unknown;
  }

  /**
   * After a member or an element: true at the container's end `close`, false after a comma
   * (each consumed, whitespace around skipped); anything else is an error.
   */
  next(close: number): boolean {
    this.ws();
    const n = this.s.charCodeAt(this.pos);
    if (n === close) {
      this.pos++;
      return true;
    }
    if (n !== COMMA) this.fail(close === CLOSE_BRACE ? "expected ',' or '}'" : "expected ',' or ']'");
    this.pos++;
    this.ws();
    return false;
  }

  stringValue(): string {
    const start = this.pos;
    const escaped = this.string();
    return escaped ? (JSON.parse(this.s.slice(start, this.pos)) as string) : this.s.slice(start + 1, this.pos - 1);
  }

  end(): void {
    this.ws();
    if (this.pos !== this.s.length) this.fail('unexpected text after the value');
  }
}

/**
 * Parses a JSON text as `JSON.parse` does (same acceptance, same values), except that the value
 * of every object member whose key `keep` names is validated and kept as `RawJson` (its depth
 * measured, not limited: the caller decides). Throws `JsonTextError` on invalid JSON and on
 * built (not kept) nesting deeper than 128 levels.
 */
export function parseJsonKeeping(text: string, keep?: (key: string) => boolean): unknown {
  const sc = new Scanner(text);
  sc.ws();
  const v = sc.build(keep, 0);
  sc.end();
  return v;
}

/**
 * Validates one JSON text (surrounding whitespace allowed) no deeper than `maxDepth`; returns its
 * value's depth. Throws `JsonTextError`. Builds nothing.
 */
export function checkJsonText(text: string, maxDepth: number): number {
  const sc = new Scanner(text);
  sc.ws();
  const d = sc.skip(maxDepth);
  sc.end();
  return d;
}

/**
 * The string value of `key` in a JSON object text (the last one if repeated, as `JSON.parse`
 * reads it), found without building the object; undefined when the text is not an object, has
 * no such string member, or is not JSON.
 */
export function topLevelString(text: string, key: string): string | undefined {
  const sc = new Scanner(text);
  try {
    sc.ws();
    if (text.charCodeAt(sc.pos) !== OPEN_BRACE) return undefined;
    sc.pos++;
    sc.ws();
    if (text.charCodeAt(sc.pos) === CLOSE_BRACE) return undefined;
    let found: string | undefined;
    for (;;) {
      if (text.charCodeAt(sc.pos) !== QUOTE) return undefined;
      const k = sc.stringValue();
      sc.ws();
      if (text.charCodeAt(sc.pos) !== COLON) return undefined;
      sc.pos++;
      sc.ws();
      if (k === key) {
        if (text.charCodeAt(sc.pos) === QUOTE) found = sc.stringValue();
        else {
          found = undefined;
          sc.skip(Number.MAX_SAFE_INTEGER);
        }
      } else sc.skip(Number.MAX_SAFE_INTEGER);
      if (sc.next(CLOSE_BRACE)) return found;
    }
  } catch {
    return undefined;
  }
}

/**
 * `JSON.stringify` for values that may hold `RawJson`: those go in as their text. Undefined
 * members are left out and undefined array items become null, as `JSON.stringify` does.
 */
export function stringifyKeeping(value: unknown): string {
  return stringifyValue(value) ?? 'null';
}

function stringifyValue(v: unknown): string | undefined {
  if (v instanceof RawJson) return v.text;
  if (typeof v !== 'object' || v === null) return JSON.stringify(v) as string | undefined;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return stringifyValue((v as { toJSON(): unknown }).toJSON());
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + (stringifyValue(v[i]) ?? 'null');
    return s + ']';
  }
  let s = '{';
  let first = true;
  for (const k of Object.keys(v)) {
    const item = stringifyValue((v as Record<string, unknown>)[k]);
    if (item === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + item;
    first = false;
  }
  return s + '}';
}

/** Strict UTF-8 (RFC 8259 §8.1): malformed bytes are refused, never replaced by U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of UTF-8 bytes, or null when they are not well-formed UTF-8. */
export function utf8Text(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The JSON text without raw line feeds, as Centrifugo's JSON client protocol sends a payload
 * (its `Raw` type drops every "\n"; a raw CR stays): in valid JSON a raw LF can only be
 * whitespace between tokens (strings escape it), so the value is the same, and the reply stays
 * on one line for readers that split frames on "\n" (the SDKs, HTTP-streaming). Returns `text`
 * itself when it has none.
 */
export function withoutLineFeeds(text: string): string {
  return text.indexOf('\n') < 0 ? text : text.replaceAll('\n', '');
}

/**
 * A payload's JSON text, or null when it nests deeper than `maxDepth`: a RawJson (what the
 * parsers here produce) as it arrived; a value from a programmatic caller, serialized.
 */
export function payloadText(v: unknown, maxDepth: number = MAX_JSON_DEPTH): string | null {
  if (v instanceof RawJson) return v.depth > maxDepth ? null : v.text;
  return jsonTooDeep(v, maxDepth) ? null : JSON.stringify(v);
}
