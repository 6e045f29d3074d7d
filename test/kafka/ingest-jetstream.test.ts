/**
 * Kafka → JetStream → gateways, against a real Kafka broker and a real nats-server: one consumer
 * group shared by gateway processes ingests each record once; every client on every gateway
 * gets every record once, at the same offsets; a gateway killed mid-stream and restarted loses
 * nothing and doubles nothing for a recovering client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createOdinTopics, startKafka, type LocalKafka } from '../testkit/kafka.js';
import { freePort } from '../testkit/free-port.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { waitFor } from '../testkit/wait.js';
import { SdkSubscriber } from '../testkit/sdk-subscriber.js';
import { KafkaProducer, partitionForKey } from '../../src/lib/kafka/client.js';

const API_KEY = 'test-' + randomBytes(6).toString('hex');
const PARTITIONS = 4;
const trade = (seq: number): string => JSON.stringify({ type: 'TRADE_EXECUTED', timestamp: Date.now(), data: { seq } });
const seqs = (s: SdkSubscriber): number[] => s.pubs.map((p) => (p.data as { data: { seq: number } }).data.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function isReady(url: string): Promise<boolean> {
  return (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) })).status === 200;
}

async function publishedByKafka(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('odin_ws_kafka_records_published_total '));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('Kafka ingest into JetStream (real Kafka, real nats-server)', () => {
  let kafka: LocalKafka;
  let nats: NatsServerHandle;
  const gws: GatewayProcess[] = [];
  const subs: SdkSubscriber[] = [];
  const gateway = async (group: string, extra: string[] = []): Promise<GatewayProcess> => {
    const g = await startGatewayProcess({
      natsUrl: nats.url,
      apiKey: API_KEY,
      workers: 1,
      extraArgs: ['--ingest', 'kafka', '--kafka-brokers', kafka.bootstrap, '--kafka-group', group, ...extra],
    });
    gws.push(g);
    await waitFor(() => isReady(g.url), 30_000, 'gateway ready (kafka consuming)', { everyMs: 50 });
    return g;
  };

  before(async () => {
    [kafka, nats] = await Promise.all([startKafka(), startNatsServer()]);
    await createOdinTopics(kafka.bootstrap, PARTITIONS);
  });

  after(async () => {
    for (const s of subs) s.close();
    await Promise.all(gws.map((g) => g.stop()));
    await Promise.all([kafka?.stop(), nats?.stop()]);
  });

  it('two gateways in one group: every client on both gets every record exactly once, at the same offsets', async () => {
    const a = await gateway('odin-ws-two');
    const b = await gateway('odin-ws-two');
    // Stopped even when an assertion fails: left running, this group would also ingest the next
    // test's records into the same stream (and that test would find them published by someone else).
    try {
      // Keys in every partition (random keys could all fall in one member's half), so both members own some of them.
      const keys: string[] = [];
      while (keys.length < 6) {
        const key = `T${keys.length}${randomBytes(2).toString('hex').toUpperCase()}`;
        const covered = new Set(keys.map((k) => partitionForKey(k, PARTITIONS)));
        if (covered.size < PARTITIONS && covered.has(partitionForKey(key, PARTITIONS))) continue;
        keys.push(key);
      }
      const perKey = 40;
      const byGw = [a, b].map((g) => keys.map((k) => new SdkSubscriber(g.wsUrl, `${k}.trade`)));
      subs.push(...byGw.flat());
      for (const s of byGw.flat()) await s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed');
      const p = new KafkaProducer({ brokers: [kafka.bootstrap] });
      try {
        for (let round = 0; round < 4; round++) {
          const from = round * (perKey / 4) + 1;
          await p.send(
            keys.flatMap((key) =>
              range(from, from + perKey / 4 - 1).map((seq) => ({ topic: 'odin.trades', key, value: trade(seq), timestamp: Date.now() })),
            ),
          );
        }
      } finally {
        await p.close();
      }
      for (const s of byGw.flat()) await s.waitFor(() => s.pubs.length >= perKey, 30_000, `${perKey} publications`);
      // Let anything doubled arrive before judging.
      await waitFor(
        async () => (await publishedByKafka(a.url)) + (await publishedByKafka(b.url)) >= keys.length * perKey,
        10_000,
        'ingest counted',
        { everyMs: 50 },
      );
      for (let k = 0; k < keys.length; k++) {
        const [onA, onB] = [byGw[0]![k]!, byGw[1]![k]!];
        assert.deepEqual(seqs(onA), range(1, perKey), `${keys[k]} on A: every record once, in order`);
        assert.deepEqual(seqs(onB), range(1, perKey), `${keys[k]} on B`);
        assert.deepEqual(
          onA.pubs.map((x) => x.offset),
          onB.pubs.map((x) => x.offset),
          'same offsets on both gateways',
        );
      }
      const [na, nb] = [await publishedByKafka(a.url), await publishedByKafka(b.url)];
      assert.ok(na > 0 && nb > 0, `both members ingest part of the partitions (A ${na}, B ${nb})`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('a gateway killed mid-stream and restarted: a recovering client gets every record once, in order', async () => {
    const port = await freePort();
    const fixed = ['--port', String(port)];
    let g = await gateway('odin-ws-restart', fixed);
    const key = 'RS' + randomBytes(2).toString('hex').toUpperCase();
    const s = new SdkSubscriber(g.wsUrl, `${key}.trade`);
    subs.push(s);
    await s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed');
    const total = 300;
    const p = new KafkaProducer({ brokers: [kafka.bootstrap] });
    // The first half flows while the gateway runs; the second is written while it is down, so
    // the restarted gateway must ingest it (and skip what the first one published uncommitted).
    const produce = async (from: number, to: number): Promise<void> => {
      for (let i = from; i <= to; i += 5) {
        await p.send(range(i, Math.min(to, i + 4)).map((seq) => ({ topic: 'odin.trades', key, value: trade(seq), timestamp: Date.now() })));
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const firstHalf = produce(1, total / 2);
      await s.waitFor(() => s.pubs.length >= 60, 30_000, '60 before the crash');
      // SIGKILL: no commit on the way out, so the restarted gateway reads again what it had published.
      process.kill(g.pid, 'SIGKILL');
      await waitFor(() => !g.running(), 10_000, 'gateway gone', { everyMs: 50 });
      await firstHalf;
      await produce(total / 2 + 1, total);
      g = await gateway('odin-ws-restart', fixed);
      await s.waitFor(() => s.pubs.length >= total, 60_000, 'every record after the restart');
      assert.ok((await publishedByKafka(g.url)) >= total / 2, 'the restarted gateway ingested what was written while it was down');
    } finally {
      await p.close();
    }
    assert.deepEqual(seqs(s), range(1, total), 'once each, in order');
    const offsets = s.pubs.map((x) => x.offset);
    assert.deepEqual(offsets, range(offsets[0]!, offsets[0]! + total - 1), 'contiguous offsets');
    assert.ok(s.subscribed.length >= 2 && s.subscribed.at(-1)!.recovered, 'the client re-subscribed with recovery');
  });
});
