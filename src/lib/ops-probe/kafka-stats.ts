/**
 * Kafka figures for `odin-ws stats`: the Odin topics (partitions, end offsets) and a consumer
 * group's committed offsets and lag, read with the project's Kafka client without joining the
 * group (src/lib/kafka/client.ts).
 */
import { KafkaAdmin, probeOffsets, describeError } from '../kafka/client.js';

/** Deadline of the whole Kafka read, ms (the client's own timeouts are longer). */
const KAFKA_STATS_TIMEOUT_MS = 5_000;

export interface KafkaTopicFigures {
  readonly topic: string;
  readonly partitions: number;
  /** Sum of the partitions' end offsets: records ever written (retention aside). */
  readonly endOffsets: number;
  /** Sum of the group's committed offsets (partitions without a commit count 0). */
  readonly committed: number;
  /** endOffsets − committed over partitions the group has committed on; null when it has none. */
  readonly lag: number | null;
}

export interface KafkaFigures {
  readonly group: string;
  readonly topics: readonly KafkaTopicFigures[];
}

export async function kafkaFigures(brokers: string, group: string): Promise<KafkaFigures | { error: string }> {
  const conn = {
    brokers: brokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    clientId: 'odin-ws-stats',
  };
  const admin = new KafkaAdmin(conn);
  let timer: NodeJS.Timeout | undefined;
  const work = (async (): Promise<KafkaFigures> => {
    const topics = await admin.listTopics();
    if (topics.length === 0) return { group, topics: [] };
    const { ends, committed } = await probeOffsets(conn, group, topics);
    return {
      group,
      topics: topics.map((topic) => {
        const e = ends.get(topic) ?? [];
        const c = committed.get(topic) ?? [];
        let lag: number | null = null;
        e.forEach((end, i) => {
          const done = c[i] ?? -1n;
          if (done >= 0n) lag = (lag ?? 0) + Number(end - done);
        });
        return {
          topic,
          partitions: e.length,
          endOffsets: e.reduce((s, x) => s + Number(x), 0),
          committed: c.reduce((s, x) => s + (x > 0n ? Number(x) : 0), 0),
          lag,
        };
      }),
    };
  })();
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${KAFKA_STATS_TIMEOUT_MS} ms`)), KAFKA_STATS_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    return { error: describeError(err) };
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
}
