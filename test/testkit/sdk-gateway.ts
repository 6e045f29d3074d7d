/**
 * Test-only: the gateway the SDK compatibility tests share — loopback, port 0, the default
 * namespaces plus a `chat` namespace clients may publish to, with presence and history — its
 * Centrifugo WebSocket endpoint, and the HS256 connection tokens they sign.
 */
import { SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES, type GatewayOptionsInput } from '../../src/lib/core/options.js';

/** `chat.<lowercase>`: client publish, presence, 50 publications of history. */
export const CHAT_NAMESPACE = { name: 'chat', pattern: 'chat\\.[a-z]+', publish: true, presence: true, historySize: 50 } as const;

export interface SdkGatewayExtras {
  /** Namespaces after `chat`. */
  readonly namespaces?: NonNullable<GatewayOptionsInput['namespaces']>;
  readonly client?: GatewayOptionsInput['client'];
}

/** A gateway with `apiKey` for the server API and, when given, `tokenHmacSecret` for client tokens. */
export function startSdkGateway(apiKey: string, tokenHmacSecret?: string, extras: SdkGatewayExtras = {}): Promise<RunningGateway> {
  return startGateway({
    port: 0,
    host: '127.0.0.1',
    apiKey,
    ...(tokenHmacSecret === undefined ? {} : { tokenHmacSecret }),
    namespaces: [...DEFAULT_NAMESPACES, CHAT_NAMESPACE, ...(extras.namespaces ?? [])],
    ...(extras.client === undefined ? {} : { client: extras.client }),
  });
}

/** `ws://…/connection/websocket` of a gateway. */
export function sdkEndpoint(gw: RunningGateway): string {
  return `${gw.url.replace('http', 'ws')}/connection/websocket`;
}

/**
 * An HS256 token for user `sub`, expiring at `expiresAt` (jose: '1h' from now, or epoch seconds);
 * `claims` adds to it (`{ channel }` makes a subscription token).
 */
export function signToken(
  secret: string,
  sub: string,
  expiresAt: string | number = '1h',
  claims: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret));
}
