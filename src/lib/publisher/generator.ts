/**
 * Turns the simulated market into Odin events. `next()` picks an event kind by weight and a
 * token uniformly, moves the market and builds the event; the event object (with its id and
 * strings) is the only allocation.
 */
import type {
  BalanceUpdateEvent,
  FavoritesUpdateEvent,
  HoldersUpdateEvent,
  LiquidityEvent,
  MarketStatsEvent,
  MetadataUpdateEvent,
  OdinEvent,
  PriceUpdateEvent,
  SocialUpdateEvent,
  TokenCreatedEvent,
  TokenListedEvent,
  TokenMove,
  TradeEvent,
} from '../protocol/events.js';
import { MARKET_TOKEN } from '../protocol/events.js';
import { Market, type TokenState } from './market.js';
import { Rng } from '../core/rng.js';

/**
 * Event kinds a publisher mixes (the `events` of the control API). Market statistics are not a
 * kind: they are published on their own timer.
 */
export const EVENT_KINDS = ['trade', 'price', 'holders', 'liquidity', 'creation', 'metadata', 'social', 'favorites', 'balances'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
export type EventWeights = Readonly<Record<EventKind, number>>;

/** Default mix, relative weights: trades and prices dominate, as on the live system. */
export const DEFAULT_EVENT_WEIGHTS: EventWeights = Object.freeze({
  trade: 40,
  price: 30,
  holders: 6,
  liquidity: 8,
  creation: 1,
  metadata: 2,
  social: 3,
  favorites: 4,
  balances: 6,
});

const SOURCE = 'simulator';
const TRADER_POOL = 256;
const USER_POOL = 200;
const PLATFORMS = ['twitter', 'telegram', 'discord'] as const;
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
const HEX = '0123456789abcdef';

function randomString(rng: Rng, alphabet: string, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

function roundPrice(x: number): number {
  return x >= 1 ? Math.round(x * 1e4) / 1e4 : Math.round(x * 1e10) / 1e10;
}
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
function round8(x: number): number {
  return Math.round(x * 1e8) / 1e8;
}

export interface GeneratorOptions {
  readonly seed: number;
  /** Time the market starts at, ms. */
  readonly now: number;
}

export class EventGenerator {
  readonly market: Market;
  private readonly rng: Rng;
  /** Makes ids unique across processes; the per-event part is a counter. */
  private readonly idPrefix: string;
  private readonly txPrefix: string;
  private readonly traders: readonly string[];
  private readonly users: readonly string[];
  private seq = 0;
  private kinds: EventKind[] = [];
  private cumulative = new Float64Array(0);
  private totalWeight = 0;
  private tokens: TokenState[] = [];
  private lastCreated: string | null = null;

  constructor(opts: GeneratorOptions) {
    this.rng = new Rng(opts.seed);
    this.market = new Market(this.rng, opts.now);
    this.idPrefix = `${randomString(this.rng, BASE36, 8)}-`;
    this.txPrefix = randomString(this.rng, HEX, 51);
    const traders: string[] = [];
    for (let i = 0; i < TRADER_POOL; i++) traders.push(`bc1q${randomString(this.rng, BASE36, 38)}`);
    this.traders = traders;
    const users: string[] = [];
    for (let i = 0; i < USER_POOL; i++) users.push(`user_${String(i + 1).padStart(4, '0')}`);
    this.users = users;
  }

  /** Events generated so far. */
  get generated(): number {
    return this.seq;
  }

  setTokens(symbols: readonly string[], now: number): void {
    this.tokens = symbols.map((s) => this.market.token(s, now));
  }

  get activeTokens(): readonly string[] {
    return this.tokens.map((t) => t.symbol);
  }

  /** Sets the mix; kinds with weight 0 (or absent) are not generated. */
  setWeights(weights: Partial<EventWeights>): void {
    const kinds: EventKind[] = [];
    const cum: number[] = [];
    let total = 0;
    for (const k of EVENT_KINDS) {
      const w = weights[k] ?? 0;
      if (w > 0) {
        total += w;
        kinds.push(k);
        cum.push(total);
      }
    }
    this.kinds = kinds;
    this.cumulative = Float64Array.from(cum);
    this.totalWeight = total;
  }

  /** The next event at time `now` (ms); `setTokens` and `setWeights` must have been called. */
  next(now: number): OdinEvent {
    const s = this.tokens[this.rng.int(this.tokens.length)]!;
    switch (this.pickKind()) {
      case 'trade':
        return this.trade(s, now);
      case 'price':
        return this.price(s, now);
      case 'holders':
        return this.holders(s, now);
      case 'liquidity':
        return this.liquidity(s, now);
      case 'creation':
        return this.creation(s, now);
      case 'metadata':
        return this.metadata(s, now);
      case 'social':
        return this.social(s, now);
      case 'favorites':
        return this.favorites(s, now);
      case 'balances':
        return this.balance(s, now);
    }
  }

  /** The market summary over the active tokens; resets their trade counters. */
  marketStats(now: number, intervalMs: number): MarketStatsEvent {
    let cap = 0;
    let volume = 0;
    let trades = 0;
    let gainer: TokenState | null = null;
    let loser: TokenState | null = null;
    for (const s of this.tokens) {
      cap += s.price * s.supply;
      volume += s.volume24h;
      trades += s.trades;
      s.trades = 0;
      if (gainer === null || change24h(s) > change24h(gainer)) gainer = s;
      if (loser === null || change24h(s) < change24h(loser)) loser = s;
    }
    return {
      id: this.nextId(),
      type: 'market:stats',
      token: MARKET_TOKEN,
      timestamp: now,
      source: SOURCE,
      data: {
        totalMarketCap: round2(cap),
        totalVolume24h: round2(volume),
        activeTokens: this.tokens.length,
        trades,
        intervalMs,
        topGainer: gainer && move(gainer),
        topLoser: loser && move(loser),
      },
    };
  }

  private pickKind(): EventKind {
    const x = this.rng.next() * this.totalWeight;
    const cum = this.cumulative;
    let i = 0;
    while (i < cum.length - 1 && x >= cum[i]!) i++;
    return this.kinds[i]!;
  }

  private nextId(): string {
    return this.idPrefix + (this.seq++).toString(36);
  }

  private txId(): string {
    // 51 fixed hex digits + 13 from the counter: 64 hex digits, unique per event.
    return this.txPrefix + (0x10000000000000 + this.seq).toString(16).slice(1);
  }

  private trade(s: TokenState, now: number): TradeEvent {
    this.market.step(s, now);
    const btc = this.market.token('BTC', now).price;
    const valueUsd = s.price * s.supply * 1e-7 * (0.05 + this.rng.next() * 2);
    const amountTokens = valueUsd / s.price;
    s.volume24h += valueUsd;
    s.trades++;
    const txId = this.txId();
    return {
      id: this.nextId(),
      type: 'trade:new',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: {
        side: this.rng.next() < 0.5 ? 'buy' : 'sell',
        price: roundPrice(s.price),
        amountBtc: round8(valueUsd / btc),
        amountTokens: round8(amountTokens),
        valueUsd: round2(valueUsd),
        trader: this.rng.pick(this.traders),
        txId,
      },
    };
  }

  private price(s: TokenState, now: number): PriceUpdateEvent {
    this.market.step(s, now);
    return {
      id: this.nextId(),
      type: 'price:update',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: {
        price: roundPrice(s.price),
        volume24h: round2(s.volume24h),
        marketCap: round2(s.price * s.supply),
        priceChange24h: change24h(s),
        high24h: roundPrice(s.high24h),
        low24h: roundPrice(s.low24h),
      },
    };
  }

  private holders(s: TokenState, now: number): HoldersUpdateEvent {
    let change = this.rng.int(21) - 8;
    if (s.holders + change < 1) change = 1 - s.holders;
    s.holders += change;
    return {
      id: this.nextId(),
      type: 'holders:update',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: { holders: s.holders, change },
    };
  }

  private liquidity(s: TokenState, now: number): LiquidityEvent {
    const add = this.rng.next() < 0.55;
    const share = 0.001 + this.rng.next() * 0.02;
    const amountBtc = s.liquidityBtc * share;
    const amountTokens = s.liquidityTokens * share;
    s.liquidityBtc += add ? amountBtc : -amountBtc;
    s.liquidityTokens += add ? amountTokens : -amountTokens;
    const txId = this.txId();
    return {
      id: this.nextId(),
      type: add ? 'liquidity:add' : 'liquidity:remove',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: {
        provider: this.rng.pick(this.traders),
        amountBtc: round8(amountBtc),
        amountTokens: round8(amountTokens),
        totalLiquidityBtc: round8(s.liquidityBtc),
        totalLiquidityTokens: round8(s.liquidityTokens),
        txId,
      },
    };
  }

  /** A new token appears (`token:created`); sometimes the last one created gets listed. */
  private creation(s: TokenState, now: number): TokenCreatedEvent | TokenListedEvent {
    const listed = this.lastCreated;
    if (listed !== null && this.rng.next() < 0.4) {
      this.lastCreated = null;
      const price = roundPrice(10 ** this.rng.range(-6, -2));
      return {
        id: this.nextId(),
        type: 'token:listed',
        token: listed,
        timestamp: now,
        source: SOURCE,
        data: { symbol: listed, price, marketCap: round2(price * 1e9), initialLiquidityBtc: round8(this.rng.range(0.1, 5)) },
      };
    }
    const symbol = this.market.freshSymbol();
    this.lastCreated = symbol;
    return {
      id: this.nextId(),
      type: 'token:created',
      token: symbol,
      timestamp: now,
      source: SOURCE,
      data: {
        name: `${s.name} ${symbol}`,
        symbol,
        creator: this.rng.pick(this.traders),
        initialPrice: roundPrice(10 ** this.rng.range(-6, -2)),
        totalSupply: 1_000_000_000,
      },
    };
  }

  private metadata(s: TokenState, now: number): MetadataUpdateEvent {
    return {
      id: this.nextId(),
      type: 'metadata:update',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: { name: s.name, description: s.description, website: s.website, imageUrl: s.imageUrl, tags: s.tags },
    };
  }

  private social(s: TokenState, now: number): SocialUpdateEvent {
    s.followers += this.rng.int(25) - 5;
    if (s.followers < 0) s.followers = 0;
    s.mentions24h = Math.max(0, s.mentions24h + this.rng.int(41) - 20);
    return {
      id: this.nextId(),
      type: 'social:update',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: {
        platform: this.rng.pick(PLATFORMS),
        followers: s.followers,
        mentions24h: s.mentions24h,
        sentiment: round2(Math.tanh(this.rng.gauss() * 0.6 + s.trend * 10)),
      },
    };
  }

  private favorites(s: TokenState, now: number): FavoritesUpdateEvent {
    const add = s.favorites === 0 || this.rng.next() < 0.6;
    s.favorites += add ? 1 : -1;
    return {
      id: this.nextId(),
      type: 'favorites:update',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: { userId: this.rng.pick(this.users), action: add ? 'add' : 'remove', favorites: s.favorites },
    };
  }

  private balance(s: TokenState, now: number): BalanceUpdateEvent {
    const btc = this.market.token('BTC', now).price;
    const balance = (s.supply * 1e-6 * this.rng.next()) / (1 + this.rng.int(10));
    const valueUsd = balance * s.price;
    return {
      id: this.nextId(),
      type: 'balance:update',
      token: s.symbol,
      timestamp: now,
      source: SOURCE,
      data: {
        userId: this.rng.pick(this.users),
        balance: round8(balance),
        balanceBtc: round8(valueUsd / btc),
        valueUsd: round2(valueUsd),
        change: round8(balance * (this.rng.next() - 0.5) * 0.2),
      },
    };
  }
}

function change24h(s: TokenState): number {
  return round2((s.price / s.open24h - 1) * 100);
}

function move(s: TokenState): TokenMove {
  return { token: s.symbol, priceChange24h: change24h(s) };
}
