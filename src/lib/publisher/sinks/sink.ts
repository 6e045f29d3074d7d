/**
 * The sink seam: where generated events go. A sink gets events in batches (one per scheduler
 * tick) and says how many it delivered. Implementations: `GatewaySink` (the gateway's HTTP
 * publish API), `NatsSink` (core NATS or JetStream), `KafkaSink`, `MemorySink` (tests, embedding).
 * `KafkaSink` writes the Odin Kafka topics (KAFKA_TOPIC_OF_CHANNEL_EVENT).
 *
 * Guarantees every sink gives:
 *  - Events of one batch are sent in order; batches may overlap in flight (the publisher
 *    bounds how many), so order across batches is not guaranteed.
 *  - Each event carries its `id` as the idempotency key where the target supports one, so a
 *    retry upstream cannot duplicate it.
 *  - `publish()` never rejects: failures are reported in the result and counted.
 *  - `close()` waits for nothing new and is idempotent.
 */
import type { OdinEvent } from '../../protocol/events.js';

export type SinkKind = 'gateway' | 'nats' | 'kafka' | 'memory';

export interface SinkResult {
  /** Events the target accepted. */
  readonly published: number;
  /** Events it refused or that could not be sent. */
  readonly failed: number;
  /** The first failure of the batch, for logs and /stats. */
  readonly error?: string;
}

export interface SinkInfo {
  readonly kind: SinkKind;
  readonly connected: boolean;
  /** Where it publishes (URL without credentials), for /health. */
  readonly target: string;
  /** JetStream rather than core NATS (nats sink only). */
  readonly jetstream?: boolean;
}

export interface EventSink {
  /**
   * Prepares the sink. Rejects only on configuration that can never work; a target that is
   * merely down is reported by `isConnected()` and retried.
   */
  connect(): Promise<void>;
  publish(events: readonly OdinEvent[]): Promise<SinkResult>;
  /** True while the target is reachable (as far as the sink knows). Cheap. */
  isConnected(): boolean;
  info(): SinkInfo;
  close(): Promise<void>;
}
