/**
 * The `dashboard:` section of the gateway's options (rows and environment variables in the
 * gateway's option table; secrets come from the file or the environment only, a flag would show
 * in `ps`), validated once and frozen. The live view is on by default (it shows what /stats shows);
 * the admin console is off until an admin password or token is configured.
 */
import { z } from 'zod';
import { optionsError } from '../core/options.js';

/** How often each gateway process publishes its stats row, ms. */
export const DEFAULT_STATS_INTERVAL_MS = 1000;
/** An admin session lasts this long after login, ms (8 hours). */
export const DEFAULT_SESSION_TTL_MS = 8 * 60 * 60_000;
/** Wrong logins one address may make per minute before it gets 429. */
export const DEFAULT_LOGIN_ATTEMPTS_PER_MINUTE = 5;
/** The console's load test (POST /dashboard/api/loadtest): most connections one run may open. */
export const DEFAULT_LOADTEST_MAX_CONNECTIONS = 2000;
/** The console's load test: longest measured window, s. */
export const DEFAULT_LOADTEST_MAX_DURATION_SECONDS = 300;
/** The console's load test: highest publication rate, publications/s. */
export const DEFAULT_LOADTEST_MAX_RATE = 2000;
/** Shortest admin password or token accepted, characters. */
export const MIN_SECRET_LENGTH = 8;

export const dashboardOptionsSchema = z
  .object({
    /** Serve /dashboard and publish the stats channel (default true). */
    enabled: z.boolean().default(true),
    /** Password for the admin console's login form. Empty: no password login. */
    adminPassword: z.union([z.literal(''), z.string().min(MIN_SECRET_LENGTH)]).default(''),
    /** Token for scripts (`Authorization: Bearer <token>`), also accepted by the login form. Empty: none. */
    adminToken: z.union([z.literal(''), z.string().min(MIN_SECRET_LENGTH)]).default(''),
    /** Base URL of the publisher's control API (http://host:port), proxied for the console. Empty: no publisher controls. */
    publisherUrl: z.union([z.literal(''), z.string().url()]).default(''),
    statsIntervalMs: z.number().int().min(100).max(60_000).default(DEFAULT_STATS_INTERVAL_MS),
    sessionTtlMs: z.number().int().min(60_000).default(DEFAULT_SESSION_TTL_MS),
    loginAttemptsPerMinute: z.number().int().min(1).max(1000).default(DEFAULT_LOGIN_ATTEMPTS_PER_MINUTE),
    /** Bounds of a load test started from the console (one run at a time). */
    loadtestMaxConnections: z.number().int().min(1).max(100_000).default(DEFAULT_LOADTEST_MAX_CONNECTIONS),
    loadtestMaxDurationSeconds: z.number().int().min(1).max(3600).default(DEFAULT_LOADTEST_MAX_DURATION_SECONDS),
    loadtestMaxRate: z.number().int().min(0).max(100_000).default(DEFAULT_LOADTEST_MAX_RATE),
  })
  .strict();

export type DashboardOptions = Readonly<z.output<typeof dashboardOptionsSchema>>;
export type DashboardOptionsInput = z.input<typeof dashboardOptionsSchema>;

/** True when the admin console can be logged into. */
export function adminConfigured(o: DashboardOptions): boolean {
  return o.adminPassword !== '' || o.adminToken !== '';
}

/** Validates and freezes; throws ConfigError naming the bad key (never echoing a secret). */
export function resolveDashboardOptions(input: unknown = {}): DashboardOptions {
  const r = dashboardOptionsSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => {
      const key = i.path.map(String).join('.');
      return key === 'adminPassword' || key === 'adminToken'
        ? { ...i, message: `must be empty or at least ${MIN_SECRET_LENGTH} characters` }
        : i;
    });
    throw optionsError('invalid dashboard options', issues, input, { prefix: 'dashboard.', secrets: ['adminPassword', 'adminToken'] });
  }
  return Object.freeze(r.data);
}
