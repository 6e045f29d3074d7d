/**
 * Publishes to the Odin Kafka topics: `trade:new` → odin.trades, ... (KAFKA_TOPIC_OF_CHANNEL_EVENT;
 * market-wide events → odin.analytics with key `market`). Key = token id, value = the event as
 * JSON (`{id, type, token, timestamp, source, data}`: the Odin `{type, timestamp, data}` plus
 * the id the gateway's ingest deduplicates by), Kafka timestamp = the event's.
 *
 * `connect()` creates the missing topics with the plans' partitions and retention and waits
 * until every partition has a leader; Kafka down at that moment is not fatal: it is retried
 * before the next batch. The producer is not idempotent (see lib/kafka/client.ts): a retried
 * request may write a record twice, and the ingest drops the copy by event id.
 */
import type { OdinEvent } from '../../protocol/events.js';
import { describeError, KafkaAdmin, KafkaProducer, type KafkaConnectionOptions } from '../../kafka/client.js';
import {
  DEFAULT_TOPIC_PARTITIONS,
  DEFAULT_TOPIC_REPLICAS,
  MARKET_KEY,
  ODIN_TOPICS,
  TOPIC_CONFIGS,
  topicOfType,
} from '../../kafka/topics.js';
import type { EventSink, SinkInfo, SinkResult } from './sink.js';

export interface KafkaSinkOptions {
  readonly connection: KafkaConnectionOptions;
  /** Partitions of topics created here (default 12). */
  readonly partitions?: number;
  /** Replicas of topics created here (default 1). */
  readonly replicas?: number;
}

/** Topic creation is retried at most this often while Kafka is down, ms. */
const ENSURE_RETRY_MS = 1_000;

export class KafkaSink implements EventSink {
  private producer: KafkaProducer | null = null;
  private topicsReady = false;
  private lastEnsure = 0;
  private connected = false;

  constructor(private readonly o: KafkaSinkOptions) {}

  async connect(): Promise<void> {
    this.producer = new KafkaProducer(this.o.connection);
    await this.ensureTopics().catch(() => undefined);
  }

  async publish(events: readonly OdinEvent[]): Promise<SinkResult> {
    const producer = this.producer;
    if (producer === null) return { published: 0, failed: events.length, error: 'kafka sink closed' };
    try {
      if (!this.topicsReady) await this.ensureTopics();
      await producer.send(
        events.map((e) => ({
          topic: topicOfType(e.type),
          key: e.token === '*' ? MARKET_KEY : e.token,
          value: JSON.stringify(e),
          timestamp: e.timestamp,
        })),
      );
      this.connected = true;
      return { published: events.length, failed: 0 };
    } catch (err) {
      this.connected = false;
      return { published: 0, failed: events.length, error: `kafka produce failed: ${describeError(err)}` };
    }
  }

  isConnected(): boolean {
    return this.connected;
  }

  info(): SinkInfo {
    return { kind: 'kafka', connected: this.connected, target: this.o.connection.brokers.join(',') };
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    this.connected = false;
    await p?.close().catch(() => undefined);
  }

  private async ensureTopics(): Promise<void> {
    if (Date.now() - this.lastEnsure < ENSURE_RETRY_MS) throw new Error('kafka unreachable (topics not created yet)');
    this.lastEnsure = Date.now();
    const admin = new KafkaAdmin(this.o.connection);
    try {
      await admin.ensureTopics(
        ODIN_TOPICS.map((t) => ({
          topic: t.topic,
          partitions: this.o.partitions ?? DEFAULT_TOPIC_PARTITIONS,
          replicas: this.o.replicas ?? DEFAULT_TOPIC_REPLICAS,
          configs: { ...TOPIC_CONFIGS, 'retention.ms': String(t.retentionMs) },
        })),
      );
      this.topicsReady = true;
      this.connected = true;
    } finally {
      await admin.close().catch(() => undefined);
    }
  }
}
