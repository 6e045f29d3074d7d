/**
 * Kafka broker chaos, shared by `npm test` (a couple of kills) and bench/chaos (20 kills): a real
 * single-node Kafka broker, a producer writing trades to `odin.trades` and recording what Kafka
 * acknowledged (acks=all), gateway processes ingesting them (`--ingest kafka`: one gateway on the
 * memory broker, or several in one consumer group on a nats-server's JetStream), real centrifuge
 * SDK clients subscribed throughout, and the Kafka broker killed (SIGKILL) and restarted while
 * the producer writes. At each kill some clients also drop their connection and come back with
 * recovery. Afterwards every client must hold every acknowledged record exactly once, in the
 * order produced, at consecutive offsets of one epoch (and, across gateways, the same offsets).
 */
import { randomBytes } from 'node:crypto';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { waitFor } from './wait.js';
import { createOdinTopics, startKafka, type LocalKafka } from './kafka.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { SdkSubscriber } from './sdk-subscriber.js';
import { judgeDeliveries, type DeliveryVerdict } from './delivery-verdict.js';
import { KafkaProducer } from '../../src/lib/kafka/client.js';

export interface KafkaChaosOptions {
  readonly kills: number;
  /** 'memory': one gateway (own group, memory broker); 'jetstream': `gateways` processes in one group on JetStream. */
  readonly broker: 'memory' | 'jetstream';
  readonly gateways?: number;
  /** Keys (channels `<key>.trade`) the producer cycles through. */
  readonly keys: number;
  /** SDK clients per key, spread over the gateways. */
  readonly clientsPerKey: number;
  /** How long Kafka stays down, ms. */
  readonly downMs: number;
  /** Acknowledged records between two kills. */
  readonly acksBetweenKills: number;
  /** Clients that drop their connection and recover at each kill (default 1). */
  readonly reconnectsPerKill?: number;
  /** Topic partitions (default 4). */
  readonly partitions?: number;
  readonly log?: (line: string) => void;
}

