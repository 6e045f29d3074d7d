/**
 * bench/ (issue 25): the `rates` points, the Kafka feed's records in the original Odin
 * publisher's format, the tables the rates/scale/storm results render to, and the Kafka-fed Go
 * gateway contenders being unavailable, naming their variable, without a binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goKafkaContender, odinTradeRecord } from '../../bench/contenders.js';
import { parsePoint, type RateResult, type ScaleResult, type StormResult } from '../../bench/scenarios.js';
import { ratesTable, renderTables, scaleTable, type BenchRecord, type BenchResults } from '../../bench/report.js';
import { benchPayload } from '../../src/lib/loadtest/publisher.js';

test('parsePoint reads SUBSCRIBERSxRATE and refuses anything else', () => {
  assert.deepEqual(parsePoint('2000x25'), { subscribers: 2000, rate: 25 });
  assert.deepEqual(parsePoint(' 1000x1000 '), { subscribers: 1000, rate: 1000 });
  for (const bad of ['2000', 'x25', '2000x', '0x25', '2000x0', '20.5x3', '2000*25', '-1x5']) assert.equal(parsePoint(bad), null, bad);
});

test('odinTradeRecord writes the original publisher format: odin.trades, key = token, TRADE_EXECUTED value, stamps in data', () => {
  const r = odinTradeRecord({ channel: 'BENCH.trade', data: benchPayload('BENCH.trade', 7, 123456789) }, 1_700_000_000_000);
  assert.equal(r.topic, 'odin.trades');
  assert.equal(r.key, 'BENCH');
  assert.equal(r.timestamp, 1_700_000_000_000);
  const v = JSON.parse(r.value) as { type: string; timestamp: number; data: Record<string, unknown> };
  assert.equal(v.type, 'TRADE_EXECUTED');
  assert.equal(v.timestamp, 1_700_000_000_000);
  assert.deepEqual(Object.keys(v.data), ['price', 'amount', 'buyer', 'seller', 'txHash', 's', 't']);
  assert.equal(v.data.s, 7);
  assert.equal(v.data.t, 123456789);
  assert.equal(v.data.txHash, '0x' + '7'.padStart(40, '0'));
  // The load client times a delivery from the first `"t":` after the channel: only data.t may carry it.
  assert.equal(r.value.split('"t":').length, 2);
});

test('odinTradeRecord refuses a channel that is not <token>.trade', () => {
  for (const channel of ['BENCH', 'BENCH.liquidity', '.trade'])
    assert.throws(() => odinTradeRecord({ channel, data: benchPayload(channel, 1, 1) }), /not a <token>\.trade channel/);
});

test('the Kafka-fed Go gateway contenders are unavailable without their binary, naming the variable', () => {
  const saved = { s: process.env.ODIN_BENCH_GO_GATEWAY_KAFKA, m: process.env.ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI };
  try {
    delete process.env.ODIN_BENCH_GO_GATEWAY_KAFKA;
    delete process.env.ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI;
    assert.match(goKafkaContender('single').unavailable() ?? '', /ODIN_BENCH_GO_GATEWAY_KAFKA .*ws\/cmd\/single/);
    assert.match(goKafkaContender('multi').unavailable() ?? '', /ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI .*ws\/cmd\/multi/);
    process.env.ODIN_BENCH_GO_GATEWAY_KAFKA = '/nonexistent/ws-single';
    assert.equal(goKafkaContender('single').unavailable(), '/nonexistent/ws-single not found');
  } finally {
    for (const [k, v] of [
      ['ODIN_BENCH_GO_GATEWAY_KAFKA', saved.s],
      ['ODIN_BENCH_GO_GATEWAY_KAFKA_MULTI', saved.m],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
});

const latency = (p50: number, p99: number) => ({ count: 100, p50, p90: p99, p99, p999: p99, max: p99, mean: p50 });

function rate(cpuPerMillion: number, p99: number, rssMiB: number, delivered = 50_000, systemCpuPerMillion = cpuPerMillion / 2): RateResult {
  return {
    seconds: 10,
    deliveredPerSecond: delivered,
    expectedPerSecond: 50_000,
    serverCpuSeconds: (cpuPerMillion * delivered * 10) / 1e6,
    cpuPerMillion,
    systemCpuPerMillion,
    latencyMs: latency(p99 / 4, p99),
    missing: 0,
    clientCpuSeconds: 1,
    clientMaxElu: 0.2,
    clientSaturated: false,
    publisherBehindTicks: 0,
    disconnects: 0,
    subscribers: 2000,
    publishRate: 25,
    rssBytes: rssMiB * 2 ** 20,
    keptUp: true,
  };
}

function results(records: BenchRecord[]): BenchResults {
  return {
    startedAt: '2026-12-07T00:00:00.000Z',
    machine: { cpus: 2, model: 'test', node: 'v0', natsServer: '', fdLimit: 1024 },
    config: { runs: 3, ours: 'odin-ws-kafka' },
    skipped: {},
    records,
  };
}

test('ratesTable: medians of the runs per point and contender, ratios of ours against each', () => {
  const recs: BenchRecord[] = [];
  const add = (run: number, contender: string, r: RateResult) =>
    recs.push({ run, contender, scenario: 'rates', point: '2000x25', rate: r });
  add(1, 'odin-ws-kafka', rate(4, 30, 100));
  add(2, 'odin-ws-kafka', rate(5, 40, 110));
  add(3, 'odin-ws-kafka', rate(9, 90, 120));
  add(1, 'go-gateway-kafka', rate(10, 20, 50, 50_000, 3));
  add(2, 'go-gateway-kafka', rate(11, 25, 55, 50_000, 3));
  recs.push({ run: 3, contender: 'go-gateway-kafka', scenario: 'rates', point: '2000x25', error: 'did not start' });
  const text = ratesTable(results(recs));
  const row = (name: string) => text.split('\n').find((l) => l.startsWith(`| 2000x25 | ${name} |`)) ?? '';
  // ours: medians 5 CPU-s per 1M (user 2.5, kernel 2.5), p99 40 ms, RSS 110 MiB; theirs: 10.5
  // (user 7.5, kernel 3), 22.5 ms, 52.5 MiB: 2.10× the CPU, 3.00× the user-space CPU.
  assert.match(row('odin-ws-kafka'), /\| 5\.00 \| 2\.50 \/ 2\.50 \| 10\.0 \| 40\.0 \| 110\.0 \| 3\/3 \|/);
  assert.match(
    row('go-gateway-kafka'),
    /\| 10\.50 \| 7\.50 \/ 3\.00 \| 5\.6 \| 22\.5 \| 52\.5 \| 2\/3 \| 2\.10× \| 3\.00× \| 0\.56× \| 0\.48× \|/,
  );
  // Results written before the kernel's part was measured have no split: a dash, no ratio.
  const old = recs.map((r) => (r.rate ? { ...r, rate: { ...r.rate, systemCpuPerMillion: undefined } } : r));
  const oldRow =
    ratesTable(results(old as BenchRecord[]))
      .split('\n')
      .find((l) => l.startsWith('| 2000x25 | go-gateway-kafka |')) ?? '';
  assert.match(oldRow, /\| 10\.50 \| – \| 5\.6 \| .* \| 2\.10× \| – \| 0\.56× \|/);
  // The records of rates alone leave the fan-out table out.
  assert.doesNotMatch(renderTables(results(recs)), /fan-out max deliveries/);
  assert.match(renderTables(results(recs)), /Error: run 3 rates 2000x25 go-gateway-kafka: did not start/);
});

test('scaleTable: RSS per connection, p99, lost and failed handshakes, medians per contender', () => {
  const scale: ScaleResult = {
    connections: 100_000,
    subscribed: 100_000,
    failed: {},
    rssBaseBytes: 60 * 2 ** 20,
    rssBytes: 60 * 2 ** 20 + 100_000 * 6 * 1024,
    bytesPerConnection: 6 * 1024,
    measured: { ...rate(3, 80, 0), deliveredPerSecond: 100_000, expectedPerSecond: 100_000 },
    lost: 0,
    shortfall: 12,
  };
  const storm: StormResult = {
    connections: 20_000,
    subscribed: 19_990,
    failed: { ECONNRESET: 10 },
    failedCount: 10,
    connectMs: latency(200, 900),
    seconds: 4.2,
    serverCpuSeconds: 3.1,
  };
  const text = scaleTable(
    results([
      { run: 1, contender: 'odin-ws', scenario: 'scale', scale },
      { run: 1, contender: 'odin-ws', scenario: 'storm', storm },
    ]),
  );
  assert.match(text, /\| odin-ws \| 100,000 \| 100,000 \| 60\.0 → 645\.9 \| 6\.00 \| 100,000 \| 20\.0 \| 80\.0 \| 0 \| 12 \|/);
  assert.match(text, /\| odin-ws \| 20,000 \| 19,990 \| 10 \| 4\.2 \| 200\.0 \| 900\.0 \| 3\.10 \|/);
});
