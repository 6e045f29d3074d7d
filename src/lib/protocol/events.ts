/**
 * Odin market events: the payloads publishers send and the gateway delivers.
 *
 * Every event is one JSON object `{id, type, token, timestamp, source, data}`:
 *  - `id`: unique per event; publishers use it as the idempotency key (gateway
 *    `idempotency_key`, JetStream `Nats-Msg-Id`), so a retried publish is accepted once.
 *  - `type`: what happened (`price:update`, `trade:new`, ...), see `EventType`.
 *  - `token`: the token symbol (`BTC`); `*` for market-wide events.
 *  - `timestamp`: when it happened, ms since the Unix epoch.
 *  - `data`: the type's payload.
 *
 * Where it goes: every type belongs to one channel event (`ChannelEvent`). The gateway channel
 * is `{SYMBOL}.{event}` (`BTC.trade`); balances are per user (`BTC.balances.{userId}`); the
 * market summary goes to `market.stats`. The NATS subject is the channel behind
 * `odin.token.` (`odin.token.BTC.trade`), except `market.stats` ↔ `odin.market.statistics`.
 *
 * This file has no dependencies; runtime validators live with their users.
 */

/** The channel events of the existing Odin system (the last part of `{SYMBOL}.{event}`). */
export const CHANNEL_EVENTS = ['trade', 'liquidity', 'metadata', 'social', 'favorites', 'creation', 'analytics', 'balances'] as const;
export type ChannelEvent = (typeof CHANNEL_EVENTS)[number];

/**
 * Channel events the gateway accepts on public (anyone may subscribe) channels: every Odin
 * channel event except the per-user `balances`, plus `price` and `holders`, per-type channels
 * (`BTC.price`) that load tests and dashboards subscribe to. The gateway's default namespaces
 * are built from these two lists, so a new channel event is added here only.
 */
// `community`: the channel of the Odin Kafka topic odin.community (comments, pins, upvotes: public).
export const PUBLIC_CHANNEL_EVENTS: readonly string[] = [
  ...CHANNEL_EVENTS.filter((e) => e !== 'balances'),
  'price',
  'holders',
  'community',
];
/** The per-user channel event: `{SYMBOL}.balances.{userId}`. */
export const USER_CHANNEL_EVENT: ChannelEvent = 'balances';

/** Gateway channel of the market statistics summary. */
export const MARKET_STATS_CHANNEL = 'market.stats';
/** NATS subject of the market statistics summary. */
export const MARKET_STATS_SUBJECT = 'odin.market.statistics';
/** NATS subject prefix of per-token events; the gateway strips it to get the channel. */
export const TOKEN_SUBJECT_PREFIX = 'odin.token.';
/** `token` of events that concern the whole market rather than one token. */
export const MARKET_TOKEN = '*';

/**
 * Event type strings. `price:update` is the existing Odin name; the others follow its
 * `noun:verb` pattern.
 */
