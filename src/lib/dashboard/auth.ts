/**
 * Admin console authentication: a password (or the admin token) exchanged at login for a
 * session cookie (HttpOnly, SameSite=Strict, Path=/dashboard) plus a CSRF token the page keeps
 * in memory and sends as `X-CSRF-Token` on every change. Scripts may instead send
 * `Authorization: Bearer <admin token>` (not ambient, so no CSRF token is needed).
 * Wrong secrets are counted per address; past the limit a minute the address gets 429, for the
 * right secret too (http/address-backoff.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '../core/transport.js';
import { ErrorCode } from '../protocol/codes.js';
import { AddressBackoff } from '../http/address-backoff.js';
import { newAuthRefusals, type AuthRefusals } from '../core/stats.js';

type AdminRefusal = 'admin_login_wrong' | 'admin_login_blocked' | 'admin_token_wrong' | 'admin_token_blocked';
import type { DashboardOptions } from './options.js';

export const SESSION_COOKIE = 'odin_admin';
/** Sessions kept at once; the oldest goes first past this. */
const MAX_SESSIONS = 1000;
const LOGIN_WINDOW_MS = 60_000;

interface Session {
  readonly csrf: string;
  readonly expires: number;
}

export type Actor = { readonly kind: 'session'; readonly id: string } | { readonly kind: 'token' };

/** Why a request or login is refused: HTTP status, documented code, and Retry-After for 429. */
export interface Refusal {
  readonly ok: false;
  readonly status: number;
  readonly code: number;
  readonly message: string;
  readonly retryAfter?: number;
}

export type AuthOutcome = { readonly ok: true; readonly actor: Actor } | Refusal;
export type LoginOutcome = { readonly ok: true; readonly cookie: string; readonly csrf: string; readonly actor: Actor } | Refusal;

const DISABLED: Refusal = Object.freeze({
  ok: false,
  status: 404,
  code: ErrorCode.NotAvailable,
  message: 'admin console disabled: no admin password or token configured',
});

const tooMany = (what: string, retryAfter: number): Refusal => ({
  ok: false,
  status: 429,
  code: ErrorCode.TooManyRequests,
  message: `too many wrong ${what}; try later`,
  retryAfter,
});

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time comparison of a given secret with a configured one ('' never matches). */
function secretMatches(given: string, expected: string): boolean {
  if (expected === '') return false;
  return timingSafeEqual(digest(given), digest(expected));
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/**
 * Same-origin check for state-changing requests: a browser always sends Origin on a
 * cross-origin POST, so an Origin whose host is not this request's Host is refused (the
 * scheme is not compared: behind a TLS proxy the page is https and the hop here is http);
 * Sec-Fetch-Site, when sent, must say same-origin (or none: typed by the user).
 */
export function sameOriginRequest(req: HttpRequest): boolean {
  const site = req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.header('origin');
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.header('host');
  } catch {
    return false;
  }
}

/** Whether the page was loaded over https (directly or through a proxy that says so). */
export function viaHttps(req: HttpRequest): boolean {
  return req.header('x-forwarded-proto') === 'https' || (req.header('origin') ?? '').startsWith('https://');
}

export class AdminAuth {
  private readonly sessions = new Map<string, Session>();
  /** Logins and bearer tokens back off apart: a browser's typos do not lock out the address's scripts. */
  private readonly loginBackoff: AddressBackoff;
  private readonly tokenBackoff: AddressBackoff;

  constructor(
    private readonly opts: DashboardOptions,
    private readonly now: () => number = Date.now,
    /** Wrong secrets, and secrets (right or wrong) refused while the address was blocked (core's counters, on /metrics). */
    private readonly refusals: Pick<AuthRefusals, AdminRefusal> = newAuthRefusals(),
  ) {
    this.loginBackoff = new AddressBackoff(opts.loginAttemptsPerMinute, LOGIN_WINDOW_MS, now);
    this.tokenBackoff = new AddressBackoff(opts.loginAttemptsPerMinute, LOGIN_WINDOW_MS, now);
  }

  get configured(): boolean {
    return this.opts.adminPassword !== '' || this.opts.adminToken !== '';
  }

  login(secret: string, ip: string, secure: boolean): LoginOutcome {
    if (!this.configured) return DISABLED;
    const wait = this.loginBackoff.blockedFor(ip);
    if (wait > 0) {
      this.refusals.admin_login_blocked++;
      return tooMany('logins', wait);
    }
    const viaPassword = secretMatches(secret, this.opts.adminPassword);
    const viaToken = secretMatches(secret, this.opts.adminToken);
    if (!viaPassword && !viaToken) {
      this.loginBackoff.failed(ip);
      this.refusals.admin_login_wrong++;
      return { ok: false, status: 401, code: ErrorCode.Unauthorized, message: 'wrong password' };
    }
    this.loginBackoff.succeeded(ip);
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(id, { csrf, expires: this.now() + this.opts.sessionTtlMs });
    const maxAge = Math.floor(this.opts.sessionTtlMs / 1000);
    const cookie = `${SESSION_COOKIE}=${id}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
    return { ok: true, cookie, csrf, actor: { kind: 'session', id: id.slice(0, 8) } };
  }

  /** Ends the request's session; the cookie that clears it in the browser. */
  logout(req: HttpRequest): string {
    const id = parseCookies(req.header('cookie')).get(SESSION_COOKIE);
    if (id !== undefined) this.sessions.delete(id);
    return `${SESSION_COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /** The live session of the request, if any (with its CSRF token, for the page). */
  session(req: HttpRequest): { id: string; csrf: string } | null {
    const id = parseCookies(req.header('cookie')).get(SESSION_COOKIE);
    if (id === undefined) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return { id, csrf: s.csrf };
  }

  /** Checks an admin request; `changes` requests also need the same origin and the CSRF token. */
  authorize(req: HttpRequest, changes: boolean): AuthOutcome {
    if (!this.configured) return DISABLED;
    const auth = req.header('authorization');
    if (auth !== undefined && auth.startsWith('Bearer ')) {
      // Blocked first: while an address is blocked even the right token is refused, so
      // guessing on through the 429s learns nothing.
      const ip = req.ip;
      const wait = this.tokenBackoff.blockedFor(ip);
      if (wait > 0) {
        this.refusals.admin_token_blocked++;
        return tooMany('tokens', wait);
      }
      if (secretMatches(auth.slice(7).trim(), this.opts.adminToken)) return { ok: true, actor: { kind: 'token' } };
      this.tokenBackoff.failed(ip);
      this.refusals.admin_token_wrong++;
      return { ok: false, status: 401, code: ErrorCode.Unauthorized, message: 'wrong admin token' };
    }
    const s = this.session(req);
    if (!s) return { ok: false, status: 401, code: ErrorCode.Unauthorized, message: 'login required' };
    if (changes) {
      if (!sameOriginRequest(req))
        return { ok: false, status: 403, code: ErrorCode.PermissionDenied, message: 'cross-origin request refused' };
      const given = req.header('x-csrf-token');
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), digest(s.csrf)))
        return { ok: false, status: 403, code: ErrorCode.PermissionDenied, message: 'missing or wrong X-CSRF-Token' };
    }
    return { ok: true, actor: { kind: 'session', id: s.id.slice(0, 8) } };
  }
}
