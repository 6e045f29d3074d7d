/**
 * Microbenchmark of protocol/json-text.ts against the built-ins it replaced on the publish paths:
 * a server API publish body and a Centrifugo publish command (parse keeping `data` as text vs
 * JSON.parse + JSON.stringify of data), and reading an Odin push's `type` from the text.
 *   npm run build && node dist/bench/micro/json-text.js [iterations=200000]
 */
import { parseJsonKeeping, topLevelString, type RawJson } from '../../src/lib/protocol/json-text.js';

const [n = 200_000] = process.argv.slice(2).map(Number);
const data =
  '{"type":"price:update","tokenId":"BTC","price":43250.5,"volume24h":1234567.89,"marketCap":845000000000,' +
  '"priceChange24h":-1.25,"timestamp":1732350000123,"source":"simulator","nonce":"1732350000123_abc"}';
const body = `{"channel":"BTC.price","data":${data},"idempotency_key":"k-1"}`;
const command = `{"id":17,"publish":{"channel":"BTC.price","data":${data}}}`;

function time(name: string, f: () => unknown): void {
  for (let i = 0; i < 10_000; i++) f();
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < n; i++) sink += f() === undefined ? 0 : 1;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/op${sink < 0 ? '!' : ''}`);
}

const isData = (k: string): boolean => k === 'data';
time('API body: JSON.parse + JSON.stringify(data) (before)', () => JSON.stringify((JSON.parse(body) as { data: unknown }).data));
time('API body: parseJsonKeeping, data kept as text (now)', () => (parseJsonKeeping(body, isData) as { data: RawJson }).data.text);
time('client command: JSON.parse + JSON.stringify(data) (before)', () =>
  JSON.stringify((JSON.parse(command) as { publish: { data: unknown } }).publish.data),
);
time(
  'client command: parseJsonKeeping (now)',
  () => (parseJsonKeeping(command, isData) as { publish: { data: RawJson } }).publish.data.text,
);
time('Odin push type: topLevelString(data, "type") (once per publication)', () => topLevelString(data, 'type'));
