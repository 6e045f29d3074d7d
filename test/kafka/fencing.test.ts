/**
 * Exactly once when partitions move while publications are in flight (real Kafka, real
 * nats-server, two ingests in one consumer group, each with its own JetStream broker client as
 * two gateway nodes would have).
 *
 * Member A reads every record, but its publications are held in flight (a slow broker round
 * trip, made long here on purpose). Member B joins, the group gives it half of the partitions,
 * and B, starting from the committed offsets, reads and publishes the same records. Then A's
 * held publications reach the broker. This is what a rebalance does in production (the old
 * owner's in-flight publications and fetches land after the new owner started; seen in CI as
 * clients getting seqs 1..20 then 2.. again). Every channel must still hold every record once,
 * in order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createOdinTopics, startKafka, type LocalKafka } from '../testkit/kafka.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { waitFor } from '../testkit/wait.js';
import { KafkaProducer, partitionForKey } from '../../src/lib/kafka/client.js';
import { KafkaIngest, type KafkaIngestOptions } from '../../src/lib/kafka/ingest.js';
import { KAFKA_RECORD_TAG } from '../../src/lib/kafka/source-chain.js';
import { JetStreamBroker } from '../../src/lib/broker-jetstream/jetstream-broker.js';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { silentLogger } from '../../src/lib/core/logger.js';
import { BrokerError, type Broker } from '../../src/lib/core/broker.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

const seqOf = (data: string): number => (JSON.parse(data) as { data: { seq: number } }).data.seq;
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Kafka ingest: a rebalance while publications are in flight (real Kafka, real nats-server)', () => {
  let kafka: LocalKafka;
  let nats: NatsServerHandle;
  const brokers: JetStreamBroker[] = [];
  const ingests: KafkaIngest[] = [];

  before(async () => {
    [kafka, nats] = await Promise.all([startKafka(), startNatsServer()]);
    await createOdinTopics(kafka.bootstrap, 4);
  });

  after(async () => {
    for (const i of ingests) await i.stop();
    for (const b of brokers) await b.close();
    await Promise.all([kafka?.stop(), nats?.stop()]);
  });

  /** Trades with data.seq 1..perKey for every key, in one send. */
  const produce = async (keys: readonly string[], perKey: number): Promise<void> => {
    const p = new KafkaProducer({ brokers: [kafka.bootstrap] });
    try {
      await p.send(
        keys.flatMap((key) =>
          range(1, perKey).map((seq) => ({
            topic: 'odin.trades',
            key,
            value: JSON.stringify({ type: 'TRADE_EXECUTED', timestamp: Date.now(), data: { seq } }),
            timestamp: Date.now(),
          })),
        ),
      );
    } finally {
      await p.close();
    }
  };

  const node = async (): Promise<JetStreamBroker> => {
    const b = new JetStreamBroker({ servers: nats.url, stream: 'KFENCE', historySize: 100 });
    brokers.push(b);
    await b.run({ onPublication() {} });
    return b;
  };

  const ingest = (
    group: string,
    broker: Broker,
    publish?: KafkaIngestOptions['publish'],
    mode: 'shared' | 'each' = 'shared',
  ): KafkaIngest => {
    const i = new KafkaIngest({
      connection: { brokers: [kafka.bootstrap] },
      groupId: group,
      mode,
      start: mode === 'shared' ? 'committed' : 'latest',
      publish: publish ?? ((channel, data, opts) => broker.publish(channel, data, { ...opts, historySize: 100 })),
      isPermanent: () => false,
      log: silentLogger,
      lagIntervalMs: 100,
      commitIntervalMs: 100,
    });
    ingests.push(i);
    return i;
  };

  it('the old owner publishing late doubles nothing: every channel holds every record once, in order', async () => {
    const group = 'fence-' + randomBytes(3).toString('hex');
    const [nodeA, nodeB] = [await node(), await node()];
    // A's publications wait here until released: in flight while the partitions move.
    const held: Array<() => void> = [];
    let holding = true;
    const a = ingest(group, nodeA, (channel, data, opts) => {
      const go = () => nodeA.publish(channel, data, { ...opts, historySize: 100 });
      if (!holding) return go();
      return new Promise((resolve, reject) => held.push(() => void go().then(resolve, reject)));
    });
    await a.start();
    assert.ok(a.isReady(), String(a.readiness()));

    // 16 keys: B's half of the 4 partitions holds some of them.
    const keys = Array.from({ length: 16 }, (_, i) => `F${i}${randomBytes(2).toString('hex').toUpperCase()}`);
    const perKey = 20;
    await produce(keys, perKey);
    await waitFor(() => held.length >= keys.length * perKey, 30_000, 'A holds every record in flight', { everyMs: 50 });

    const b = ingest(group, nodeB);
    await b.start();
    // B owns some partitions now (its lag is measured for what it owns) and publishes their records.
    await waitFor(() => b.lag.size > 0, 30_000, 'B owns partitions', { everyMs: 50 });
    const bOwns = [...b.lag.values()].filter((l) => l.topic === 'odin.trades').map((l) => l.partition);
    assert.ok(bOwns.length > 0, 'B owns some odin.trades partitions');
    await waitFor(() => b.stats.published > 0 && b.health().inFlight === 0, 30_000, 'B published its records', { everyMs: 50 });

    // The old owner's publications land now.
    holding = false;
    for (const go of held.splice(0)) go();
    await waitFor(() => a.health().inFlight === 0 && held.length === 0, 30_000, "A's publications settled", { everyMs: 50 });

    let moved = 0;
    for (const key of keys) {
      const h = await nodeA.history(`${key}.trade`, { limit: 1000 });
      const partition = Number(h.publications[0]?.tags?.[KAFKA_RECORD_TAG]?.split('/')[1]);
      assert.equal(partition, partitionForKey(key, 4), 'the producer put the key where the Java client would');
      if (bOwns.includes(partition)) moved++;
      assert.deepEqual(
        h.publications.map((x) => seqOf(x.data)),
        range(1, perKey),
        `${key}.trade (partition ${partition}, ${bOwns.includes(partition) ? 'moved to B' : 'kept by A'}): every record once, in order`,
      );
      assert.deepEqual(
        h.publications.map((x) => x.offset),
        range(h.publications[0]!.offset, h.publications[0]!.offset + perKey - 1),
        'consecutive offsets',
      );
    }
    assert.ok(moved > 0, 'some channels moved to B while A had them in flight');
    assert.ok(a.stats.duplicates > 0, "A's late publications were found stored and not stored again");
  });

  it('a refused publication is retried before any later record of its channel lands (no reordering, no loss)', async () => {
    const broker = new MemoryBroker({ clock: systemClock });
    await broker.run({ onPublication() {} });
    const key = 'R' + randomBytes(3).toString('hex').toUpperCase();
    let refused = 0;
    // The broker refuses record 5 once (JetStream unreachable for a moment, as the ingest sees it);
    // records 6.. of the same channel are already handed over behind it.
    const i = ingest(
      'retry-' + randomBytes(3).toString('hex'),
      broker,
      (channel, data, opts) => {
        if (channel === `${key}.trade` && seqOf(data) === 5 && refused++ === 0)
          return Promise.reject(new BrokerError('unavailable', 'broker unavailable for a moment'));
        return broker.publish(channel, data, { ...opts, historySize: 100 });
      },
      'each',
    );
    await i.start();
    assert.ok(i.isReady(), String(i.readiness()));
    const perKey = 20;
    await produce([key], perKey);
    await waitFor(async () => (await broker.history(`${key}.trade`, { limit: 0 })).position.offset >= perKey, 30_000, 'every record', {
      everyMs: 50,
    });
    const h = await broker.history(`${key}.trade`, { limit: 1000 });
    assert.deepEqual(
      h.publications.map((x) => seqOf(x.data)),
      range(1, perKey),
      'once each, in order',
    );
    assert.equal(refused, 2, 'refused once, then published');
    assert.ok(i.stats.reconnects >= 1 && i.stats.publishErrors >= 2, 'the later records were refused behind it, then read again');
  });
});
