/**
 * The dashboard mounted on the gateway's HTTP app: `/dashboard` (the page), its static files,
 * `/dashboard/api/*` (admin API) and the stats producer that feeds the page over the
 * gateway's own WebSocket. `handle` is a route handler for the prefix `/dashboard`.
 */
import type { Gateway } from '../core/gateway.js';
import { ConfigError } from '../core/options.js';
import type { Logger } from '../core/logger.js';
import type { HttpReply, HttpRequest } from '../core/transport.js';
import { ErrorCode } from '../protocol/codes.js';
import { AdminApi } from './admin-api.js';
import { AdminAuth } from './auth.js';
import { errorReply, HttpError } from './http.js';
import type { DashboardOptions } from './options.js';
import { LoadtestRunner, type LoadtestTarget } from './loadtest-runner.js';
import { loadStaticFiles, staticReply } from './static-files.js';
import { StatsProducer, type HealthSource } from './stats-producer.js';

export const DASHBOARD_PATH = '/dashboard';
/** The methods the dashboard's routes answer (others get the router's 405). */
export const DASHBOARD_METHODS = ['GET', 'POST'] as const;

/** The page's files; a package without them fails at start with what to do, not at first request. */
function loadFilesOrExplain(): ReturnType<typeof loadStaticFiles> {
  try {
    return loadStaticFiles();
  } catch (cause) {
    throw new ConfigError(
      `dashboard: cannot load the page's files (${(cause as Error).message}); reinstall the package, or run without it (GATEWAY_DASHBOARD=false)`,
    );
  }
}

export class Dashboard {
  readonly producer: StatsProducer;
  private readonly files = loadFilesOrExplain();
  private readonly api: AdminApi;
  private readonly auth: AdminAuth;
  private readonly loadtest = new LoadtestRunner();

  constructor(
    readonly gw: Gateway,
    readonly opts: DashboardOptions,
    log: Logger,
  ) {
    this.producer = new StatsProducer(gw, opts.statsIntervalMs, log);
    this.auth = new AdminAuth(opts, Date.now, gw.stats.authRefusals);
    this.api = new AdminApi({ gw, auth: this.auth, opts, log, loadtest: this.loadtest });
  }

  /** Whether the request carries the admin credential (token, or a session), for /stats' full view. */
  admits(req: HttpRequest): boolean {
    return this.auth.authorize(req, false).ok;
  }

  start(): void {
    this.producer.start();
  }

  /** Points the console's publisher controls at a publisher started after the gateway (http://host:port). */
  setPublisherUrl(url: string): void {
    this.api.publisherUrl = new URL(url).origin;
  }

  /** Where the console's load tests run (this gateway over loopback) and the CLI that runs them; set once listening. */
  setLoadtestTarget(t: LoadtestTarget): void {
    this.loadtest.setTarget(t);
  }

  /** Adds a health source shown per node (e.g. NATS ingest, Kafka consumer lag). */
  addHealth(name: string, read: HealthSource): void {
    this.producer.health.set(name, read);
  }

  /** Answers a request under /dashboard (no await before the admin API reads the body). */
  readonly handle = (req: HttpRequest, path: string): Promise<HttpReply> | HttpReply => {
    const rest = path === DASHBOARD_PATH ? '' : path.slice(DASHBOARD_PATH.length + 1);
    if (rest.startsWith('api/')) return this.api.handle(req, rest.slice(4), new URL(req.url, 'http://localhost'));
    if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(new HttpError(405, ErrorCode.BadRequest, 'method not allowed'));
    const file = this.files.get(rest === '' ? 'static/index.html' : rest);
    return file ? staticReply(file) : errorReply(new HttpError(404, ErrorCode.MethodNotFound, 'not found'));
  };

  /** Stops the stats producer and a running load test (waits for it to exit). */
  async close(): Promise<void> {
    this.producer.stop();
    await this.loadtest.close();
  }

  /** Where the gateway's HTTP app serves it. */
  get mount(): { readonly path: string; readonly methods: readonly string[]; readonly handle: Dashboard['handle'] } {
    return { path: DASHBOARD_PATH, methods: DASHBOARD_METHODS, handle: this.handle };
  }
}