/** The verdict (delivery-verdict.ts: reordering counted among acknowledged records) and the run's figures. */
export interface KafkaChaosResult extends DeliveryVerdict {
  readonly kills: number;
  readonly acked: number;
  /** Sends that failed or timed out (not acknowledged: the record may or may not exist). */
  readonly unacknowledged: number;
  readonly clients: number;
  /** Per kill: `restart()` of the broker until it logged "Kafka Server started", ms. */
  readonly kafkaStartMs: readonly number[];
  /** Per kill: from SIGKILL to the acknowledgement of the first send started after it, ms. */
  readonly produceOutagesMs: readonly number[];
  /** After the last acknowledged record: until every client held it, ms. */
  readonly catchUpMs: number;
  /** The gateways' ingest counters at the end (summed): records found stored already, session restarts. */
  readonly ingest: { readonly published: number; readonly duplicates: number; readonly reconnects: number };
  readonly durationMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const seqOf = (d: unknown): number => (d as { data: { seq: number } }).data.seq;

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

export async function runKafkaChaos(o: KafkaChaosOptions): Promise<KafkaChaosResult> {
  const log = o.log ?? (() => {});
  const started = Date.now();
  const apiKey = 'chaos-' + randomBytes(6).toString('hex');
  let kafka: LocalKafka | undefined;
  let nats: NatsServerHandle | undefined;
  const gws: GatewayProcess[] = [];
  const subs: { key: string; s: SdkSubscriber }[] = [];
  let stop = false;
  let producing: Promise<void> = Promise.resolve();
  try {
    [kafka, nats] = await Promise.all([startKafka(), o.broker === 'jetstream' ? startNatsServer() : Promise.resolve(undefined)]);
    const k = kafka;
    await createOdinTopics(k.bootstrap, o.partitions ?? 4);
    const group = 'chaos-' + randomBytes(3).toString('hex');
    for (let g = 0; g < (o.broker === 'jetstream' ? (o.gateways ?? 2) : 1); g++) {
      const gw = await startGatewayProcess({
        natsUrl: nats?.url ?? '',
        apiKey,
        ...(o.broker === 'memory' ? { broker: 'memory' as const } : { workers: 1 }),
        extraArgs: ['--ingest', 'kafka', '--kafka-brokers', k.bootstrap, '--kafka-group', group],
        env: { NATS_STREAM: 'KCHAOS' },
      });
      gws.push(gw);
      await waitFor(async () => (await fetch(`${gw.url}/ready`)).status === 200, 60_000, 'gateway ready (kafka consuming)', {
        everyMs: 50,
      });
    }
    const tag = randomBytes(2).toString('hex').toUpperCase();
    const keys = Array.from({ length: o.keys }, (_, i) => `KX${tag}${i}`);
    for (const key of keys)
      for (let c = 0; c < o.clientsPerKey; c++) subs.push({ key, s: new SdkSubscriber(gws[c % gws.length]!.wsUrl, `${key}.trade`) });
    for (const { s } of subs) await s.waitFor(() => s.subscribed.length > 0, 20_000, 'subscribed');

    const acked = new Map<string, number[]>(keys.map((key) => [key, []]));
    let ackedTotal = 0;
    let unacknowledged = 0;
    let lastAckAt = 0;
    let lastAckSendAt = 0;
    producing = (async () => {
      let p = new KafkaProducer({ brokers: [k.bootstrap] });
      for (let seq = 1; !stop; seq++) {
        const key = keys[seq % keys.length]!;
        const sendAt = Date.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          const value = JSON.stringify({ type: 'TRADE_EXECUTED', timestamp: sendAt, data: { seq } });
          await Promise.race([
            p.send([{ topic: 'odin.trades', key, value, timestamp: sendAt }]),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('send timed out')), 5_000))),
          ]);
          acked.get(key)!.push(seq);
          ackedTotal++;
          lastAckAt = Date.now();
          lastAckSendAt = sendAt;
        } catch {
          // Not acknowledged: it may or may not exist. A fresh producer, so nothing is retried behind our back.
          unacknowledged++;
          await p.close().catch(() => {});
          p = new KafkaProducer({ brokers: [k.bootstrap] });
          await sleep(100);
        } finally {
          clearTimeout(timer);
        }
        await sleep(5);
      }
      await p.close().catch(() => {});
    })();

    const kafkaStartMs: number[] = [];
    const outages: number[] = [];
    let next = 0;
    for (let kill = 0; kill < o.kills; kill++) {
      const base = ackedTotal;
      await waitFor(() => ackedTotal >= base + o.acksBetweenKills, 120_000, `${o.acksBetweenKills} acknowledged before kill ${kill + 1}`, {
        everyMs: 50,
      });
      const killedAt = Date.now();
      await k.kill();
      // Clients leave while Kafka is down and come back with recovery.
      for (let r = 0; r < (o.reconnectsPerKill ?? 1) && subs.length > 0; r++) {
        const { s } = subs[next++ % subs.length]!;
        s.client.disconnect();
        s.client.connect();
      }
      await sleep(o.downMs);
      const t0 = Date.now();
      await k.restart();
      kafkaStartMs.push(Date.now() - t0);
      await waitFor(() => lastAckSendAt > killedAt, 180_000, `acknowledged again after kill ${kill + 1}`, { everyMs: 50 });
      outages.push(lastAckAt - killedAt);
      log(
        `kafka kill ${kill + 1}/${o.kills}: down ${o.downMs} ms, started in ${kafkaStartMs.at(-1)} ms; acknowledged again ${lastAckAt - killedAt} ms after the kill`,
      );
    }
    const tail = ackedTotal;
    await waitFor(() => ackedTotal >= tail + o.acksBetweenKills, 120_000, 'acknowledged after the last kill', { everyMs: 50 });
    stop = true;
    await producing;
    const doneAt = Date.now();
    const holdsLast = (key: string, s: SdkSubscriber): boolean => {
      const want = acked.get(key)!;
      const last = want[want.length - 1];
      return last === undefined || s.pubs.some((p) => seqOf(p.data) === last);
    };
    await waitFor(() => subs.every(({ key, s }) => holdsLast(key, s)), 180_000, 'every client holds the last acknowledged record', {
      everyMs: 50,
    });
    const catchUpMs = Date.now() - doneAt;

    const verdict = judgeDeliveries(
      subs.map(({ key, s }) => ({ channel: key, s, acked: acked.get(key)! })),
      seqOf,
      'acked',
    );
    const ingest = { published: 0, duplicates: 0, reconnects: 0 };
    for (const g of gws) {
      ingest.published += await metric(g.url, 'odin_ws_kafka_records_published_total');
      ingest.duplicates += await metric(g.url, 'odin_ws_kafka_records_duplicate_total');
      ingest.reconnects += await metric(g.url, 'odin_ws_kafka_reconnects_total');
    }
    return {
      kills: o.kills,
      acked: ackedTotal,
      unacknowledged,
      clients: subs.length,
      ...verdict,
      kafkaStartMs,
      produceOutagesMs: outages,
      catchUpMs,
      ingest,
      durationMs: Date.now() - started,
    };
  } finally {
    stop = true;
    await producing.catch(() => {});
    for (const { s } of subs) s.close();
    await Promise.all(gws.map((g) => g.stop()));
    await Promise.all([kafka?.stop(), nats?.stop()]);
  }
}
