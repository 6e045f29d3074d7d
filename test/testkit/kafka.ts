/**
 * Test-only: one real single-node Kafka broker (KRaft) per test file, on free loopback ports.
 * Starting one takes a few seconds, so a file starts it in `before()` and stops it in `after()`;
 * tests in the file use their own topics or consumer groups.
 */
import { KafkaAdmin } from '../../src/lib/kafka/client.js';
import { DEFAULT_TOPIC_PARTITIONS, ODIN_TOPICS, TOPIC_CONFIGS } from '../../src/lib/kafka/topics.js';
import { startLocalKafka, type LocalKafka, type LocalKafkaOptions } from '../../src/lib/kafka-local/local-broker.js';

export type { LocalKafka };

/** Formats a temp storage dir and starts a broker; resolves once it is ready. */
export function startKafka(o: LocalKafkaOptions = {}): Promise<LocalKafka> {
  return startLocalKafka(o);
}

/** Creates the Odin topics (`partitions` each, default 12) and waits for their leaders. */
export async function createOdinTopics(bootstrap: string, partitions = DEFAULT_TOPIC_PARTITIONS): Promise<void> {
  const admin = new KafkaAdmin({ brokers: [bootstrap] });
  try {
    await admin.ensureTopics(
      ODIN_TOPICS.map((t) => ({
        topic: t.topic,
        partitions,
        replicas: 1,
        configs: { ...TOPIC_CONFIGS, 'retention.ms': String(t.retentionMs) },
      })),
    );
  } finally {
    await admin.close();
  }
}
