/**
 * Kafka → gateway (memory broker, each node reads every partition) against a real Kafka broker:
 * the publisher's Kafka sink feeding WebSocket clients of both protocols, the `odin-ws kafka`
 * commands, poison records skipped and counted, Kafka killed and restarted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startKafka, type LocalKafka } from '../testkit/kafka.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { waitFor } from '../testkit/wait.js';
import { TestClient, type Json } from '../testkit/ws-client.js';
import { SdkSubscriber } from '../testkit/sdk-subscriber.js';
import { KafkaProducer } from '../../src/lib/kafka/client.js';

const BIN = fileURLToPath(new URL('../../../bin/odin-ws.js', import.meta.url));
const API_KEY = 'test-' + randomBytes(6).toString('hex');

/** Runs `odin-ws ...args` to its end: exit code and output. */
function cli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`odin-ws ${args.join(' ')} did not finish: ${out} ${err}`));
    }, timeoutMs);
    c.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

async function ready(url: string): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) });
  return { status: r.status, body: (await r.json()) as Json };
}

async function metric(url: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? 0 : Number(m.split(' ').pop());
}

const trade = (seq: number): string =>
  JSON.stringify({
    type: 'TRADE_EXECUTED',
    timestamp: Date.now(),
    data: { seq, price: 1, amount: 1, buyer: 'a', seller: 'b', txHash: `0x${seq}` },
  });

