/**
 * Channel names ↔ NATS subject tokens.
 *
 * Channels are dot-separated like NATS subjects (`BTC.trade`), so a channel maps to the
 * subject `<prefix>.BTC.trade` token for token. A token made only of [A-Za-z0-9_:-] is kept
 * as it is (the common case, readable in `nats` tooling); any other token (empty, or holding
 * `*`, `>`, spaces, `~`, non-ASCII, ...) is written as `~` + base64url(UTF-8 of the token).
 * A kept token never starts with `~`, so decoding is unambiguous.
 */

const SAFE_TOKEN = /^[A-Za-z0-9_:-]+$/;

/** Longest channel accepted, in UTF-16 code units (NATS subjects should stay short). */
export const MAX_CHANNEL_LENGTH = 255;

export function encodeChannel(channel: string): string {
  if (channel.length === 0 || channel.length > MAX_CHANNEL_LENGTH) {
    throw new RangeError(`channel length must be 1..${MAX_CHANNEL_LENGTH}`);
  }
  const tokens = channel.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!SAFE_TOKEN.test(t)) tokens[i] = '~' + Buffer.from(t, 'utf8').toString('base64url');
  }
  return tokens.join('.');
}

export function decodeChannel(tokens: string): string {
  const parts = tokens.split('.');
  for (let i = 0; i < parts.length; i++) {
    const t = parts[i]!;
    if (t.startsWith('~')) parts[i] = Buffer.from(t.slice(1), 'base64url').toString('utf8');
  }
  return parts.join('.');
}

const KV_SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * A channel as NATS KV key tokens (KV keys allow only [-/_=.A-Za-z0-9]): a token of
 * [A-Za-z0-9_-] is kept, any other is `=` + base64url(UTF-8). A kept token never starts with
 * `=`, so two channels never share a key, and a key never holds a wildcard.
 */
export function kvKeyOfChannel(channel: string): string {
  if (channel.length === 0 || channel.length > MAX_CHANNEL_LENGTH) {
    throw new RangeError(`channel length must be 1..${MAX_CHANNEL_LENGTH}`);
  }
  return channel.split('.').map(kvToken).join('.');
}

/** One KV key token for any string (a client id): kept when safe, else `=` + base64url. */
export function kvToken(s: string): string {
  return KV_SAFE_TOKEN.test(s) ? s : '=' + Buffer.from(s, 'utf8').toString('base64url');
}
