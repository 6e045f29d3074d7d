/**
 * Generation cost: events/s the generator makes on one core, with and without serialization,
 * and heap retained per event (the event itself; nothing else should be left behind).
 *
 *   npm run build && node --expose-gc dist/bench/micro/publisher-generate.js
 */
import { DEFAULT_EVENT_WEIGHTS, EventGenerator } from '../../src/lib/publisher/generator.js';
import { DEFAULT_TOKEN_SYMBOLS } from '../../src/lib/publisher/market.js';
import type { OdinEvent } from '../../src/lib/protocol/events.js';

const N = 200_000;
const gc = (globalThis as { gc?: () => void }).gc;

function generator(): EventGenerator {
  const g = new EventGenerator({ seed: 1, now: Date.now() });
  g.setTokens(DEFAULT_TOKEN_SYMBOLS, Date.now());
  g.setWeights(DEFAULT_EVENT_WEIGHTS);
  return g;
}

function rate(label: string, fn: (g: EventGenerator, now: number) => void): void {
  const g = generator();
  for (let i = 0; i < 20_000; i++) fn(g, Date.now()); // warm-up
  const t0 = performance.now();
  const now = Date.now();
  for (let i = 0; i < N; i++) fn(g, now + (i >> 6));
  const ms = performance.now() - t0;
  console.log(
    `${label.padEnd(28)} ${Math.round((N / ms) * 1000).toLocaleString('en-US')} events/s  (${((ms * 1e6) / N).toFixed(0)} ns/event)`,
  );
}

let sink = 0;
rate('generate', (g, now) => void (sink += g.next(now).timestamp));
rate('generate + JSON.stringify', (g, now) => void (sink += JSON.stringify(g.next(now)).length));

if (gc) {
  const g = generator();
  const keep: OdinEvent[] = new Array<OdinEvent>(N);
  gc();
  const before = process.memoryUsage().heapUsed;
  const now = Date.now();
  for (let i = 0; i < N; i++) keep[i] = g.next(now + (i >> 6));
  gc();
  const retained = (process.memoryUsage().heapUsed - before) / N;
  const json = keep.reduce((n, e) => n + JSON.stringify(e).length, 0) / N;
  console.log(`heap retained per event      ${retained.toFixed(0)} bytes (its JSON: ${json.toFixed(0)} bytes)`);
} else {
  console.log('(run with --expose-gc for heap retained per event)');
}
if (sink === 0) console.log('');
