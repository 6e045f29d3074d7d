/**
 * Kafka broker faults, bounded: the only Kafka broker is killed (SIGKILL) and restarted twice
 * while records flow into a gateway (Kafka ingest, memory broker); real centrifuge SDK clients
 * subscribed throughout must hold every record the producer had acknowledged, once, in order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createOdinTopics, startKafka, type LocalKafka } from '../testkit/kafka.js';
import { pollUntil, startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { SdkSubscriber } from '../testkit/sdk-subscriber.js';
import { KafkaProducer } from '../../src/lib/kafka/client.js';

const API_KEY = 'test-' + randomBytes(6).toString('hex');
const trade = (seq: number): string => JSON.stringify({ type: 'TRADE_EXECUTED', timestamp: Date.now(), data: { seq } });
const seqOf = (d: unknown): number => (d as { data: { seq: number } }).data.seq;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Kafka broker killed and restarted while records flow (real Kafka, real centrifuge SDK)', () => {
  let kafka: LocalKafka;
  let gw: GatewayProcess;
  const subs: SdkSubscriber[] = [];
  before(async () => {
    kafka = await startKafka();
    await createOdinTopics(kafka.bootstrap, 2);
    gw = await startGatewayProcess({
      natsUrl: '',
      apiKey: API_KEY,
      broker: 'memory',
      extraArgs: ['--ingest', 'kafka', '--kafka-brokers', kafka.bootstrap],
    });
    await pollUntil(async () => (await fetch(`${gw.url}/ready`)).status === 200, 30_000, 'gateway ready (kafka consuming)');
  });
  after(async () => {
    for (const s of subs) s.close();
    await gw?.stop();
    await kafka?.stop();
  });

  it('2 kills: every acknowledged record delivered exactly once, in order, at consecutive offsets', async () => {
    const keys = ['KA' + randomBytes(2).toString('hex').toUpperCase(), 'KB' + randomBytes(2).toString('hex').toUpperCase()];
    for (const k of keys) for (let c = 0; c < 2; c++) subs.push(new SdkSubscriber(gw.wsUrl, `${k}.trade`));
    for (const s of subs) await s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed');

    const acked = new Map<string, number[]>(keys.map((k) => [k, []]));
    let unacked = 0;
    let stop = false;
    let lastAckAt = 0;
    const producing = (async () => {
      let p = new KafkaProducer({ brokers: [kafka.bootstrap] });
      for (let seq = 1; !stop; seq++) {
        const key = keys[seq % keys.length]!;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            p.send([{ topic: 'odin.trades', key, value: trade(seq), timestamp: Date.now() }]),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('send timed out')), 5_000))),
          ]);
          acked.get(key)!.push(seq);
          lastAckAt = Date.now();
        } catch {
          // Not acknowledged: it may or may not exist. A fresh producer, so nothing is retried behind our back.
          unacked++;
          await p.close().catch(() => {});
          p = new KafkaProducer({ brokers: [kafka.bootstrap] });
          await sleep(200);
        } finally {
          clearTimeout(timer);
        }
        await sleep(5);
      }
      await p.close().catch(() => {});
    })();
    const total = (): number => [...acked.values()].reduce((n, a) => n + a.length, 0);
    try {
      for (let k = 0; k < 2; k++) {
        const base = total();
        await pollUntil(() => total() >= base + 100, 60_000, `100 acknowledged before kill ${k + 1}`);
        await kafka.kill();
        const killedAt = Date.now();
        await sleep(1_000);
        await kafka.restart();
        await pollUntil(() => lastAckAt > killedAt + 1_000, 90_000, `acknowledged again after kill ${k + 1}`);
        process.stdout.write(`# kafka kill ${k + 1}: producing acknowledged again ${lastAckAt - killedAt} ms after the kill\n`);
      }
      const base = total();
      await pollUntil(() => total() >= base + 100, 60_000, '100 acknowledged after the last kill');
    } finally {
      stop = true;
      await producing;
    }
    for (const [i, s] of subs.entries()) {
      const want = acked.get(keys[Math.floor(i / 2)]!)!;
      const last = want[want.length - 1]!;
      await s.waitFor(() => s.pubs.some((p) => seqOf(p.data) === last), 60_000, `record ${last}`);
      const got = s.pubs.map((p) => seqOf(p.data));
      assert.equal(new Set(got).size, got.length, 'no record delivered twice');
      const gotSet = new Set(got);
      assert.deepEqual(
        want.filter((x) => !gotSet.has(x)),
        [],
        'no acknowledged record lost',
      );
      const ackedSet = new Set(want);
      const ackedOrder = got.filter((x) => ackedSet.has(x));
      assert.deepEqual(ackedOrder, want, 'acknowledged records in the order they were produced');
      const offs = s.pubs.map((p) => p.offset);
      assert.deepEqual(
        offs,
        offs.map((_, j) => offs[0]! + j),
        'consecutive offsets',
      );
    }
    process.stdout.write(`# kafka chaos: ${total()} acknowledged, ${unacked} not acknowledged, ${subs.length} clients\n`);
  });
});
