import { createPublicKey, type KeyObject } from 'node:crypto';
import type * as Jose from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

let jose: Promise<typeof Jose> | null = null;
/** jose, loaded at the first token checked: a gateway that never sees a token never loads it (~8 MiB). */
const loadJose = (): Promise<typeof Jose> => (jose ??= import('jose'));

/** What a verified connection token says. */
export interface Credentials {
  /** The user id (`sub`); "" is anonymous. */
  readonly user: string;
  /** Expiry, seconds since the Unix epoch; 0 = never (`expire_at` when present, else `exp`). */
  readonly exp: number;
  /** Channels the connection is subscribed to at connect (server-side subscriptions). */
  readonly channels: readonly string[];
  /** The `subs` claim: more server-side subscriptions, channel → optional JSON text of `data`. */
  readonly subs: Readonly<Record<string, string | null>>;
  readonly info?: unknown;
}

/** What a verified subscription token grants: one channel to one user (and maybe one client). */
export interface SubscriptionGrant {
  /** The user the grant is for (`sub`); "" is an anonymous connection. */
  readonly user: string;
  /** The one channel granted (`channel`, required). */
  readonly channel: string;
  /** The connection id the grant is bound to (`client`); "" = any connection of the user. */
  readonly client: string;
  /** When the grant ends, seconds since the Unix epoch (`expire_at` when present, else `exp`); 0 = never. */
  readonly expireAt: number;
  /** Channel info (`info`, or `b64info` decoded as JSON text). */
  readonly info?: unknown;
}

/**
 * `expired`: signature good, `exp` passed or `nbf` not reached (Centrifugo's 109 / refresh);
 * `invalid`: anything else — malformed, bad signature, wrong algorithm, audience, issuer, no key
 * (Centrifugo's "invalid token": 3500 at connect, 103 at subscribe); `unavailable`: the key set
 * could not be fetched (refused as `invalid`, never accepted by a fallback; logged apart).
 */
export type TokenErrorCode = 'expired' | 'invalid' | 'unavailable';

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
  /** A connection token (connect, refresh). Throws TokenError. */
  verify(token: string): Promise<Credentials>;
  /** A subscription token (subscribe, sub_refresh). Throws TokenError. */
  verifySubscription(token: string): Promise<SubscriptionGrant>;
}

const HMAC_ALGS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface JwtVerifierOptions {
  /** HMAC secret for HS256/384/512. */
  readonly hmacSecret?: string;
  /** PEM public key (RSA, EC or Ed25519). */
  readonly publicKeyPem?: string;
  /**
   * A key set resolved by `kid` (a JWKS endpoint, fetched by an adapter). When given it is the
   * only source of keys: a token it cannot verify is refused, never tried with another key.
   */
  readonly keySet?: JWTVerifyGetKey;
  /** The `aud` claim must contain this value. */
  readonly audience?: string;
  /** Some `aud` value must match this regular expression (a match anywhere, as Centrifugo's Go regexp: anchor it). */
  readonly audienceRegex?: string;
  /** The `iss` claim must equal this value. */
  readonly issuer?: string;
  /** The `iss` claim must match this regular expression. */
  readonly issuerRegex?: string;
  /** Wall clock, ms since the epoch (core takes its clock: `Clock.now`). */
  readonly now: () => number;
}

