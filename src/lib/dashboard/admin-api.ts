/**
 * The admin console's JSON API under /dashboard/api/: login, channels, channel inspector,
 * publish, client look-up and disconnect, and the publisher's control API (proxied). Reads
 * need a session or the admin token; changes also need the same origin and the CSRF token.
 * Every change is written to the log as an audit record. Outcomes and codes: docs/dashboard.md.
 */
import { z } from 'zod';
import type { Gateway } from '../core/gateway.js';
import { brokerFailureError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { HttpReply, HttpRequest } from '../core/transport.js';
import { ErrorCode, httpStatusOf } from '../protocol/codes.js';
import { payloadText, RawJson } from '../protocol/json-text.js';
import { MAX_JSON_DEPTH } from '../protocol/limits.js';
import { viaHttps, type Actor, type AdminAuth } from './auth.js';
import { badRequest, errorReply, HttpError, jsonReply, readJsonObject } from './http.js';
import type { LoadtestRunner } from './loadtest-runner.js';
import type { DashboardOptions } from './options.js';

/** Rows in the channels table (busiest first). */
export const MAX_CHANNEL_ROWS = 500;
/** Publications the inspector shows at most. */
export const MAX_INSPECT_LIMIT = 1000;
const PUBLISHER_TIMEOUT_MS = 5000;
/** Lifetime of the connection token minted for the page's WebSocket, s (it reconnects with a new one). */
export const WS_TOKEN_TTL_SECONDS = 600;
/** The user the page's WebSocket connects as, when the gateway refuses anonymous connections. */
export const DASHBOARD_USER = 'odin-ws-dashboard';

/**
 * The admin routes and the methods each answers. All but session/login/logout need an admin
 * (session or token); POSTs are changes (same origin + CSRF token for a session).
 */
const ROUTES: Readonly<Record<string, { readonly methods: readonly ('GET' | 'POST')[] }>> = {
  session: { methods: ['GET'] },
  login: { methods: ['POST'] },
  logout: { methods: ['POST'] },
  channels: { methods: ['GET'] },
  channel: { methods: ['GET'] },
  clients: { methods: ['GET'] },
  publish: { methods: ['POST'] },
  disconnect: { methods: ['POST'] },
  publisher: { methods: ['GET', 'POST'] },
  'ws-token': { methods: ['GET'] },
  loadtest: { methods: ['GET', 'POST'] },
  'loadtest/stop': { methods: ['POST'] },
};

export interface AdminContext {
  readonly gw: Gateway;
  readonly auth: AdminAuth;
  readonly opts: DashboardOptions;
  readonly log: Logger;
  readonly loadtest: LoadtestRunner;
}

const channelName = z.string().min(1).max(255);
const loginBody = z.object({ password: z.string().min(1).max(1024) }).strict();
const publishBody = z.object({ channel: channelName, data: z.unknown() }).strict();
const disconnectBody = z
  .object({ user: z.string().max(256).optional(), client: z.string().max(64).optional() })
  .strict()
  .refine((b) => (b.user ?? '') !== '' || (b.client ?? '') !== '', { message: 'give user or client' });
/** A load test from the console: bounded by the dashboard's loadtestMax* options. */
function loadtestBody(o: DashboardOptions) {
  return z
    .object({
      connections: z.number().int().min(1).max(o.loadtestMaxConnections),
      durationSeconds: z.number().int().min(1).max(o.loadtestMaxDurationSeconds),
      rate: z.number().int().min(0).max(o.loadtestMaxRate).default(Math.min(10, o.loadtestMaxRate)),
      protocol: z.enum(['odin', 'centrifuge']).default('odin'),
    })
    .strict();
}
const publisherBody = z.object({ action: z.enum(['start', 'stop', 'configure']) }).passthrough();

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw badRequest(`${i.path.join('.') || 'body'}: ${i.message}`);
}