describe('Kafka ingest on the memory broker (real Kafka)', () => {
  let kafka: LocalKafka;
  let gw: GatewayProcess;
  let dir: string;
  const clients: Array<{ close(): void }> = [];

  before(async () => {
    kafka = await startKafka();
    const created = await cli(['kafka', 'create-topics', '--partitions', '4', '--kafka-brokers', kafka.bootstrap]);
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /odin\.trades\tcreated/);
    dir = await mkdtemp(join(tmpdir(), 'odin-ws-kafka-test-'));
    // A small record limit, so an oversized record can be written at all (the topics take 1 MiB).
    await writeFile(join(dir, 'gateway.yaml'), 'kafka:\n  maxRecordBytes: 4096\n');
    gw = await startGatewayProcess({
      natsUrl: '',
      apiKey: API_KEY,
      broker: 'memory',
      extraArgs: ['--config', join(dir, 'gateway.yaml'), '--ingest', 'kafka', '--kafka-brokers', kafka.bootstrap],
    });
    await waitFor(async () => (await ready(gw.url)).status === 200, 30_000, 'gateway ready (kafka consuming)', { everyMs: 50 });
  });

  after(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await kafka?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publisher --sink kafka → Kafka → gateway → Odin and Centrifugo clients on {SYMBOL}.trade, with the event type', async () => {
    const odin = await TestClient.connect(`${gw.wsUrl}/ws`);
    clients.push({ close: () => odin.ws.close() });
    odin.send({ type: 'subscribe', data: { channels: ['BTC.trade', 'ETH.trade'] } });
    await odin.next((m) => m.type === 'subscription_ack', 5_000);
    const cent = new SdkSubscriber(gw.wsUrl, 'ETH.trade');
    clients.push(cent);
    await cent.waitFor(() => cent.subscribed.length > 0, 10_000, 'centrifuge subscribed');

    const pub = spawn(
      process.execPath,
      [
        BIN,
        'publisher',
        '--sink',
        'kafka',
        '--kafka-brokers',
        kafka.bootstrap,
        '--kafka-partitions',
        '4',
        '--port',
        '0',
        '--autostart',
        '--rate',
        '200',
        '--tokens',
        'BTC,ETH',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
    );
    try {
      const isTrade = (ch: string) => (m: Json) => m.channel === ch && typeof m.offset === 'number';
      await odin.waitCount(isTrade('BTC.trade'), 3, 30_000);
      await odin.waitCount(isTrade('ETH.trade'), 3, 30_000);
      await cent.waitFor(() => cent.pubs.length >= 3, 30_000, 'centrifuge publications');
    } finally {
      pub.kill('SIGTERM');
    }
    for (const m of odin.messages.filter((x) => typeof x.channel === 'string' && typeof x.offset === 'number')) {
      const ev = m.data as { type: string; token: string; id: string };
      assert.equal(m.type, 'trade:new', 'the Odin push carries the record’s event type');
      assert.equal(ev.type, 'trade:new');
      assert.equal(`${ev.token}.trade`, m.channel, 'the record key picks the channel');
    }
    for (const p of cent.pubs) assert.equal((p.data as { token: string }).token, 'ETH');
    const btc = odin.messages.filter((m) => m.channel === 'BTC.trade').map((m) => m.offset as number);
    assert.deepEqual(
      btc,
      btc.map((_, i) => btc[0]! + i),
      'contiguous offsets',
    );

    const topics = await cli(['kafka', 'topics', '--kafka-brokers', kafka.bootstrap]);
    assert.equal(topics.code, 0, topics.err);
    assert.match(topics.out, /odin\.trades\tpartitions=4\tleaders=4/);
    assert.equal(topics.out.trim().split('\n').length, 8);
    const consumed = await cli(['kafka', 'consume', 'odin.trades', '--n', '3', '--kafka-brokers', kafka.bootstrap]);
    assert.equal(consumed.code, 0, consumed.err);
    const lines = consumed.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: { type: string } });
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.ok(['BTC', 'ETH'].includes(l.key));
      assert.equal(l.value.type, 'trade:new');
    }
    const bad = await cli(['kafka', 'consume', '--kafka-brokers', kafka.bootstrap]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /name the topic/);
  });

  it('poison records are skipped, counted by reason and logged with topic/partition/offset; the partition keeps flowing', async () => {
    const key = 'PZN' + randomBytes(2).toString('hex').toUpperCase();
    const c = await TestClient.connect(`${gw.wsUrl}/ws`);
    clients.push({ close: () => c.ws.close() });
    c.send({ type: 'subscribe', data: { channels: [`${key}.trade`] } });
    await c.next((m) => m.type === 'subscription_ack', 5_000);
    const before = {
      not_json: await metric(gw.url, /^odin_ws_kafka_records_failed_total\{reason="not_json"\}/),
      no_key: await metric(gw.url, /^odin_ws_kafka_records_failed_total\{reason="no_key"\}/),
      unknown_type: await metric(gw.url, /^odin_ws_kafka_records_failed_total\{reason="unknown_type"\}/),
      too_large: await metric(gw.url, /^odin_ws_kafka_records_failed_total\{reason="too_large"\}/),
    };
    const p = new KafkaProducer({ brokers: [kafka.bootstrap] });
    try {
      const now = Date.now();
      await p.send([
        { topic: 'odin.trades', key, value: 'this is not json', timestamp: now },
        { topic: 'odin.trades', key: '', value: trade(0), timestamp: now },
        { topic: 'odin.trades', key, value: '{"type":"NOT_A_TRADE","data":{}}', timestamp: now },
        { topic: 'odin.trades', key, value: JSON.stringify({ type: 'TRADE_EXECUTED', data: { pad: 'x'.repeat(5000) } }), timestamp: now },
        { topic: 'odin.trades', key, value: trade(1), timestamp: now },
      ]);
    } finally {
      await p.close();
    }
    const good = await c.next((m) => m.channel === `${key}.trade`, 15_000);
    assert.equal((good.data as { data: { seq: number } }).data.seq, 1);
    await waitFor(
      async () => (await metric(gw.url, /^odin_ws_kafka_records_failed_total\{reason="too_large"\}/)) > before.too_large,
      10_000,
      'counted',
      { everyMs: 50 },
    );
    for (const reason of ['not_json', 'no_key', 'unknown_type', 'too_large'] as const) {
      assert.equal(
        await metric(gw.url, new RegExp(`^odin_ws_kafka_records_failed_total\\{reason="${reason}"\\}`)),
        before[reason] + 1,
        reason,
      );
    }
    const loggedNow = () => gw.logs.filter((l) => l['msg'] === 'kafka ingest: bad record skipped' && l['topic'] === 'odin.trades');
    // The log lines reach us through the child's stdout, possibly after the metric moved.
    await waitFor(() => loggedNow().length >= 4, 10_000, 'four bad records logged', { everyMs: 50 });
    const logged = loggedNow();
    for (const l of logged)
      assert.ok(typeof l['partition'] === 'number' && typeof l['offset'] === 'string' && typeof l['reason'] === 'string');
    assert.equal(c.messages.filter((m) => m.channel === `${key}.trade`).length, 1, 'only the good record was delivered');
    assert.equal((await ready(gw.url)).status, 200);
  });

  it('Kafka killed: /ready 503 with the reason; restarted: ready again and nothing lost, nothing doubled', async () => {
    const key = 'KIL' + randomBytes(2).toString('hex').toUpperCase();
    const c = await TestClient.connect(`${gw.wsUrl}/ws`);
    clients.push({ close: () => c.ws.close() });
    c.send({ type: 'subscribe', data: { channels: [`${key}.trade`] } });
    await c.next((m) => m.type === 'subscription_ack', 5_000);
    const p1 = new KafkaProducer({ brokers: [kafka.bootstrap] });
    await p1.send(Array.from({ length: 50 }, (_, i) => ({ topic: 'odin.trades', key, value: trade(i + 1), timestamp: Date.now() })));
    await p1.close();
    await kafka.kill();
    let down: { status: number; body: Json } | null = null;
    await waitFor(async () => (down = await ready(gw.url)).status === 503, 30_000, '/ready 503 while Kafka is down', { everyMs: 50 });
    const reasons = (down!.body.reasons ?? {}) as Record<string, string>;
    assert.match(reasons['kafka'] ?? '', /^kafka: /, JSON.stringify(down!.body));
    await kafka.restart();
    await waitFor(async () => (await ready(gw.url)).status === 200, 60_000, '/ready 200 after Kafka is back', { everyMs: 50 });
    const p2 = new KafkaProducer({ brokers: [kafka.bootstrap] });
    await p2.send(Array.from({ length: 50 }, (_, i) => ({ topic: 'odin.trades', key, value: trade(i + 51), timestamp: Date.now() })));
    await p2.close();
    const got = await c.waitCount((m) => m.channel === `${key}.trade`, 100, 30_000);
    assert.deepEqual(
      got.map((m) => (m.data as { data: { seq: number } }).data.seq),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.ok(gw.running());
  });
});