export const EventType = {
  TradeNew: 'trade:new',
  PriceUpdate: 'price:update',
  HoldersUpdate: 'holders:update',
  LiquidityAdd: 'liquidity:add',
  LiquidityRemove: 'liquidity:remove',
  TokenCreated: 'token:created',
  TokenListed: 'token:listed',
  MetadataUpdate: 'metadata:update',
  SocialUpdate: 'social:update',
  FavoritesUpdate: 'favorites:update',
  BalanceUpdate: 'balance:update',
  MarketStats: 'market:stats',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
export const EVENT_TYPES: readonly EventType[] = Object.values(EventType);

/** The channel event each type is published under (`null`: the market-wide channel). */
export const CHANNEL_EVENT_OF_TYPE: Readonly<Record<EventType, ChannelEvent | null>> = {
  'trade:new': 'trade',
  'price:update': 'analytics',
  'holders:update': 'analytics',
  'liquidity:add': 'liquidity',
  'liquidity:remove': 'liquidity',
  'token:created': 'creation',
  'token:listed': 'creation',
  'metadata:update': 'metadata',
  'social:update': 'social',
  'favorites:update': 'favorites',
  'balance:update': 'balances',
  'market:stats': null,
};

/**
 * Kafka topics of the newer Odin design, by channel event (record key: the token symbol).
 * The publisher has no Kafka sink yet; this is the mapping a `KafkaSink` would use.
 */
export const KAFKA_TOPIC_OF_CHANNEL_EVENT: Readonly<Record<ChannelEvent, string>> = {
  trade: 'odin.trades',
  liquidity: 'odin.liquidity',
  balances: 'odin.balances',
  metadata: 'odin.metadata',
  social: 'odin.social',
  favorites: 'odin.community',
  creation: 'odin.creation',
  analytics: 'odin.analytics',
};

interface EventBase<T extends EventType, D> {
  readonly id: string;
  readonly type: T;
  readonly token: string;
  /** ms since the Unix epoch. */
  readonly timestamp: number;
  /** Who produced it (`simulator` for the load publisher). */
  readonly source: string;
  readonly data: D;
}

/** Prices are in USD; `amountBtc` is the trade's value in BTC. */
export interface TradeData {
  readonly side: 'buy' | 'sell';
  readonly price: number;
  readonly amountBtc: number;
  readonly amountTokens: number;
  readonly valueUsd: number;
  readonly trader: string;
  readonly txId: string;
}

export interface PriceData {
  readonly price: number;
  readonly volume24h: number;
  readonly marketCap: number;
  /** Percent, e.g. -2.5. */
  readonly priceChange24h: number;
  readonly high24h: number;
  readonly low24h: number;
}

export interface HoldersData {
  readonly holders: number;
  /** Signed change since the previous holders update of this token. */
  readonly change: number;
}

export interface LiquidityData {
  readonly provider: string;
  readonly amountBtc: number;
  readonly amountTokens: number;
  /** Pool totals after the change. */
  readonly totalLiquidityBtc: number;
  readonly totalLiquidityTokens: number;
  readonly txId: string;
}

export interface TokenCreatedData {
  readonly name: string;
  readonly symbol: string;
  readonly creator: string;
  readonly initialPrice: number;
  readonly totalSupply: number;
}

export interface TokenListedData {
  readonly symbol: string;
  readonly price: number;
  readonly marketCap: number;
  readonly initialLiquidityBtc: number;
}

export interface MetadataData {
  readonly name: string;
  readonly description: string;
  readonly website: string;
  readonly imageUrl: string;
  readonly tags: readonly string[];
}

export interface SocialData {
  readonly platform: 'twitter' | 'telegram' | 'discord';
  readonly followers: number;
  readonly mentions24h: number;
  /** -1 (negative) … 1 (positive). */
  readonly sentiment: number;
}

export interface FavoritesData {
  readonly userId: string;
  readonly action: 'add' | 'remove';
  /** Users that have the token in their favorites after the change. */
  readonly favorites: number;
}

export interface BalanceData {
  readonly userId: string;
  readonly balance: number;
  readonly balanceBtc: number;
  readonly valueUsd: number;
  /** Signed change in tokens. */
  readonly change: number;
}

export interface TokenMove {
  readonly token: string;
  /** Percent. */
  readonly priceChange24h: number;
}

export interface MarketStatsData {
  readonly totalMarketCap: number;
  readonly totalVolume24h: number;
  readonly activeTokens: number;
  /** Trades published since the previous summary. */
  readonly trades: number;
  /** Summary period, ms. */
  readonly intervalMs: number;
  readonly topGainer: TokenMove | null;
  readonly topLoser: TokenMove | null;
}

export type TradeEvent = EventBase<'trade:new', TradeData>;
export type PriceUpdateEvent = EventBase<'price:update', PriceData>;
export type HoldersUpdateEvent = EventBase<'holders:update', HoldersData>;
export type LiquidityEvent = EventBase<'liquidity:add' | 'liquidity:remove', LiquidityData>;
export type TokenCreatedEvent = EventBase<'token:created', TokenCreatedData>;
export type TokenListedEvent = EventBase<'token:listed', TokenListedData>;
export type MetadataUpdateEvent = EventBase<'metadata:update', MetadataData>;
export type SocialUpdateEvent = EventBase<'social:update', SocialData>;
export type FavoritesUpdateEvent = EventBase<'favorites:update', FavoritesData>;
export type BalanceUpdateEvent = EventBase<'balance:update', BalanceData>;
export type MarketStatsEvent = EventBase<'market:stats', MarketStatsData>;

/** Any Odin event; narrow on `type`. */
export type OdinEvent =
  | TradeEvent
  | PriceUpdateEvent
  | HoldersUpdateEvent
  | LiquidityEvent
  | TokenCreatedEvent
  | TokenListedEvent
  | MetadataUpdateEvent
  | SocialUpdateEvent
  | FavoritesUpdateEvent
  | BalanceUpdateEvent
  | MarketStatsEvent;

/** Gateway channel of an event: `BTC.trade`, `BTC.balances.user_7`, `market.stats`. */
export function eventChannel(event: OdinEvent): string {
  if (event.type === 'market:stats') return MARKET_STATS_CHANNEL;
  if (event.type === 'balance:update') return `${event.token}.balances.${event.data.userId}`;
  return `${event.token}.${CHANNEL_EVENT_OF_TYPE[event.type] as ChannelEvent}`;
}

/** NATS subject of a gateway channel (`BTC.trade` → `odin.token.BTC.trade`). */
export function channelToSubject(channel: string): string {
  return channel === MARKET_STATS_CHANNEL ? MARKET_STATS_SUBJECT : TOKEN_SUBJECT_PREFIX + channel;
}

/** Gateway channel of a NATS subject, or `null` when the subject is not an Odin one. */
export function subjectToChannel(subject: string): string | null {
  if (subject === MARKET_STATS_SUBJECT) return MARKET_STATS_CHANNEL;
  if (subject.startsWith(TOKEN_SUBJECT_PREFIX) && subject.length > TOKEN_SUBJECT_PREFIX.length) {
    return subject.slice(TOKEN_SUBJECT_PREFIX.length);
  }
  return null;
}

/** NATS subject of an event. */
export function eventSubject(event: OdinEvent): string {
  return channelToSubject(eventChannel(event));
}
