/** Kafka record → channel mapping, partition progress and the Kafka options: no broker needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordMapper, DEFAULT_KAFKA_RULES } from '../../src/lib/kafka/mapping.js';
import { PartitionProgress } from '../../src/lib/kafka/progress.js';
import { loadKafkaSection, resolveIngestMode } from '../../src/lib/kafka/config.js';
import { loadGatewayConfig } from '../../src/apps/gateway/options.js';
import { ConfigError } from '../../src/lib/core/options.js';
import { ODIN_TOPICS } from '../../src/lib/kafka/topics.js';
import { recordTag, SourceChain, sourceId } from '../../src/lib/kafka/source-chain.js';
import { partitionForKey } from '../../src/lib/kafka/client.js';
import {
  decodeSourcePositions,
  encodeSourcePositions,
  FATE_APPEND,
  FATE_DUPLICATE,
  FATE_GAP,
  fenceSources,
  MAX_FENCED_SOURCES,
} from '../../src/lib/core/source-fence.js';

import { ISSUE_20_ROWS } from '../testkit/json-text-arb.js';

const b = (s: string): Buffer => Buffer.from(s);

test('default mapping: the Go gateway channels, the value as it is, its type and id', () => {
  const m = new RecordMapper();
  const value =
    '{"type":"TRADE_EXECUTED","timestamp":1700000000000,"data":{"price":1.5,"amount":2,"buyer":"a","seller":"b","txHash":"0x1"}}';
  assert.deepEqual(m.map('odin.trades', b('BTC'), b(value), 5), {
    channel: 'BTC.trade',
    data: value,
    type: 'TRADE_EXECUTED',
    eventId: undefined,
    timestamp: 1700000000000,
  });
  const suffix = Object.fromEntries(ODIN_TOPICS.map((t) => [t.topic, t.suffix]));
  assert.equal(suffix['odin.community'], 'community');
  const ok = (topic: string, type: string, data = '{}'): unknown => {
    const r = m.map(topic, b('ETH'), b(`{"type":"${type}","timestamp":1,"data":${data},"id":"e1"}`), 0);
    return typeof r === 'string' ? r : r.channel;
  };
  assert.equal(ok('odin.liquidity', 'LIQUIDITY_REBALANCED'), 'ETH.liquidity');
  assert.equal(ok('odin.community', 'COMMENT_POSTED'), 'ETH.community');
  assert.equal(ok('odin.trades', 'trade:new'), 'ETH.trade');
  assert.equal(ok('odin.analytics', 'market:stats'), 'market.stats');
  assert.equal(ok('odin.analytics', 'TRENDING_UPDATED'), 'ETH.analytics');
  // Balances are personal: the user's channel, never a token-wide one.
  assert.equal(ok('odin.balances', 'BALANCE_UPDATED', '{"user":"u1","balance":1,"change":1}'), 'ETH.balances.u1');
  assert.equal(ok('odin.balances', 'balance:update', '{"userId":"u2"}'), 'ETH.balances.u2');
  assert.equal(ok('odin.balances', 'TRANSFER_COMPLETED', '{"from":"a","to":"b"}'), 'no_key');
  const withId = m.map('odin.trades', b('BTC'), b('{"type":"trade:new","timestamp":2,"id":"ev-9","data":{}}'), 0);
  assert.equal(typeof withId === 'object' && withId.eventId, 'ev-9');
  assert.equal(DEFAULT_KAFKA_RULES.length, ODIN_TOPICS.length + 1);
});

test('bad records have a reason, never an exception', () => {
  const m = new RecordMapper(DEFAULT_KAFKA_RULES, 100);
  const good = '{"type":"TRADE_EXECUTED","timestamp":1,"data":{}}';
  assert.equal(m.map('odin.trades', b('BTC'), b('not json'), 0), 'not_json');
  assert.equal(m.map('odin.trades', b('BTC'), b('[1,2]'), 0), 'not_json');
  assert.equal(m.map('odin.trades', b('BTC'), undefined, 0), 'not_json');
  assert.equal(m.map('odin.trades', undefined, b(good), 0), 'no_key');
  assert.equal(m.map('odin.trades', b(''), b(good), 0), 'no_key');
  assert.equal(m.map('odin.trades', b('BT C'), b(good), 0), 'bad_channel');
  assert.equal(m.map('odin.trades', b('a.b'), b(good), 0), 'bad_channel');
  assert.equal(m.map('odin.trades', b('BTC'), b('{"type":"LIQUIDITY_ADDED","data":{}}'), 0), 'unknown_type');
  assert.equal(m.map('odin.trades', b('BTC'), b('{"data":{}}'), 0), 'unknown_type');
  assert.equal(m.map('odin.trades', b('BTC'), b(`{"type":"TRADE_EXECUTED","pad":"${'x'.repeat(100)}"}`), 0), 'too_large');
  // No timestamp in the value: the record's.
  const r = m.map('odin.trades', b('BTC'), b('{"type":"TRADE_EXECUTED"}'), 42);
  assert.equal(typeof r === 'object' && r.timestamp, 42);
});

test('custom rules: {key} and {type} placeholders, type filters, unknown placeholders refused', () => {
  const m = new RecordMapper([
    { topic: 'prices', channel: 'px.{key}', types: ['tick'] },
    { topic: 'prices', channel: 'other.{type}' },
  ]);
  const r1 = m.map('prices', b('SOL'), b('{"type":"tick"}'), 0);
  assert.equal(typeof r1 === 'object' && r1.channel, 'px.SOL');
  const r2 = m.map('prices', undefined, b('{"type":"halt"}'), 0);
  assert.equal(typeof r2 === 'object' && r2.channel, 'other.halt');
  assert.deepEqual(m.topics, ['prices']);
  assert.throws(() => new RecordMapper([{ topic: 't', channel: '{nope}.x' }]), /unknown placeholder \{nope\}/);
  assert.throws(() => new RecordMapper([]), /at least one rule/);
});

test('partition progress: only fully settled prefixes are committed or resumed from', () => {
  const p = new PartitionProgress();
  p.seed('t', 0, 10n);
  const e10 = p.received('t', 0, 10n);
  const e11 = p.received('t', 0, 11n);
  const e13 = p.received('t', 0, 13n); // 12 was a transaction marker
  assert.equal(p.done('t', 0), 10n);
  p.settle(e11);
  assert.equal(p.done('t', 0), 10n, 'an earlier record is still in flight');
  p.settle(e10);
  assert.equal(p.done('t', 0), 12n);
  assert.deepEqual(p.dueCommits(new Set(['t/0'])), [{ topic: 't', partition: 0, offset: 12n }]);
  assert.deepEqual(p.dueCommits(new Set(['t/1'])), [], 'partitions owned by others are not committed');
  p.committed([{ topic: 't', partition: 0, offset: 12n }]);
  assert.deepEqual(p.dueCommits(new Set(['t/0'])), []);
  assert.ok(p.oldestUnsettledAgeMs() >= 0);
  p.rewind();
  assert.deepEqual(p.positions(), [{ topic: 't', partition: 0, offset: 12n }], 'unsettled 13 is read again');
  p.settle(e13); // a late settle after the rewind changes nothing
  assert.equal(p.done('t', 0), 12n);
});

test('kafka options: flags over env over file; clear errors; invalid mode pairs fail at start', () => {
  const s = loadKafkaSection(
    { brokers: ['f:1'], group: 'file-group' },
    { KAFKA_BROKERS: 'e:1,e:2', KAFKA_CONSUMER_GROUP: 'env-group' },
    { 'kafka-group': 'flag-group' },
  );
  assert.deepEqual(s.brokers, ['e:1', 'e:2']);
  assert.equal(s.group, 'flag-group');
  const sasl = loadKafkaSection(
    undefined,
    { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p', KAFKA_TLS: 'true' },
    {},
  );
  assert.deepEqual(sasl.sasl, { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
  assert.deepEqual(sasl.tls, {});
  assert.throws(
    () => loadKafkaSection(undefined, { KAFKA_BROKERS: 'nohost' }, {}),
    (e: Error) => e instanceof ConfigError && /kafka\.brokers\.0: expected host:port/.test(e.message),
  );
  assert.throws(
    () => loadKafkaSection(undefined, { KAFKA_SASL_MECHANISM: 'MD5', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' }, {}),
    /kafka\.sasl\.mechanism/,
  );
  assert.throws(() => loadKafkaSection(undefined, { KAFKA_USERNAME: 'u' }, { 'kafka-sasl-mechanism': 'PLAIN' }), /password/);
  assert.throws(() => loadKafkaSection(undefined, { KAFKA_TLS: 'maybe' }, {}), /KAFKA_TLS/);
  const d = loadKafkaSection(undefined, {}, {});
  assert.deepEqual(resolveIngestMode(d, 'memory'), { mode: 'each', start: 'latest' });
  assert.deepEqual(resolveIngestMode(d, 'nats'), { mode: 'shared', start: 'committed' });
  assert.throws(() => resolveIngestMode({ ...d, mode: 'shared' }, 'memory'), /memory broker/);
  assert.throws(() => resolveIngestMode({ ...d, mode: 'shared', start: 'latest' }, 'nats'), /needs --kafka-mode each/);
  // Through the gateway's own loader: the pair is refused before anything starts.
  assert.throws(
    () => loadGatewayConfig(['--ingest', 'kafka', '--kafka-mode', 'shared'], {}),
    (e: Error) => e instanceof ConfigError,
  );
  const cfg = loadGatewayConfig(['--ingest', 'kafka', '--kafka-brokers', '127.0.0.1:9'], {});
  assert.deepEqual(cfg.ingest, ['kafka']);
  assert.deepEqual(cfg.kafka?.brokers, ['127.0.0.1:9']);
  assert.equal(loadGatewayConfig([], {}).kafka, null);
});

test('source fencing: a position the channel holds is a duplicate, a missing predecessor a gap, other partitions unrelated', () => {
  assert.equal(recordTag('odin.trades', 3, 41n), 'odin.trades/3/41');
  const p3 = sourceId('odin.trades', 3);
  const p5 = sourceId('odin.trades', 5);
  // A channel holding partition 3 up to offset 41.
  let stored = fenceSources(undefined, [{ id: p3, seq: 41n }]).next;
  const f = fenceSources(stored, [
    { id: p3, seq: 40n },
    { id: p3, seq: 41n },
    { id: p3, seq: 42n, after: 41n },
    { id: p3, seq: 42n },
    undefined,
    { id: p5, seq: 1n },
    { id: p3, seq: 44n, after: 43n },
    { id: p3, seq: 45n, after: 44n },
  ]);
  assert.deepEqual(f.fates, [FATE_DUPLICATE, FATE_DUPLICATE, FATE_APPEND, FATE_DUPLICATE, FATE_APPEND, FATE_APPEND, FATE_GAP, FATE_GAP]);
  assert.equal(f.appended, 3);
  assert.deepEqual(
    [...f.next!],
    [
      [p3, 42n],
      [p5, 1n],
    ],
  );
  assert.deepEqual([...stored!], [[p3, 41n]], 'the stored positions are not modified');
  // An unknown source with an `after` is a gap (its predecessor never landed)...
  assert.deepEqual(fenceSources(undefined, [{ id: p3, seq: 2n, after: 1n }]).fates, [FATE_GAP]);
  // ...unless the channel is full (it may have been forgotten): then it passes.
  for (let i = 0; i < MAX_FENCED_SOURCES + 3; i++) stored = fenceSources(stored, [{ id: `t/${i}`, seq: 7n }]).next;
  assert.equal(stored!.size, MAX_FENCED_SOURCES);
  assert.equal(stored!.has('t/0'), false, 'the least recently published source is forgotten');
  assert.deepEqual(fenceSources(stored, [{ id: 't/0', seq: 2n, after: 1n }]).fates, [FATE_APPEND]);
  // Header form round-trips; anything malformed means "nothing known".
  assert.deepEqual(decodeSourcePositions(encodeSourcePositions(f.next)), f.next);
  for (const bad of ['', 'x', '[]', '{"a":1}', '{"a":"-1"}', 'null']) assert.equal(decodeSourcePositions(bad), undefined, bad);
});

test('source chain: after = the unsettled previous record of the channel and partition; settled ones need none', () => {
  const c = new SourceChain();
  const s = sourceId('odin.trades', 3);
  assert.equal(c.handOff('BTC.trade', s, 10n), undefined, 'first of the channel: nothing to chain to');
  assert.equal(c.handOff('BTC.trade', s, 12n), 10n);
  assert.equal(c.handOff('ETH.trade', s, 13n), undefined, 'another channel of the same partition is unrelated');
  assert.equal(c.handOff('BTC.trade', s, 11n), undefined, 'read again (at or below one in flight): no after');
  assert.equal(c.handOff('BTC.trade', s, 14n), 12n, 'the re-read did not move the chain');
  c.settled('BTC.trade', s, 12n);
  assert.equal(c.size, 2, 'only the last handed record ends the chain');
  c.settled('BTC.trade', s, 14n);
  assert.equal(c.handOff('BTC.trade', s, 20n), undefined, 'everything before is in the channel');
  c.reset();
  assert.equal(c.size, 0);
});

test("a key's partition is the Java client's (murmur2, made positive), not the library's unsigned default", () => {
  // Computed with Kafka 4.3.1's Utils.toPositive(Utils.murmur2(key)) % 12 (the jars in tools/kafka);
  // the library's default would put ETH in 9 and T0AB12 in 3.
  const java12: Record<string, number> = { BTC: 10, ETH: 1, SOL: 3, market: 1, T0AB12: 7, RS99FF: 3, x: 10, ü: 2 };
  for (const [key, partition] of Object.entries(java12)) assert.equal(partitionForKey(key, 12), partition, key);
});

test('a record value is delivered as its bytes (issue 20); not strict UTF-8, or deeper than 64 levels: not_json', () => {
  const m = new RecordMapper();
  for (const row of ISSUE_20_ROWS) {
    const value = Buffer.from(` {"type":"TRADE_EXECUTED",\n"timestamp":1,"data":${row}}\t`);
    const r = m.map('odin.trades', b('BTC'), value, 0);
    assert.ok(typeof r !== 'string', String(r));
    assert.ok(Buffer.from(r.data).equals(value));
  }
  assert.equal(m.map('odin.trades', b('BTC'), Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), 0), 'not_json');
  const deep = `{"type":"TRADE_EXECUTED","data":${'['.repeat(64)}${']'.repeat(64)}}`;
  assert.equal(m.map('odin.trades', b('BTC'), b(deep), 0), 'not_json');
});
