/**
 * A small built-in feed for `odin-ws dev`: simulated trades and price updates on a few tokens,
 * published through the gateway's own HTTP API, exactly as an external publisher would.
 */
import type { Logger } from '../core/stats.js';

export interface DemoFeed {
  readonly description: string;
  close(): Promise<void>;
}

const TOKENS: Record<string, number> = { BTC: 43250, ETH: 2580.5, ODIN: 0.125, SOL: 98.75, DOGE: 0.078 };

export async function startDemoFeed(opts: { gatewayUrl: string; apiKey: string; log: Logger; intervalMs?: number }): Promise<DemoFeed> {
  const prices = { ...TOKENS };
  let n = 0;
  const symbols = Object.keys(prices);
  const timer = setInterval(() => {
    const symbol = symbols[n++ % symbols.length]!;
    const price = (prices[symbol] = prices[symbol]! * (1 + (Math.random() - 0.5) * 0.002));
    const amount = Math.random() * 2;
    const ts = Date.now();
    const data = { type: 'trade:new', id: `${ts}_${n}`, tokenId: symbol, side: Math.random() < 0.5 ? 'buy' : 'sell', price, amountToken: amount, amountBtc: (amount * price) / prices.BTC!, timestamp: ts, source: 'demo' };
    fetch(`${opts.gatewayUrl}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': opts.apiKey },
      body: JSON.stringify({ channel: `${symbol}.trade`, data, idempotency_key: data.id }),
    }).catch((err: unknown) => opts.log.warn({ err }, 'demo feed publish failed'));
  }, opts.intervalMs ?? 200);
  return {
    description: `trades on ${symbols.map((s) => s + '.trade').join(', ')}, 5/s`,
    async close() {
      clearInterval(timer);
    },
  };
}
