/**
 * Channel and subject of each event, computed once per (token, route) and cached, so that
 * sinks do not build strings per event.
 */
import { CHANNEL_EVENT_OF_TYPE, channelToSubject, MARKET_STATS_CHANNEL, type OdinEvent } from '../protocol/events.js';

export interface Route {
  readonly channel: string;
  readonly subject: string;
}

const MARKET_ROUTE: Route = Object.freeze({ channel: MARKET_STATS_CHANNEL, subject: channelToSubject(MARKET_STATS_CHANNEL) });
/** Tokens cached before the cache is cleared (creation events name new tokens forever). */
const MAX_TOKENS = 10_000;

export class RouteCache {
  private readonly byToken = new Map<string, Map<string, Route>>();

  route(event: OdinEvent): Route {
    if (event.type === 'market:stats') return MARKET_ROUTE;
    // Balances are per user; every other type's route depends only on its channel event.
    const key = event.type === 'balance:update' ? event.data.userId : (CHANNEL_EVENT_OF_TYPE[event.type] as string);
    let routes = this.byToken.get(event.token);
    if (routes === undefined) {
      if (this.byToken.size >= MAX_TOKENS) this.byToken.clear();
      routes = new Map();
      this.byToken.set(event.token, routes);
    }
    let r = routes.get(key);
    if (r === undefined) {
      const channel = event.type === 'balance:update' ? `${event.token}.balances.${key}` : `${event.token}.${key}`;
      r = { channel, subject: channelToSubject(channel) };
      routes.set(key, r);
    }
    return r;
  }
}
