/**
 * Whether a connection may subscribe to a channel, and on what grant: the namespace's rule, a
 * subscription token, or the application's subscribe proxy; and the connection's room for one
 * more channel. Functions of the client's context and the connection asking (`Client` calls
 * them); the answers are protocol codes, the order of the checks Centrifugo's.
 */
import { nowSeconds, type Clock } from './clock.js';
import { channelUser, resolveSubscription, type ChannelRules, type ResolvedSubscription } from './channels.js';
import type { GatewayOptions } from './options.js';
import { TokenError, type SubscriptionGrant, type TokenVerifier } from './auth.js';
import { askProxy, proxyClient, type ProxyCaller, type ProxyContext } from './proxy.js';
import { STATE_CLOSED } from './client-state.js';
import { readSubscribeProxyReply, subscribeProxyRequest } from '../protocol/centrifuge-proxy.js';
import { Disconnect, ErrorCode, isProtocolError, protocolError, type DisconnectReason, type ProtocolError } from '../protocol/codes.js';

/** What the checks read of the gateway (a part of the client's context). */
export interface AccessContext extends ProxyContext {
  readonly opts: GatewayOptions;
  readonly rules: ChannelRules;
  readonly clock: Clock;
  /** Who verifies a subscription token for the channel (its namespace's keys, the global subscription keys, or `verifier`). */
  subscriptionVerifier(channel: string): TokenVerifier | null;
}

/** The connection asking: who it is, its state and its subscriptions. */
export interface RequestingClient extends ProxyCaller {
  readonly state: number;
  readonly subs: ReadonlyMap<string, unknown>;
}

/** A subscribe the connection may make: what its name resolves to, and when its grant ends (s since epoch, 0 = never). */
export interface SubscribeAllowed extends ResolvedSubscription {
  readonly expireAt: number;
  /** JSON text of `data` for the subscribe result (a subscribe proxy's), or null. */
  readonly data?: string | null;
}

/** A refusal that closes the connection (a subscription token for another channel, user or client: 3500). */
export interface SubscribeDisconnect {
  readonly disconnect: DisconnectReason;
}
export type SubscribeCheck = SubscribeAllowed | ProtocolError | SubscribeDisconnect;

/** What a subscription token says for one channel of this connection. */
export type GrantCheck = SubscriptionGrant | ProtocolError | SubscribeDisconnect | 'invalid' | 'expired';

/**
 * Whether this connection may subscribe to `channel`, in Centrifugo's order: unknown channel
 * 102, already subscribed 105, channel limit 106; then a subscription token if one is given
 * (it grants the channel in any namespace), else the namespace's rule (`token`: 103 without one).
 */
export async function checkSubscribe(
  ctx: AccessContext,
  client: RequestingClient,
  channel: string,
  token: string | null,
): Promise<SubscribeCheck> {
  // A channel, or one with a cadence suffix (`BTC.price@1s`): its namespace and source channel.
  const target = resolveSubscription(ctx.rules, channel);
  if (!target) return protocolError(ErrorCode.UnknownChannel);
  const ns = target.ns;
  const limits = checkRoom(ctx, client, channel);
  if (limits !== null) return limits;
  if (token === null && ns.proxySubscribe && ctx.proxy?.has('subscribe')) return proxySubscribe(ctx, client, channel, target);
  if (token === null) {
    if (ns.subscribe === 'token') return protocolError(ErrorCode.PermissionDenied);
    if (ns.subscribe === 'authenticated' && client.user === '') return protocolError(ErrorCode.PermissionDenied);
    if (ns.userChannel && channelUser(target.source) !== client.user) return protocolError(ErrorCode.PermissionDenied);
    return { ...target, expireAt: 0 };
  }
  // A token names the source channel: it grants its cadence names too.
  const grant = await checkGrant(ctx, client, target.source, token);
  if (grant === 'invalid') return protocolError(ErrorCode.PermissionDenied);
  if (grant === 'expired') return protocolError(ErrorCode.TokenExpired);
  if (isProtocolError(grant) || 'disconnect' in grant) return grant;
  if (client.state === STATE_CLOSED) return protocolError(ErrorCode.Expired, 'connection closed');
  // The verification awaited: the connection may have subscribed meanwhile (Odin commands overlap).
  const again = checkRoom(ctx, client, channel);
  if (again !== null) return again;
  // A grant that already ended (`expire_at` in the past, `exp` still ahead): Centrifugo's 110.
  if (grant.expireAt > 0 && grant.expireAt <= nowSeconds(ctx.clock)) return protocolError(ErrorCode.Expired);
  return { ...target, expireAt: grant.expireAt };
}

/**
 * Asks the application whether this connection may subscribe (Centrifugo's subscribe proxy;
 * the namespace's own rules do not apply then): its error or disconnect, or the grant.
 */
async function proxySubscribe(
  ctx: AccessContext,
  client: RequestingClient,
  channel: string,
  target: ResolvedSubscription,
): Promise<SubscribeCheck> {
  const d = await askProxy(
    ctx,
    client,
    'subscribe',
    subscribeProxyRequest(proxyClient(client), channel, null, null),
    readSubscribeProxyReply,
  );
  if (client.state === STATE_CLOSED) return protocolError(ErrorCode.Expired, 'connection closed');
  if (!('result' in d)) return d;
  const again = checkRoom(ctx, client, channel);
  if (again !== null) return again;
  return { ...target, expireAt: d.result.expireAt, data: d.result.data };
}

/** Already subscribed (105) or no room for another channel (106); null when there is room. */
function checkRoom(ctx: AccessContext, client: RequestingClient, channel: string): ProtocolError | null {
  if (client.subs.has(channel)) return protocolError(ErrorCode.AlreadySubscribed);
  if (client.subs.size >= ctx.opts.maxChannelsPerConnection) return protocolError(ErrorCode.LimitExceeded, 'channel limit exceeded');
  return null;
}

/**
 * Verifies a subscription token for `channel` of this connection (Centrifugo's checks, in its
 * order): a bad token is `invalid`, a good one past its time `expired`; a token for a channel no
 * namespace knows 102; for another channel, user or client the connection is closed (3500).
 */
export async function checkGrant(ctx: AccessContext, client: RequestingClient, channel: string, token: string): Promise<GrantCheck> {
  const refused = ctx.stats.tokenRefusals;
  const verifier = ctx.subscriptionVerifier(channel);
  if (!verifier) {
    refused.invalid++;
    return 'invalid';
  }
  let grant: SubscriptionGrant;
  try {
    grant = await verifier.verifySubscription(token);
  } catch (err) {
    const code = err instanceof TokenError ? err.code : 'invalid';
    refused[code]++;
    ctx.log.info({ client: client.id, user: client.user, channel, reason: code, err }, 'subscription token refused');
    return code === 'expired' ? 'expired' : 'invalid';
  }
  if (!ctx.rules.resolve(grant.channel)) return protocolError(ErrorCode.UnknownChannel);
  if (grant.channel !== channel || grant.user !== client.user || (grant.client !== '' && grant.client !== client.id)) {
    refused.mismatch++;
    ctx.log.info(
      { client: client.id, user: client.user, channel, tokenChannel: grant.channel },
      'subscription token for another channel or user',
    );
    return { disconnect: Disconnect.InvalidToken };
  }
  return grant;
}