/** A JSON value or the JSON text `b64info` carries (as Centrifugo's info bytes); throws on bad base64 JSON. */
function infoOf(payload: JWTPayload): unknown {
  if (typeof payload.b64info === 'string' && payload.b64info !== '') {
    const text = Buffer.from(payload.b64info, 'base64').toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return payload.info;
}

/** `expire_at` when the claim is present (0: never), else `exp`, else 0. */
function expiryOf(payload: JWTPayload): number {
  if (typeof payload.expire_at === 'number') return payload.expire_at > 0 ? payload.expire_at : 0;
  return typeof payload.exp === 'number' ? payload.exp : 0;
}

/**
 * Verifies JWTs with an HMAC secret and/or a PEM public key, or a key set (JWKS), and checks
 * `aud`/`iss` when configured — in Centrifugo's order: signature, then audience and issuer, then
 * `exp`/`nbf`, so an expired token for another audience is invalid, not expired. Tokens without a
 * signature (`alg: none`) and algorithms not configured are refused (jose never accepts `none`).
 */
export class JwtVerifier implements TokenVerifier {
  private readonly hmac: Uint8Array | null;
  private readonly pub: KeyObject | null;
  private readonly keySet: JWTVerifyGetKey | null;
  private readonly audienceRe: RegExp | null;
  private readonly issuerRe: RegExp | null;
  private readonly now: () => number;

  constructor(private readonly opts: JwtVerifierOptions) {
    this.hmac = opts.hmacSecret ? new TextEncoder().encode(opts.hmacSecret) : null;
    this.pub = opts.publicKeyPem ? createPublicKey(opts.publicKeyPem) : null;
    this.keySet = opts.keySet ?? null;
    this.audienceRe = opts.audienceRegex ? new RegExp(opts.audienceRegex) : null;
    this.issuerRe = opts.issuerRegex ? new RegExp(opts.issuerRegex) : null;
    this.now = opts.now;
  }

  get configured(): boolean {
    return this.hmac !== null || this.pub !== null || this.keySet !== null;
  }

  async verify(token: string): Promise<Credentials> {
    const payload = await this.check(token);
    // Centrifugo: a connection token never carries `channel` (that makes it a subscription token).
    if (typeof payload.channel === 'string' && payload.channel !== '') {
      throw new TokenError('invalid', 'a connection token cannot carry a channel claim');
    }
    const channels = Array.isArray(payload.channels) ? payload.channels.filter((c): c is string => typeof c === 'string') : [];
    const subs: Record<string, string | null> = {};
    if (typeof payload.subs === 'object' && payload.subs !== null && !Array.isArray(payload.subs)) {
      for (const [ch, o] of Object.entries(payload.subs as Record<string, unknown>)) {
        const data = typeof o === 'object' && o !== null ? (o as { data?: unknown }).data : undefined;
        subs[ch] = data === undefined ? null : JSON.stringify(data);
      }
    }
    return { user: typeof payload.sub === 'string' ? payload.sub : '', exp: expiryOf(payload), channels, subs, info: infoOf(payload) };
  }

  async verifySubscription(token: string): Promise<SubscriptionGrant> {
    const payload = await this.check(token);
    if (typeof payload.channel !== 'string' || payload.channel === '') {
      throw new TokenError('invalid', 'a subscription token needs a channel claim');
    }
    return {
      user: typeof payload.sub === 'string' ? payload.sub : '',
      channel: payload.channel,
      client: typeof payload.client === 'string' ? payload.client : '',
      expireAt: expiryOf(payload),
      info: infoOf(payload),
    };
  }

  /** Signature, audience, issuer, then time; the payload or a TokenError. */
  private async check(token: string): Promise<JWTPayload> {
    if (!this.configured) throw new TokenError('invalid', 'no token verification key configured');
    const { decodeProtectedHeader, errors: joseErrors, jwtVerify } = await loadJose();
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (cause) {
      throw new TokenError('invalid', 'malformed token', { cause });
    }
    const isHmac = typeof alg === 'string' && HMAC_ALGS.includes(alg);
    const verifyOpts = {
      algorithms: isHmac ? HMAC_ALGS : PUBLIC_ALGS,
      currentDate: new Date(this.now()),
      ...(this.opts.audience ? { audience: this.opts.audience } : {}),
      ...(this.opts.issuer ? { issuer: this.opts.issuer } : {}),
    };
    try {
      let payload: JWTPayload;
      if (this.keySet !== null) {
        if (isHmac) throw new TokenError('invalid', `token algorithm ${String(alg)} not accepted with a key set`);
        payload = (await jwtVerify(token, this.keySet, verifyOpts)).payload;
      } else {
        const key = isHmac ? this.hmac : this.pub;
        if (!key) throw new TokenError('invalid', `token algorithm ${String(alg)} not accepted`);
        payload = (await jwtVerify(token, key, verifyOpts)).payload;
      }
      this.checkPatterns(payload);
      return payload;
    } catch (cause) {
      if (cause instanceof TokenError) throw cause;
      // The signature held (jose checks it first); time is checked last, as Centrifugo does.
      const timeFailed =
        cause instanceof joseErrors.JWTExpired || (cause instanceof joseErrors.JWTClaimValidationFailed && cause.claim === 'nbf');
      if (timeFailed) {
        this.checkPatterns((cause as Jose.errors.JWTClaimValidationFailed).payload);
        throw new TokenError('expired', 'token expired', { cause });
      }
      // The key set's fetch failed: timed out, not JSON, not a key set, not 200 (jose's generic error).
      const fetchFailed =
        cause instanceof joseErrors.JWKSTimeout ||
        cause instanceof joseErrors.JWKSInvalid ||
        (this.keySet !== null && cause instanceof joseErrors.JOSEError && cause.code === joseErrors.JOSEError.code);
      if (fetchFailed) throw new TokenError('unavailable', 'key set unavailable', { cause });
      if (cause instanceof joseErrors.JOSEError) throw new TokenError('invalid', 'invalid token', { cause });
      // Anything else comes from fetching the key set (network, HTTP status): unverifiable.
      throw new TokenError('unavailable', 'key set unavailable', { cause });
    }
  }

  /** The regex forms of the audience and issuer checks. */
  private checkPatterns(payload: JWTPayload): void {
    if (this.issuerRe && !this.issuerRe.test(typeof payload.iss === 'string' ? payload.iss : '')) {
      throw new TokenError('invalid', 'issuer not matched');
    }
    if (this.audienceRe) {
      const auds = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
      if (!auds.some((a) => typeof a === 'string' && this.audienceRe!.test(a))) throw new TokenError('invalid', 'audience not matched');
    }
  }
}
