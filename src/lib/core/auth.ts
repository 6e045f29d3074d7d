import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';

/** What a verified connection token says. */
export interface Credentials {
  /** The user id (`sub`); "" is anonymous. */
  readonly user: string;
  /** Expiry, seconds since the Unix epoch; 0 = never. */
  readonly exp: number;
  /** Channels the connection is subscribed to at connect (server-side subscriptions). */
  readonly channels: readonly string[];
  /** The `subs` claim: more server-side subscriptions, channel → optional JSON text of `data`. */
  readonly subs: Readonly<Record<string, string | null>>;
  readonly info?: unknown;
}

export type TokenErrorCode = 'expired' | 'invalid';

export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<Credentials>;
}

const HMAC_ALGS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Verifies JWTs with an HMAC secret and/or a PEM public key. Tokens without a signature
 * (`alg: none`) and algorithms not configured are refused (jose never accepts `none`).
 */
export class JwtVerifier implements TokenVerifier {
  private readonly hmac: Uint8Array | null;
  private readonly pub: KeyObject | null;

  constructor(opts: { hmacSecret?: string; publicKeyPem?: string }) {
    this.hmac = opts.hmacSecret ? new TextEncoder().encode(opts.hmacSecret) : null;
    this.pub = opts.publicKeyPem ? createPublicKey(opts.publicKeyPem) : null;
  }

  get configured(): boolean {
    return this.hmac !== null || this.pub !== null;
  }

  async verify(token: string): Promise<Credentials> {
    if (!this.configured) throw new TokenError('invalid', 'no token verification key configured');
    let alg: unknown;
    try {
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      alg = header.alg;
    } catch (cause) {
      throw new TokenError('invalid', 'malformed token', { cause });
    }
    const isHmac = typeof alg === 'string' && HMAC_ALGS.includes(alg);
    const key = isHmac ? this.hmac : this.pub;
    if (!key) throw new TokenError('invalid', `token algorithm ${String(alg)} not accepted`);
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: isHmac ? HMAC_ALGS : PUBLIC_ALGS });
      const channels = Array.isArray(payload.channels) ? payload.channels.filter((c): c is string => typeof c === 'string') : [];
      const subs: Record<string, string | null> = {};
      if (typeof payload.subs === 'object' && payload.subs !== null && !Array.isArray(payload.subs)) {
        for (const [ch, o] of Object.entries(payload.subs as Record<string, unknown>)) {
          const data = typeof o === 'object' && o !== null ? (o as { data?: unknown }).data : undefined;
          subs[ch] = data === undefined ? null : JSON.stringify(data);
        }
      }
      return {
        user: typeof payload.sub === 'string' ? payload.sub : '',
        exp: typeof payload.exp === 'number' ? payload.exp : 0,
        channels,
        subs,
        info: payload.info,
      };
    } catch (cause) {
      if (cause instanceof joseErrors.JWTExpired) throw new TokenError('expired', 'token expired', { cause });
      throw new TokenError('invalid', 'invalid token', { cause });
    }
  }
}
