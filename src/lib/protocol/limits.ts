/**
 * Limits of what the wire accepts, whatever the protocol. docs/protocol.md ("Limits") lists them.
 */

/**
 * Deepest nesting of a JSON payload (publication data), counting each object or array as one
 * level. Market data is a few levels deep; 5,000 levels would overflow `JSON.stringify`'s
 * recursion, so deeper payloads are refused with 107 (HTTP 400) before anything serializes them.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` (a parsed JSON value) nests deeper than `max`. Iterative: never overflows. */
export function jsonTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const v = stack.pop() as object;
    const d = depths.pop()!;
    if (d > max) return true;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (let i = 0; i < children.length; i++) {
      const c = children[i];
      if (typeof c === 'object' && c !== null) {
        stack.push(c);
        depths.push(d + 1);
      }
    }
  }
  return false;
}
