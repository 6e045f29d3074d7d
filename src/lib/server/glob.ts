/**
 * Glob patterns for the `channels` API's `pattern`, with the syntax of gobwas/glob (which
 * Centrifugo uses, without separators): `*` any run of characters, `?` one character,
 * `[abc]` / `[a-z]` / `[!abc]` a class, `{a,b}` alternatives, `\` escapes the next character.
 */

const SPECIAL = /[.*+?^${}()|[\]\\/]/g;

function escape(s: string): string {
  return s.replace(SPECIAL, '\\$&');
}

/** The pattern as an anchored RegExp, or null when it is malformed (unclosed class or group). */
export function globToRegExp(pattern: string): RegExp | null {
  let out = '';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    switch (c) {
      case '\\':
        if (i + 1 >= pattern.length) return null;
        out += escape(pattern[++i]!);
        break;
      case '*':
        out += '[\\s\\S]*';
        break;
      case '?':
        out += '[\\s\\S]';
        break;
      case '[': {
        const end = pattern.indexOf(']', i + 2);
        if (end < 0) return null;
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('!');
        if (negate) body = body.slice(1);
        // Ranges keep their '-'; everything else is literal.
        out += '[' + (negate ? '^' : '') + body.replace(/[\\\]^]/g, '\\$&') + ']';
        i = end;
        break;
      }
      case '{':
        depth++;
        out += '(?:';
        break;
      case '}':
        if (depth === 0) return null;
        depth--;
        out += ')';
        break;
      case ',':
        out += depth > 0 ? '|' : ',';
        break;
      default:
        out += escape(c);
    }
  }
  if (depth !== 0) return null;
  try {
    return new RegExp('^' + out + '$');
  } catch {
    return null;
  }
}
