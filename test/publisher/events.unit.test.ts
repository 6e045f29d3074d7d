import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CHANNEL_EVENT_OF_TYPE,
  EVENT_TYPES,
  channelToSubject,
  eventChannel,
  eventSubject,
  subjectToChannel,
  type OdinEvent,
} from '../../src/lib/protocol/events.js';
import { DEFAULT_EVENT_WEIGHTS, EventGenerator } from '../../src/lib/publisher/generator.js';
import { DEFAULT_TOKEN_SYMBOLS, generatedSymbol } from '../../src/lib/publisher/market.js';
import { RouteCache } from '../../src/lib/publisher/routes.js';
import { schemaFor } from './event-schemas.js';

const T0 = 1_700_000_000_000;

function sample(n: number, tokens: readonly string[] = DEFAULT_TOKEN_SYMBOLS, seed = 42): OdinEvent[] {
  const gen = new EventGenerator({ seed, now: T0 });
  gen.setTokens(tokens, T0);
  gen.setWeights(DEFAULT_EVENT_WEIGHTS);
  const out: OdinEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push(gen.next(T0 + i));
    if (i % 5000 === 4999) out.push(gen.marketStats(T0 + i, 30_000));
  }
  return out;
}

describe('Odin events', () => {
  const events = sample(20_000);

  it('every generated event matches the schema of its type', () => {
    for (const e of events) {
      const r = schemaFor(e.type).safeParse(e);
      assert.ok(r.success, `${e.type} ${JSON.stringify(e)}: ${r.success ? '' : r.error.message}`);
    }
  });

  it('covers every event type', () => {
    const seen = new Set(events.map((e) => e.type));
    for (const t of EVENT_TYPES) assert.ok(seen.has(t), `no ${t} among the samples`);
  });

  it('ids are unique', () => {
    assert.equal(new Set(events.map((e) => e.id)).size, events.length);
  });

  it('survives a JSON round trip unchanged', () => {
    for (const e of events.slice(0, 2000)) assert.deepEqual(JSON.parse(JSON.stringify(e)), e);
  });

  it('default tokens start at the Odin prices', () => {
    const gen = new EventGenerator({ seed: 1, now: T0 });
    const expected: Record<string, number> = { BTC: 43250, ETH: 2580.5, ODIN: 0.125, SOL: 98.75, DOGE: 0.078 };
    for (const [sym, price] of Object.entries(expected)) assert.equal(gen.market.token(sym, T0).price, price);
  });

  it('prices follow a random walk: small steps, no jumps', () => {
    const btc = events
      .filter((e) => e.token === 'BTC' && e.type === 'price:update')
      .map((e) => (e.type === 'price:update' ? e.data.price : 0));
    assert.ok(btc.length > 100);
    for (let i = 1; i < btc.length; i++)
      assert.ok(Math.abs(btc[i]! / btc[i - 1]! - 1) < 0.01, `BTC jumped from ${btc[i - 1]} to ${btc[i]}`);
    assert.ok(Math.abs(btc[0]! / 43250 - 1) < 0.01);
  });

  it('channels and subjects follow the Odin naming', () => {
    const routes = new RouteCache();
    for (const e of events) {
      const channel = eventChannel(e);
      if (e.type === 'market:stats') {
        assert.equal(channel, 'market.stats');
        assert.equal(eventSubject(e), 'odin.market.statistics');
      } else if (e.type === 'balance:update') {
        assert.equal(channel, `${e.token}.balances.${e.data.userId}`);
      } else {
        assert.equal(channel, `${e.token}.${CHANNEL_EVENT_OF_TYPE[e.type]}`);
      }
      assert.equal(eventSubject(e), channelToSubject(channel));
      assert.equal(subjectToChannel(eventSubject(e)), channel);
      assert.deepEqual(routes.route(e), { channel, subject: eventSubject(e) });
    }
    assert.equal(channelToSubject('BTC.trade'), 'odin.token.BTC.trade');
    assert.equal(subjectToChannel('odin.token.BTC.trade'), 'BTC.trade');
    assert.equal(subjectToChannel('other.BTC.trade'), null);
  });

  it('generates more tokens on demand, with unique symbols and plausible prices', () => {
    const gen = new EventGenerator({ seed: 7, now: T0 });
    const symbols = gen.market.symbols(300);
    assert.deepEqual(symbols.slice(0, 5), [...DEFAULT_TOKEN_SYMBOLS]);
    assert.equal(new Set(symbols).size, 300);
    for (const s of symbols) assert.match(s, /^[A-Z0-9]{1,16}$/);
    gen.setTokens(symbols, T0);
    gen.setWeights({ price: 1 });
    for (let i = 0; i < 3000; i++) {
      const e = gen.next(T0 + i);
      assert.ok(schemaFor(e.type).safeParse(e).success);
    }
    assert.notEqual(generatedSymbol(0), generatedSymbol(70));
  });

  it('respects the event mix', () => {
    const gen = new EventGenerator({ seed: 3, now: T0 });
    gen.setTokens(['BTC'], T0);
    gen.setWeights({ trade: 1, balances: 1 });
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const t = gen.next(T0).type;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['balance:update', 'trade:new']);
    assert.ok(Math.abs(counts.get('trade:new')! - 2000) < 200);
  });

  it('is reproducible with a seed', () => {
    const a = sample(500, DEFAULT_TOKEN_SYMBOLS, 9).map((e) => ({ ...e, id: '' }));
    const b = sample(500, DEFAULT_TOKEN_SYMBOLS, 9).map((e) => ({ ...e, id: '' }));
    assert.deepEqual(a, b);
  });
});