function intParam(url: URL, name: string, dflt: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name}: expected an integer ${min}..${max}`);
  return n;
}

/** Per-channel publications per second, from how far the stream offset moved between two looks. */
class ChannelRates {
  private readonly seen = new Map<string, { offset: number; epoch: string; at: number; rate: number }>();

  rate(channel: string, offset: number, epoch: string, now: number): number {
    const prev = this.seen.get(channel);
    let rate = 0;
    if (prev && prev.epoch === epoch) {
      const dt = (now - prev.at) / 1000;
      // Looks closer than half a second apart keep the previous figure (too noisy to divide).
      if (dt < 0.5) return prev.rate;
      rate = Math.max(0, offset - prev.offset) / dt;
    }
    this.seen.set(channel, { offset, epoch, at: now, rate });
    return Math.round(rate * 100) / 100;
  }

  keepOnly(channels: ReadonlySet<string>): void {
    for (const k of this.seen.keys()) if (!channels.has(k)) this.seen.delete(k);
  }
}

export class AdminApi {
  private readonly rates = new ChannelRates();
  /** The publisher's control API; from the options, or set once the publisher is listening (odin-ws dev). */
  publisherUrl: string;

  private readonly loadtestBody: ReturnType<typeof loadtestBody>;

  constructor(private readonly ctx: AdminContext) {
    this.publisherUrl = ctx.opts.publisherUrl;
    this.loadtestBody = loadtestBody(ctx.opts);
  }

  private audit(req: HttpRequest, actor: Actor, action: string, details: Record<string, unknown>): void {
    const who = actor.kind === 'token' ? 'token' : `session:${actor.id}`;
    this.ctx.log.info({ audit: 'dashboard', action, actor: who, ip: req.ip, ...details }, `admin ${action}`);
  }

  /** Handles /dashboard/api/<route>; every outcome is JSON. */
  async handle(req: HttpRequest, route: string, url: URL): Promise<HttpReply> {
    try {
      return await this.route(req, route, url);
    } catch (e) {
      if (e instanceof HttpError) return errorReply(e);
      // Core's coded errors (unknown channel, broker away) get the server API's statuses.
      const a = brokerFailureError(e);
      if (a.code === ErrorCode.Internal) {
        this.ctx.log.error({ err: e, route }, 'dashboard: admin API failed');
        return errorReply(new HttpError(500, ErrorCode.Internal, 'internal error'));
      }
      return errorReply(new HttpError(httpStatusOf(a.code, a.temporary), a.code, a.message));
    }
  }

  // Bodies are read (readJsonObject) before any await: the transport streams them only then.
  private async route(req: HttpRequest, route: string, url: URL): Promise<HttpReply> {
    const spec = Object.hasOwn(ROUTES, route) ? ROUTES[route] : undefined;
    if (!spec) throw new HttpError(404, ErrorCode.MethodNotFound, `no admin route ${route.slice(0, 64)}`);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (!(spec.methods as readonly string[]).includes(method))
      throw new HttpError(405, ErrorCode.BadRequest, `method ${req.method} not allowed here; use ${spec.methods.join(' or ')}`);
    const post = method === 'POST';
    if (route === 'session') return this.sessionInfo(req);
    if (route === 'login') return this.login(req);
    if (route === 'logout') {
      // A change like any other: a live session ends only with its CSRF token, from its origin.
      if (this.ctx.auth.session(req) !== null) {
        const ok = this.ctx.auth.authorize(req, true);
        if (!ok.ok) throw new HttpError(ok.status, ok.code, ok.message, ok.retryAfter ?? 0);
      }
      return jsonReply(200, { ok: true }, { 'set-cookie': this.ctx.auth.logout(req) });
    }
    const who = this.ctx.auth.authorize(req, post);
    if (!who.ok) throw new HttpError(who.status, who.code, who.message, who.retryAfter ?? 0);
    switch (route) {
      case 'channels':
        return jsonReply(200, await this.channels());
      case 'channel':
        return jsonReply(200, await this.inspect(url));
      case 'clients': {
        const user = url.searchParams.get('user') ?? undefined;
        const client = url.searchParams.get('client') ?? undefined;
        if ((user ?? '') === '' && (client ?? '') === '') throw badRequest('give user or client');
        return jsonReply(200, { clients: this.ctx.gw.api.findClients({ user, client }) });
      }
      case 'publish': {
        const b = parse(publishBody, await readJsonObject(req, true));
        if (b.data === undefined || (b.data instanceof RawJson && b.data.text === 'null')) throw badRequest('data: required');
        // A name no namespace matches is a bad request here, as in the channel inspector.
        if (!this.ctx.gw.rules.resolve(b.channel)) throw new HttpError(400, ErrorCode.UnknownChannel, 'unknown channel');
        const data = payloadText(b.data);
        if (data === null) throw badRequest(`data: nests deeper than ${MAX_JSON_DEPTH} levels`);
        const pos = await this.ctx.gw.api.publish({ channel: b.channel, data });
        this.audit(req, who.actor, 'publish', { channel: b.channel, offset: pos.offset });
        return jsonReply(200, { offset: pos.offset, epoch: pos.epoch });
      }
      case 'disconnect':
        return jsonReply(200, this.disconnect(req, who.actor, parse(disconnectBody, await readJsonObject(req))));
      case 'ws-token':
        return jsonReply(200, await this.wsToken());
      case 'loadtest':
        return post ? this.startLoadtest(req, who.actor) : jsonReply(200, this.ctx.loadtest.status());
      case 'loadtest/stop':
        return this.stopLoadtest(req, who.actor);
      default:
        return this.publisher(req, who.actor, post);
    }
  }

  private sessionInfo(req: HttpRequest): HttpReply {
    const s = this.ctx.auth.session(req);
    return jsonReply(200, {
      admin: this.ctx.auth.configured,
      loggedIn: s !== null,
      ...(s ? { csrf: s.csrf } : {}),
      publisher: this.publisherUrl !== '',
      loadtest: this.ctx.auth.configured && this.ctx.loadtest.available && this.ctx.gw.opts.allowAnonymous,
    });
  }

  private async startLoadtest(req: HttpRequest, actor: Actor): Promise<HttpReply> {
    const b = parse(this.loadtestBody, await readJsonObject(req));
    const lt = this.ctx.loadtest;
    if (!lt.available) throw new HttpError(404, ErrorCode.NotAvailable, 'load tests need the server API key (GATEWAY_API_KEY)');
    // The CLI's connections are anonymous: on a gateway that refuses them every one would fail.
    if (!this.ctx.gw.opts.allowAnonymous)
      throw new HttpError(404, ErrorCode.NotAvailable, 'load tests connect anonymously and this gateway refuses anonymous connections');
    if (lt.running)
      throw new HttpError(409, ErrorCode.LimitExceeded, `a load test is already running (pid ${lt.status().pid}); stop it first`);
    let pid: number;
    try {
      pid = await lt.start(b);
    } catch (e) {
      this.ctx.log.error({ err: e }, 'dashboard: load test did not start');
      throw new HttpError(500, ErrorCode.Internal, 'the load test could not be started');
    }
    this.audit(req, actor, 'loadtest-start', { pid, ...b });
    return jsonReply(200, { pid, ...b });
  }

  private async stopLoadtest(req: HttpRequest, actor: Actor): Promise<HttpReply> {
    // The body is optional here ({} or none); read it only when one is sent, before the await.
    if ((req.header('content-length') ?? '0') !== '0') await readJsonObject(req);
    const pid = this.ctx.loadtest.status().pid;
    const stopped = await this.ctx.loadtest.stop();
    if (stopped) this.audit(req, actor, 'loadtest-stop', { pid, exit: this.ctx.loadtest.status().exit });
    return jsonReply(200, { stopped, exit: stopped ? this.ctx.loadtest.status().exit : null });
  }

  private async login(req: HttpRequest): Promise<HttpReply> {
    const b = parse(loginBody, await readJsonObject(req));
    const r = this.ctx.auth.login(b.password, req.ip, viaHttps(req));
    if (!r.ok) {
      this.ctx.log.warn({ audit: 'dashboard', action: 'login', ip: req.ip, outcome: r.code }, 'admin login refused');
      return errorReply(new HttpError(r.status, r.code, r.message, r.retryAfter ?? 0));
    }
    this.audit(req, r.actor, 'login', {});
    return jsonReply(200, { csrf: r.csrf }, { 'set-cookie': r.cookie });
  }

  private async channels(): Promise<unknown> {
    const gw = this.ctx.gw;
    const all = Object.entries(gw.api.channels())
      .sort((a, b) => b[1].num_clients - a[1].num_clients)
      .slice(0, MAX_CHANNEL_ROWS);
    const now = Date.now();
    const rows = await Promise.all(
      all.map(async ([channel, { num_clients }]) => {
        const ns = gw.rules.resolve(channel);
        const pos = await gw.broker.history(channel, { limit: 0 }).then(
          (h) => h.position,
          () => null,
        );
        return {
          channel,
          namespace: ns?.name ?? null,
          subscribers: num_clients,
          offset: pos?.offset ?? null,
          epoch: pos?.epoch ?? null,
          historySize: ns?.historySize ?? 0,
          publicationsPerSecond: pos ? this.rates.rate(channel, pos.offset, pos.epoch, now) : 0,
        };
      }),
    );
    this.rates.keepOnly(new Set(rows.map((r) => r.channel)));
    return { node: gw.nodeId, total: gw.hub.channelCount, channels: rows };
  }

  private async inspect(url: URL): Promise<unknown> {
    const gw = this.ctx.gw;
    const channel = parse(channelName, url.searchParams.get('channel') ?? '');
    const ns = gw.rules.resolve(channel);
    if (!ns) throw new HttpError(400, ErrorCode.UnknownChannel, 'unknown channel');
    const limit = intParam(url, 'limit', 20, 0, MAX_INSPECT_LIMIT);
    const sinceOffset = url.searchParams.get('since_offset');
    const sinceEpoch = url.searchParams.get('since_epoch');
    let since: { offset: number; epoch: string } | undefined;
    if ((sinceOffset ?? '') !== '' || (sinceEpoch ?? '') !== '') {
      if ((sinceEpoch ?? '') === '') throw badRequest('since_epoch: required with since_offset');
      since = { offset: intParam(url, 'since_offset', 0, 0, Number.MAX_SAFE_INTEGER), epoch: sinceEpoch! };
    }
    const reverse = url.searchParams.get('reverse') === 'true';
    let history: unknown = null;
    let historyError: string | null = null;
    let position: { offset: number; epoch: string } | null = null;
    if (ns.historySize === 0) historyError = 'history is off for this channel';
    else {
      const h = await gw.api.history(channel, { limit, ...(since ? { since } : {}), reverse });
      position = h.position;
      history = h.publications.map((p) => ({
        offset: p.offset,
        time: p.time,
        data: safeJson(p.data),
        // The payload as published (`data` is it parsed: big integers and number formatting may differ).
        dataText: p.data,
        ...(p.tags ? { tags: p.tags } : {}),
      }));
    }
    if (!position) position = (await gw.broker.history(channel, { limit: 0 })).position;
    let presence: unknown = null;
    let presenceError: string | null = null;
    try {
      presence = await gw.api.presenceOf(channel);
    } catch (e) {
      presenceError = e instanceof Error ? e.message : String(e);
    }
    return {
      channel,
      namespace: ns.name,
      subscribers: gw.hub.members(channel)?.size ?? 0,
      position,
      historySize: ns.historySize,
      history,
      historyError,
      presence,
      presenceError,
    };
  }

  /**
   * A short connection token for the page's own WebSocket, for gateways that refuse anonymous
   * connections: signed with the gateway's HMAC secret, for the dashboard's user only. Null
   * when anonymous connections are allowed (the page needs none).
   */
  private async wsToken(): Promise<{ token: string | null; expiresIn: number }> {
    const o = this.ctx.gw.opts;
    if (o.allowAnonymous) return { token: null, expiresIn: 0 };
    if (o.tokenHmacSecret === '')
      throw new HttpError(404, ErrorCode.NotAvailable, 'anonymous connections are off and no HMAC token secret is configured to sign one');
    // jose only when the console mints a token (a gateway loads it at its first token otherwise).
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(DASHBOARD_USER)
      .setIssuedAt()
      .setExpirationTime(`${WS_TOKEN_TTL_SECONDS}s`)
      .sign(new TextEncoder().encode(o.tokenHmacSecret));
    return { token, expiresIn: WS_TOKEN_TTL_SECONDS };
  }

  private disconnect(req: HttpRequest, actor: Actor, b: { user?: string | undefined; client?: string | undefined }): unknown {
    const gw = this.ctx.gw;
    let n = 0;
    if ((b.user ?? '') !== '') n = gw.api.disconnectUser(b.user!, b.client);
    else if (gw.api.disconnectClient(b.client!)) n = 1;
    this.audit(req, actor, 'disconnect', { user: b.user ?? null, client: b.client ?? null, disconnected: n });
    return { disconnected: n };
  }

  private async publisher(req: HttpRequest, actor: Actor, post: boolean): Promise<HttpReply> {
    const base = this.publisherUrl;
    if (base === '') throw new HttpError(404, ErrorCode.NotAvailable, 'no publisher configured (dashboard.publisherUrl or PUBLISHER_URL)');
    let body: Record<string, unknown> | undefined;
    if (post) body = parse(publisherBody, await readJsonObject(req));
    const target = new URL(post ? '/control' : '/stats', base);
    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: post ? 'POST' : 'GET',
        ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        signal: AbortSignal.timeout(PUBLISHER_TIMEOUT_MS),
        redirect: 'error',
      });
    } catch (e) {
      throw new HttpError(502, ErrorCode.NotAvailable, `publisher unreachable: ${(e as Error).message}`);
    }
    const text = await upstream.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(502, ErrorCode.NotAvailable, `publisher answered ${upstream.status} without JSON`);
    }
    if (post) this.audit(req, actor, 'publisher', { request: body, status: upstream.status });
    // The publisher's own 4xx (bad profile, already running) reaches the page as it is.
    return jsonReply(upstream.status >= 500 ? 502 : upstream.status, json);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
