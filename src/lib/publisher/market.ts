/**
 * The simulated market: one mutable state per token, moved by a random walk with a per-token
 * trend and volatility. States are created once and mutated in place, so producing an event
 * allocates only the event.
 */
import { Rng } from '../core/rng.js';

/** Starting prices (USD) of the default tokens, as in the existing Odin simulator. */
export const DEFAULT_TOKENS: readonly DefaultToken[] = [
  { symbol: 'BTC', name: 'Bitcoin', price: 43250, supply: 19_600_000, volatility: 0.01 },
  { symbol: 'ETH', name: 'Ethereum', price: 2580.5, supply: 120_000_000, volatility: 0.013 },
  { symbol: 'ODIN', name: 'Odin', price: 0.125, supply: 1_000_000_000, volatility: 0.04 },
  { symbol: 'SOL', name: 'Solana', price: 98.75, supply: 440_000_000, volatility: 0.018 },
  { symbol: 'DOGE', name: 'Dogecoin', price: 0.078, supply: 143_000_000_000, volatility: 0.025 },
];
export const DEFAULT_TOKEN_SYMBOLS: readonly string[] = DEFAULT_TOKENS.map((t) => t.symbol);

interface DefaultToken {
  readonly symbol: string;
  readonly name: string;
  readonly price: number;
  readonly supply: number;
  /** Standard deviation of the log price per √hour. */
  readonly volatility: number;
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 24 * MS_PER_HOUR;
/** Chance per step that a token's trend is drawn again. */
const TREND_CHANGE_PROBABILITY = 0.002;

export interface TokenState {
  readonly symbol: string;
  readonly name: string;
  readonly description: string;
  readonly website: string;
  readonly imageUrl: string;
  readonly tags: readonly string[];
  readonly supply: number;
  /** Log-price drift per hour. */
  trend: number;
  /** Log-price standard deviation per √hour. */
  readonly volatility: number;
  price: number;
  /** Price 24 h ago, approximated by an exponential moving reference. */
  open24h: number;
  high24h: number;
  low24h: number;
  volume24h: number;
  holders: number;
  liquidityBtc: number;
  liquidityTokens: number;
  followers: number;
  mentions24h: number;
  favorites: number;
  /** Trades since the last market summary. */
  trades: number;
  /** Time of the last random-walk step, ms. */
  lastStep: number;
}

const CONSONANTS = 'BDFGKLMNPRSTVZ';
const VOWELS = 'AEIOU';
const SYLLABLES = CONSONANTS.length * VOWELS.length;
const DESCRIPTIONS = [
  'Community token of the Odin launchpad.',
  'A memecoin with a plan.',
  'Governance token for an on-chain exchange.',
  'Utility token for a Bitcoin layer-2 game.',
  'Fair-launched rune with no team allocation.',
];
const TAG_SETS: readonly (readonly string[])[] = [['meme'], ['defi', 'governance'], ['gaming'], ['rune', 'fair-launch'], ['layer-2']];

/** The n-th generated symbol (n ≥ 0): pronounceable, unique per n (`BABA`, `BABE`, …). */
export function generatedSymbol(n: number): string {
  let s = '';
  let i = n;
  let syllables = 0;
  do {
    const k = i % SYLLABLES;
    s += CONSONANTS[Math.floor(k / VOWELS.length)] + VOWELS[k % VOWELS.length]!;
    i = Math.floor(i / SYLLABLES);
    syllables++;
  } while (i > 0 || syllables < 2);
  return s;
}

function titleCase(symbol: string): string {
  return symbol.charAt(0) + symbol.slice(1).toLowerCase();
}

/** A hash of a symbol, to seed its own parameters: the same symbol always looks the same. */
function symbolSeed(symbol: string): number {
  let h = 2166136261;
  for (let i = 0; i < symbol.length; i++) h = Math.imul(h ^ symbol.charCodeAt(i), 16777619);
  return h >>> 0;
}

export class Market {
  private readonly states = new Map<string, TokenState>();
  private generated = 0;

  constructor(
    private readonly rng: Rng,
    now: number,
  ) {
    for (const t of DEFAULT_TOKENS) this.states.set(t.symbol, this.create(t.symbol, t.name, t.price, t.supply, t.volatility, now));
  }

  /** The state of a token, created on first use (unknown symbols get generated parameters). */
  token(symbol: string, now: number): TokenState {
    let s = this.states.get(symbol);
    if (s === undefined) {
      const r = new Rng(symbolSeed(symbol));
      const price = 10 ** r.range(-4, 2);
      const supply = Math.round(10 ** r.range(6, 10));
      s = this.create(symbol, titleCase(symbol), price, supply, r.range(0.02, 0.08), now);
      this.states.set(symbol, s);
    }
    return s;
  }

  /** `count` symbols: the defaults first, then generated ones. */
  symbols(count: number): string[] {
    const out = DEFAULT_TOKEN_SYMBOLS.slice(0, count);
    for (let n = 0; out.length < count; n++) {
      const s = generatedSymbol(n);
      if (!DEFAULT_TOKEN_SYMBOLS.includes(s)) out.push(s);
    }
    return out;
  }

  /** A symbol no token of the market has yet (for creation events); not registered. */
  freshSymbol(): string {
    for (;;) {
      const s = generatedSymbol(100_000 + this.generated++);
      if (!this.states.has(s)) return s;
    }
  }

  /** Moves the token's price one random-walk step to time `now` (ms). */
  step(s: TokenState, now: number): void {
    const dtHours = Math.max(now - s.lastStep, 1) / MS_PER_HOUR;
    s.lastStep = now;
    if (this.rng.next() < TREND_CHANGE_PROBABILITY) s.trend = this.rng.gauss() * s.volatility * 0.2;
    s.price *= Math.exp(s.trend * dtHours + s.volatility * Math.sqrt(dtHours) * this.rng.gauss());
    if (s.price < 1e-8) s.price = 1e-8;
    if (s.price > s.high24h) s.high24h = s.price;
    if (s.price < s.low24h) s.low24h = s.price;
    const decay = Math.exp((-dtHours * MS_PER_HOUR) / MS_PER_DAY);
    s.open24h = s.open24h * decay + s.price * (1 - decay);
    s.volume24h *= decay;
  }

  private create(symbol: string, name: string, price: number, supply: number, volatility: number, now: number): TokenState {
    const r = new Rng(symbolSeed(symbol) ^ 0x9e3779b9);
    const lower = symbol.toLowerCase();
    const k = r.int(DESCRIPTIONS.length);
    const open = price * Math.exp(r.gauss() * volatility * 2);
    return {
      symbol,
      name,
      description: DESCRIPTIONS[k]!,
      website: `https://${lower}.example.org`,
      imageUrl: `https://img.odin.example/${lower}.png`,
      tags: TAG_SETS[k]!,
      supply,
      trend: r.gauss() * volatility * 0.2,
      volatility,
      price,
      open24h: open,
      high24h: Math.max(open, price) * (1 + r.range(0.005, 0.03)),
      low24h: Math.min(open, price) * (1 - r.range(0.005, 0.03)),
      volume24h: price * supply * r.range(0.005, 0.05),
      holders: Math.round(10 ** r.range(2, 6)),
      liquidityBtc: r.range(1, 500),
      liquidityTokens: supply * r.range(0.001, 0.05),
      followers: Math.round(10 ** r.range(2, 6)),
      mentions24h: r.int(5000),
      favorites: r.int(10000),
      trades: 0,
      lastStep: now,
    };
  }
}
