/**
 * Plain counters kept by core on the hot path (a number increment, no library call). The app's
 * Prometheus registry reads them at scrape time, so the hot path never touches prom-client.
 */
export type RejectReason =
  'max_connections' | 'max_connections_per_ip' | 'connection_rate' | 'max_connections_per_user' | 'origin' | 'draining' | 'bad_path';

/** Why a connection or subscription token was refused (`ws_token_refusals_total{reason}`). */
export type TokenRefusal = 'invalid' | 'expired' | 'unavailable' | 'mismatch';

/** Secrets refused, by surface and why: wrong, or any (the right one too) while the address was blocked. */
export interface AuthRefusals {
  api_key_wrong: number;
  api_key_blocked: number;
  admin_login_wrong: number;
  admin_login_blocked: number;
  admin_token_wrong: number;
  admin_token_blocked: number;
}

export function newAuthRefusals(): AuthRefusals {
  return {
    api_key_wrong: 0,
    api_key_blocked: 0,
    admin_login_wrong: 0,
    admin_login_blocked: 0,
    admin_token_wrong: 0,
    admin_token_blocked: 0,
  };
}

export class GatewayStats {
  /** Per-address backoff on the server API key and the admin secrets (`ws_auth_refusals_total{reason}`). */
  readonly authRefusals = newAuthRefusals();
  connections = { odin: 0, centrifuge: 0 };
  connectionsTotal = { odin: 0, centrifuge: 0 };
  subscriptions = 0;
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  publications = 0;
  recoveries = { recovered: 0, not_recovered: 0 };
  /** Recoveries refused by the bounds of recovery.* (docs/protocol.md, Limits), by bound. */
  recoveryRefusals = { command_limit: 0, connection_limit: 0, node_budget: 0, queue_full: 0 };
  /**
   * Refusals by a node-wide bound (limits.*, api.*; docs/reliability.md, "Resource bounds"),
   * by bound; the memory broker counts its own (channels and history bytes it holds).
   */
  limitRefusals = {
    channels: 0,
    anonymous_channels: 0,
    api_response_bytes: 0,
    api_broadcast_channels: 0,
    api_publications: 0,
    api_batch_commands: 0,
    api_pattern_steps: 0,
  };
  slowDisconnects = 0;
  /** Tokens refused, by reason (`mismatch`: a subscription token for another channel, user or client). */
  tokenRefusals: Record<TokenRefusal, number> = { invalid: 0, expired: 0, unavailable: 0, mismatch: 0 };
  /** Proxy requests to the application, by kind and outcome (`ws_proxy_requests_total`). */
  proxyRequests = new Map<string, number>();
  /** Subscriptions ended because their token's grant ran out (unsubscribe 2501). */
  subscriptionsExpired = 0;
  /** Publications replaced in a queue by a newer one of the same channel (keep-latest conflation). */
  conflated = 0;
  /** Deliveries to Fossil delta subscriptions: as a patch, and whole (first, or a patch not smaller). */
  deltaPatches = 0;
  deltaFull = 0;
  /** Connections refused, by reason: at upgrade, or (`max_connections_per_user`) once the token named the user (3504). */
  rejected: Record<RejectReason, number> = {
    max_connections: 0,
    max_connections_per_ip: 0,
    connection_rate: 0,
    max_connections_per_user: 0,
    origin: 0,
    draining: 0,
    bad_path: 0,
  };
  /**
   * Authenticated connections admitted without the cluster-wide per-user count because the
   * broker's registry could not be reached (fail open: the per-process count still applied).
   */
  userLimitUnchecked = 0;
  disconnects = new Map<number, number>();
  commandErrors = new Map<number, number>();
  /** Called with the publish-to-flush latency of each publication fanned out, seconds. */
  onBroadcastLatency: ((seconds: number) => void) | null = null;

  countDisconnect(code: number): void {
    this.disconnects.set(code, (this.disconnects.get(code) ?? 0) + 1);
  }

  countProxy(kind: string, outcome: string): void {
    const key = `${kind}:${outcome}`;
    this.proxyRequests.set(key, (this.proxyRequests.get(key) ?? 0) + 1);
  }

  countCommandError(code: number): void {
    this.commandErrors.set(code, (this.commandErrors.get(code) ?? 0) + 1);
  }
}
