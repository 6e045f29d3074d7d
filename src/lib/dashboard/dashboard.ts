/**
 * The dashboard mounted on the gateway's HTTP server: `/dashboard` (the page), its static
 * files, `/dashboard/api/*` (admin API) and the stats producer that feeds the page over the
 * gateway's own WebSocket. The server hands it every request; `handle` answers those under
 * /dashboard and returns false for the rest.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../core/gateway.js';
import type { Logger } from '../core/stats.js';
import { ErrorCode } from '../protocol/codes.js';
import { AdminApi } from './admin-api.js';
import { AdminAuth } from './auth.js';
import { HttpError, sendError } from './http.js';
import type { DashboardOptions } from './options.js';
import { loadStaticFiles, sendStatic } from './static-files.js';
import { StatsProducer, type HealthSource } from './stats-producer.js';

export const DASHBOARD_PATH = '/dashboard';

export class Dashboard {
  readonly producer: StatsProducer;
  private readonly files = loadStaticFiles();
  private readonly api: AdminApi;

  constructor(
    readonly gw: Gateway,
    readonly opts: DashboardOptions,
    log: Logger,
  ) {
    this.producer = new StatsProducer(gw, opts.statsIntervalMs, log);
    this.api = new AdminApi({ gw, auth: new AdminAuth(opts), opts, log });
  }

  start(): void {
    this.producer.start();
  }

  /** Adds a health source shown per node (e.g. NATS ingest, Kafka consumer lag). */
  addHealth(name: string, read: HealthSource): void {
    this.producer.health.set(name, read);
  }

  /** Answers requests under /dashboard; false for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (path !== DASHBOARD_PATH && !path.startsWith(DASHBOARD_PATH + '/')) return false;
    const rest = path === DASHBOARD_PATH ? '' : path.slice(DASHBOARD_PATH.length + 1);
    if (rest.startsWith('api/')) {
      await this.api.handle(req, res, rest.slice(4), url);
      return true;
    }
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(res, new HttpError(405, ErrorCode.BadRequest, 'method not allowed'));
      return true;
    }
    const file = this.files.get(rest === '' ? 'static/index.html' : rest);
    if (file) sendStatic(res, file, method === 'HEAD');
    else sendError(res, new HttpError(404, ErrorCode.MethodNotFound, 'not found'));
    return true;
  }

  close(): void {
    this.producer.stop();
  }
}
