/**
 * Zod schemas of every Odin event type, written independently of the TypeScript types so the
 * tests check generated events against the documented shapes (docs/publisher.md).
 */
import { z } from 'zod';
import type { EventType } from '../../src/lib/protocol/events.js';

const num = z.number().finite();
const positive = num.positive();
const nonNegative = num.min(0);
const symbol = z.string().regex(/^[A-Z0-9]{1,16}$/);
const address = z.string().regex(/^bc1q[0-9a-z]{38}$/);
const txId = z.string().regex(/^[0-9a-f]{64}$/);
const userId = z.string().regex(/^user_\d{4}$/);

function envelope<T extends EventType, D extends z.ZodType>(type: T | readonly T[], data: D, token: z.ZodType = symbol) {
  return z.strictObject({
    id: z.string().min(1),
    type: Array.isArray(type) ? z.enum(type as readonly T[] as [T, ...T[]]) : z.literal(type as T),
    token,
    timestamp: z.number().int().min(1_500_000_000_000),
    source: z.literal('simulator'),
    data,
  });
}

const move = z.strictObject({ token: symbol, priceChange24h: num }).nullable();

export const EVENT_SCHEMAS = {
  'trade:new': envelope(
    'trade:new',
    z.strictObject({
      side: z.enum(['buy', 'sell']),
      price: positive,
      amountBtc: nonNegative,
      amountTokens: positive,
      valueUsd: nonNegative,
      trader: address,
      txId,
    }),
  ),
  'price:update': envelope(
    'price:update',
    z.strictObject({
      price: positive,
      volume24h: nonNegative,
      marketCap: nonNegative,
      priceChange24h: num,
      high24h: positive,
      low24h: positive,
    }),
  ),
  'holders:update': envelope('holders:update', z.strictObject({ holders: z.number().int().min(1), change: z.number().int() })),
  'liquidity:add': envelope(
    ['liquidity:add', 'liquidity:remove'],
    z.strictObject({
      provider: address,
      amountBtc: nonNegative,
      amountTokens: nonNegative,
      totalLiquidityBtc: num,
      totalLiquidityTokens: num,
      txId,
    }),
  ),
  'token:created': envelope(
    'token:created',
    z.strictObject({ name: z.string().min(1), symbol, creator: address, initialPrice: positive, totalSupply: positive }),
  ),
  'token:listed': envelope(
    'token:listed',
    z.strictObject({ symbol, price: positive, marketCap: nonNegative, initialLiquidityBtc: positive }),
  ),
  'metadata:update': envelope(
    'metadata:update',
    z.strictObject({ name: z.string().min(1), description: z.string(), website: z.url(), imageUrl: z.url(), tags: z.array(z.string()) }),
  ),
  'social:update': envelope(
    'social:update',
    z.strictObject({
      platform: z.enum(['twitter', 'telegram', 'discord']),
      followers: z.number().int().min(0),
      mentions24h: z.number().int().min(0),
      sentiment: num.min(-1).max(1),
    }),
  ),
  'favorites:update': envelope(
    'favorites:update',
    z.strictObject({ userId, action: z.enum(['add', 'remove']), favorites: z.number().int().min(0) }),
  ),
  'balance:update': envelope(
    'balance:update',
    z.strictObject({ userId, balance: nonNegative, balanceBtc: nonNegative, valueUsd: nonNegative, change: num }),
  ),
  'market:stats': envelope(
    'market:stats',
    z.strictObject({
      totalMarketCap: nonNegative,
      totalVolume24h: nonNegative,
      activeTokens: z.number().int().min(1),
      trades: z.number().int().min(0),
      intervalMs: z.number().int().positive(),
      topGainer: move,
      topLoser: move,
    }),
    z.literal('*'),
  ),
} as const;

/** The schema for an event's type (liquidity:remove shares liquidity:add's). */
export function schemaFor(type: string): z.ZodType {
  const key = type === 'liquidity:remove' ? 'liquidity:add' : type;
  const s = (EVENT_SCHEMAS as Record<string, z.ZodType>)[key];
  if (s === undefined) throw new Error(`no schema for event type ${type}`);
  return s;
}
