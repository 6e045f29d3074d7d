/**
 * Byte-level field extraction for the load client's hot path: reading `"offset":123` or a
 * timestamp from a message without JSON.parse, which would cost more than the server's own
 * work per delivery. Only for messages whose shape is known (server pushes and bench payloads).
 */

/** Parses a non-negative decimal integer at `pos`; -1 when there is none. */
export function readUint(buf: Buffer, pos: number, end: number): number {
  let n = 0;
  let i = pos;
  while (i < end) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
    i++;
  }
  return i === pos ? -1 : n;
}

/** The integer after `key` (e.g. `"offset":`) inside buf[start..end); -1 when absent. */
export function numberAfter(buf: Buffer, key: Buffer, start: number, end: number): number {
  const at = buf.indexOf(key, start);
  if (at < 0 || at + key.length >= end) return -1;
  return readUint(buf, at + key.length, end);
}

/** The JSON string (without escapes) starting right after `pos` (which is the opening quote + 1). */
export function stringAt(buf: Buffer, pos: number, end: number): string {
  const q = buf.indexOf(0x22, pos);
  return buf.toString('latin1', pos, q < 0 || q > end ? end : q);
}

/** True when buf at `pos` holds the bytes of `prefix`. */
export function startsWithAt(buf: Buffer, pos: number, prefix: Buffer): boolean {
  if (pos + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[pos + i] !== prefix[i]) return false;
  return true;
}

export const KEY_OFFSET = Buffer.from('"offset":');
/** Bench payloads: publish time in µs of CLOCK_MONOTONIC (process.hrtime), comparable across processes of one host. */
export const KEY_MONO_US = Buffer.from('"t":');
/** Bench payloads: per-channel sequence number from 1, for servers whose pushes carry no offset. */
export const KEY_SEQ = Buffer.from('"s":');
/** Odin events: wall-clock publish time, ms. */
export const KEY_TIMESTAMP = Buffer.from('"timestamp":');
/** Odin envelope: time the gateway accepted the publication, ms. */
export const KEY_TS = Buffer.from('"ts":');

/** CLOCK_MONOTONIC now, µs. */
export function monoNowUs(): number {
  const t = process.hrtime();
  return t[0] * 1e6 + t[1] / 1e3;
}
